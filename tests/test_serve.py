"""``fednode serve``: where it listens, which public URL it uses, and a busy port explained."""

from __future__ import annotations

import json
import socket

import pytest

from node.config import load
from tests.support import free_port
from tests.cli_support import fednode, serve_and_get, write


def test_development_base_url_follows_the_listening_port():
    """Without a configured base_url, the public URL is http://localhost:<listen_port>."""
    # Given no config file and no base_url anywhere
    # When the settings are loaded with another port
    settings = load(environ={}, overrides={"listen_port": "8093"}, read_default_file=False)
    # Then the base URL is on that port, and the node knows it is a development node
    assert settings.base_url == "http://localhost:8093"
    assert settings.is_development


def test_configured_base_url_is_kept_whatever_the_port():
    """A base_url given in the environment (or file, or flag) is used as it is."""
    # Given a configured base URL
    # When the port changes
    settings = load(environ={"FEDNODE_BASE_URL": "https://forum.example.org"}, overrides={"listen_port": "8093"},
                    read_default_file=False)
    # Then the public URL stays the configured one
    assert settings.base_url == "https://forum.example.org"
    assert not settings.is_development


def test_development_node_on_another_port_links_to_that_port(tmp_path):
    """`fednode serve --listen-port P` on a development node publishes ids under http://localhost:P."""
    # Given an empty folder and a free port that is not 8080
    port = free_port()
    # When the node serves there and its site actor is read
    status, body, stdout = serve_and_get(tmp_path, port, path="/actors/forum", accept="application/activity+json")
    # Then the actor's id and inbox are on the port it listens on, and the startup line says so
    actor = json.loads(body)
    assert status == 200
    assert actor["id"] == f"http://localhost:{port}/actors/forum"
    assert actor["inbox"].startswith(f"http://localhost:{port}/")
    assert f"(public URL http://localhost:{port})" in stdout
    assert "note:" not in stdout


def test_configured_node_says_when_public_url_differs_from_the_listening_address(tmp_path):
    """A node whose base_url is not where it listens says so clearly at startup."""
    # Given a configured public URL behind a proxy
    port = free_port()
    # When the node serves on a local port
    status, _, stdout = serve_and_get(tmp_path, port, "--base-url", "https://forum.example.org", host="forum.example.org")
    # Then it answers and explains that links use the public URL, which must forward to the port
    assert status == 200
    assert "note: the public URL https://forum.example.org (base_url) is not this listening address" in stdout
    assert f"forward to 127.0.0.1:{port}" in stdout


def test_busy_port_is_explained_before_claiming_to_be_ready(tmp_path):
    """When the port is taken, serve exits 2 with what to do, without a traceback or a "ready" line."""
    # Given a port something already listens on
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # When fednode serve is told to use it
        result = fednode(tmp_path, "serve", "--listen-port", str(port))
    # Then it fails with the reason and the flag to use instead, and never said it was ready
    assert result.returncode == 2
    assert f"fednode: cannot listen on 127.0.0.1:{port}: port {port} is already in use" in result.stderr
    assert f"--listen-port {port + 1}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "node ready" not in result.stderr + result.stdout
    assert "listening" not in result.stdout


@pytest.mark.parametrize("how", [["demo"], ["serve", "--demo"]])
def test_demo_refuses_a_node_with_a_public_base_url(tmp_path, how):
    """`fednode demo` on a production node (public base_url) refuses, before touching the database."""
    # Given a node configured for a public URL
    write(tmp_path, "fednode.toml", 'base_url = "https://forum.example.org"\n')
    # When the demo is asked for
    result = fednode(tmp_path, *how, "--listen-port", str(free_port()))
    # Then it refuses, says why and how to get it anyway, and seeded nothing
    assert result.returncode == 2
    assert "refusing to seed the demo discussion on https://forum.example.org" in result.stderr
    assert "--force" in result.stderr
    assert not (tmp_path / "fednode.db").exists()


def test_demo_with_force_seeds_a_node_with_a_public_base_url(tmp_path):
    """--force is the operator saying they mean it: the demo is seeded and served."""
    # Given a node configured for a public URL
    port = free_port()
    # When the demo is forced
    status, body, stdout = serve_and_get(tmp_path, port, "--base-url", "https://forum.example.org", "--demo", "--force",
                                         path="/articles/welcome-to-the-forum", host="forum.example.org")
    # Then the sample article is there
    assert status == 200
    assert "demo article seeded: https://forum.example.org/articles/welcome-to-the-forum" in stdout
    assert "Welcome to the forum" in body
