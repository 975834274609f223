"""A fresh node answers on its port."""


async def test_fresh_node_answers_on_its_port(node, http):
    """The index page of a just-started node is served over real HTTP."""
    async with http.get(node.url("/")) as response:
        assert response.status == 200
        assert "Articles" in await response.text()
