"""Text in and out: Markdown inside Mastodon's allowlist, HTML sanitizing, front matter and slugs."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from node.content import ContentError, parse_post, render_markdown, sanitize_html, slugify

# Mastodon's sanitizer allowlist (Mastodon's lib/sanitize_ext/sanitize_config.rb, 4.2 and later), written out here rather than imported.
MASTODON_TAGS = {
    "p", "span", "br", "a", "del", "pre", "code", "em", "strong", "b", "i", "u",
    "ul", "ol", "li", "blockquote",
}
MASTODON_ATTRIBUTES = {"a": {"href", "rel", "class"}, "span": {"class"}, "ol": {"start", "reversed"}, "li": {"value"}}
REL = 'rel="nofollow noopener noreferrer"'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """Every start tag of ``html`` with its attributes."""
    parser = _Tags()
    parser.feed(html)
    return parser.found


def post(front_matter: str, body: str = "Body text.") -> str:
    """A Markdown file with this front matter."""
    return f"---\n{front_matter}\n---\n{body}\n"


# --- Markdown -------------------------------------------------------------------------

MARKDOWN_CASES = [
    ("# Title", "<h2>Title</h2>"),  # the page's title is its only <h1>
    ("## Section", "<h2>Section</h2>"),
    ("### Small title", "<h3>Small title</h3>"),
    ("![a cat on a mat](https://example.org/cat.png)", '<img src="https://example.org/cat.png" alt="a cat on a mat" loading="lazy">'),
    ("| a | b |\n|---|---|\n| 1 | 2 |", "<table>\n<thead>\n<tr>\n<th>a</th>"),
    ("<b>raw</b>", "&lt;b&gt;raw&lt;/b&gt;"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("[site](https://example.org)", '<a href="https://example.org">site</a>'),  # the operator's link: no nofollow
    ("*em* **strong** ~~no~~ `code`", "<em>em</em> <strong>strong</strong> <del>no</del> <code>code</code>"),
    ("> quoted", "<blockquote>"),
    ("```python\nx < y\n```", '<pre><code class="language-python">x &lt; y'),
    ("3. three\n4. four", '<ol start="3">'),
    ("text\n\n---\n\nmore", "<hr>"),
]
# What the operator's articles may hold (node.content.ARTICLE_TAGS), written out here rather than imported.
ARTICLE_TAGS = MASTODON_TAGS | {"h2", "h3", "h4", "h5", "h6", "img", "hr", "sup", "sub", "table", "thead", "tbody", "tr", "th", "td"}
ARTICLE_ATTRIBUTES = {**MASTODON_ATTRIBUTES, "a": {"href", "class", "title"}, "img": {"src", "alt", "title", "loading"},
                      "code": {"class"}}


@pytest.mark.parametrize("source, expected", MARKDOWN_CASES)
def test_markdown_keeps_the_structure_the_operator_wrote(source, expected):
    """The operator's Markdown keeps headings, pictures with alt text, tables and code blocks (issue 16.17)."""
    # Given a Markdown snippet
    # When it is rendered
    html = render_markdown(source)
    # Then the expected HTML is there
    assert expected in html


@pytest.mark.parametrize("source", [source for source, _ in MARKDOWN_CASES] + [
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    '![x" onerror="alert(1)](https://example.org/a.png "t\" onload=\"x")',
    "<iframe src='https://evil.example'></iframe>",
    "| <script>x</script> | b |\n|---|---|\n| 1 | 2 |",
])
def test_markdown_output_stays_inside_the_allowlist(source):
    """Whatever the Markdown, the HTML uses only the article allowlist's tags and attributes."""
    # Given any Markdown
    # When it is rendered
    html = render_markdown(source)
    # Then every tag and attribute is allowed
    for tag, attributes in tags_of(html):
        assert tag in ARTICLE_TAGS, (source, tag)
        assert set(attributes) <= ARTICLE_ATTRIBUTES.get(tag, set()), (source, tag, attributes)
        assert not any((value or "").lower().startswith("javascript:") for value in attributes.values()), source


def test_markdown_javascript_link_is_not_a_link():
    """A javascript: link in Markdown never becomes an href."""
    # Given a Markdown link to javascript:
    # When it is rendered
    html = render_markdown("[click](javascript:alert(1))")
    # Then no href carries it
    assert "href" not in html


# --- sanitizing HTML -------------------------------------------------------------------

SANITIZE_CASES = [
    ("script removed with its content", "<p>ok</p><script>alert(1)</script>", "<p>ok</p>"),
    ("style removed with its content", "<style>p{color:red}</style><p>ok</p>", "<p>ok</p>"),
    ("event handlers removed", '<p onclick="alert(1)" onmouseover="x()">ok</p>', "<p>ok</p>"),
    ("style attribute removed", '<span style="color:red">ok</span>', "<span>ok</span>"),
    ("javascript: link loses its href", '<a href="javascript:alert(1)">x</a>', f"<a {REL}>x</a>"),
    ("data: link loses its href", '<a href="data:text/html,hi">x</a>', f"<a {REL}>x</a>"),
    ("https link kept with rel", '<a href="https://e.org/">x</a>', f'<a href="https://e.org/" {REL}>x</a>'),
    ("gemini link kept", '<a href="gemini://e.org/">x</a>', f'<a href="gemini://e.org/" {REL}>x</a>'),
    ("rel and target replaced", '<a href="https://e.org/" rel="me" target="_blank">x</a>', f'<a href="https://e.org/" {REL}>x</a>'),
    ("microformat classes kept", '<span class="h-card p-name evil">x</span>', '<span class="h-card p-name">x</span>'),
    ("mastodon classes kept", '<a href="https://e.org/" class="mention hashtag u-url big">x</a>',
     f'<a href="https://e.org/" class="mention hashtag u-url" {REL}>x</a>'),
    ("only-bad classes dropped", '<span class="evil">x</span>', "<span>x</span>"),
    ("classes on other tags dropped", '<p class="h-entry">x</p>', "<p>x</p>"),
    ("img dropped", '<p>a<img src="x" onerror="alert(1)">b</p>', "<p>ab</p>"),
    ("iframe dropped with content", "<iframe src=x>inner</iframe><p>ok</p>", "<p>ok</p>"),
    ("list attributes kept", '<ol start="3" reversed type="a"><li value="5">x</li></ol>',
     '<ol start="3" reversed=""><li value="5">x</li></ol>'),
    ("comments dropped", "<p>a<!-- secret -->b</p>", "<p>ab</p>"),
]


@pytest.mark.parametrize("case, html, expected", SANITIZE_CASES, ids=[case for case, _, _ in SANITIZE_CASES])
def test_sanitize_html(case, html, expected):
    """sanitize_html keeps Mastodon's allowlist and nothing else."""
    # Given remote HTML
    # When it is sanitized
    cleaned = sanitize_html(html)
    # Then only the allowed parts remain
    assert cleaned == expected


def test_sanitize_html_is_idempotent():
    """Sanitizing sanitized HTML changes nothing (stored HTML can be re-sanitized safely)."""
    # Given HTML that was sanitized once
    once = sanitize_html('<p class="x">a <a href="https://e.org" class="mention">b</a><script>c</script></p>')
    # When it is sanitized again
    twice = sanitize_html(once)
    # Then it is the same
    assert twice == once


# --- front matter ----------------------------------------------------------------------

def test_front_matter_fields_are_read():
    """title, slug, tags and language come from the front matter and the body from the rest."""
    # Given a complete post
    text = post("title: Hello, fediverse\nslug: hello\ntags: [fediverse, forums]\nlanguage: pt-BR", "The *text*.")
    # When it is parsed
    draft = parse_post(text)
    # Then every field is there
    assert (draft.title, draft.slug, draft.tags, draft.language, draft.body) == (
        "Hello, fediverse", "hello", ["fediverse", "forums"], "pt-BR", "The *text*.",
    )


@pytest.mark.parametrize("tags, expected", [
    ("[fediverse, forums]", ["fediverse", "forums"]),
    ("fediverse, forums", ["fediverse", "forums"]),
    ("fediverse forums", ["fediverse", "forums"]),
    ("'#fediverse #forums'", ["fediverse", "forums"]),
    ("[Fediverse, fediverse, FORUMS]", ["Fediverse", "FORUMS"]),
    ("[café, 日本]", ["café", "日本"]),
    ("[2024]", ["2024"]),
])
def test_tags_as_list_or_string(tags, expected):
    """Tags may be a YAML list or a string split on commas and spaces; '#' and repeats are dropped."""
    # Given tags written in some form
    # When the post is parsed
    draft = parse_post(post(f"title: T\ntags: {tags}"))
    # Then they are a clean list
    assert draft.tags == expected


def test_missing_tags_and_language_default_to_none():
    """A post with only a title has no tags, no language and a slug from its title."""
    # Given a post with just a title
    # When it is parsed
    draft = parse_post(post("title: Just a Title"))
    # Then the optional fields are empty
    assert (draft.tags, draft.language, draft.slug) == ([], None, "just-a-title")


@pytest.mark.parametrize("language", ["en", "pt-BR", "zh-Hant-TW", "fil"])
def test_valid_language_tags_are_accepted(language):
    """BCP 47 style language tags are accepted as written."""
    # Given a post with a language
    # When it is parsed
    draft = parse_post(post(f"title: T\nlanguage: {language}"))
    # Then the language is kept
    assert draft.language == language


@pytest.mark.parametrize("language", ["english language", "e", "en_US", "123", "'en-'"])
def test_invalid_language_is_refused(language):
    """A language that is not a language tag is refused, naming the field."""
    # Given a post with a bad language
    # When it is parsed
    with pytest.raises(ContentError) as caught:
        parse_post(post(f"title: T\nlanguage: {language}"), origin="p.md")
    # Then the error names the language field
    assert caught.value.reason.startswith("p.md: language ")


@pytest.mark.parametrize("text, message", [
    (post("slug: x"), "front matter needs a 'title'"),
    (post("title: ''"), "front matter needs a 'title'"),
    (post("title: T\ncolour: red\nsize: 2"), "unknown front matter field(s): colour, size"),
    ("---\ntitle: T\nBody\n", "front matter is not closed"),
    ("No front matter\n", "must start with front matter"),
    (post("title: T\nslug: Bad Slug"), "slug 'Bad Slug' must be lowercase"),
    (post("title: T\nslug: double--dash"), "slug 'double--dash' must be lowercase"),
    (post("title: T\nslug: " + "a" * 81), "(at most 80)"),
    (post("title: T\ntags: {a: 1}"), "tags must be a list"),
    (post("title: T\ntags: [has space]"), "tag 'has space' must be letters"),
    (post("title: [unclosed"), "front matter is not valid YAML"),
    (post("tags: [a]\ntitle: Python: a guide"), "not valid YAML on line 3: mapping values are not allowed here (put a value"),
    (post("- just\n- a list"), "front matter must be 'key: value' lines"),
    (post("title: 日本語のタイトル"), "the title gives no URL slug; add a line such as 'slug: my-first-post'"),
    (post("title: T", ""), "the article has no text"),
])
def test_bad_front_matter_names_the_problem(text, message):
    """Each front-matter mistake is a ContentError whose reason names the file and what to fix."""
    # Given a post with one mistake
    # When it is parsed
    with pytest.raises(ContentError) as caught:
        parse_post(text, origin="post.md")
    # Then the reason says what is wrong, in that file
    assert caught.value.reason.startswith("post.md: ")
    assert message in caught.value.reason


def test_numeric_slug_is_accepted():
    """A slug that YAML reads as a number is still a slug."""
    # Given `slug: 2024`
    # When the post is parsed
    draft = parse_post(post("title: T\nslug: 2024"))
    # Then the slug is the text "2024"
    assert draft.slug == "2024"


def test_byte_order_mark_is_ignored():
    """A file saved with a UTF-8 byte order mark parses like one without."""
    # Given a post starting with a BOM
    # When it is parsed
    draft = parse_post("\ufeff" + post("title: T"))
    # Then the front matter was found
    assert draft.title == "T"


@pytest.mark.parametrize("title, slug", [
    ("Hello, World!", "hello-world"),
    ("Ça va? Très bien!", "ca-va-tres-bien"),
    ("Ünïcödé  Títlé", "unicode-title"),
    ("  --Leading and trailing--  ", "leading-and-trailing"),
    ("Ｆｕｌｌｗｉｄｔｈ ５", "fullwidth-5"),
    ("日本語", ""),
    ("x" * 100, "x" * 80),
])
def test_slugify(title, slug):
    """slugify folds accents to ASCII, joins words with '-' and caps the length at 80."""
    # Given a title
    # When it is slugified
    # Then the slug is URL-safe ASCII
    assert slugify(title) == slug


def test_slug_from_unicode_title_is_used_by_parse_post():
    """A post without a slug gets the slug of its (accented) title."""
    # Given a post with an accented title and no slug
    # When it is parsed
    draft = parse_post(post('title: "Éditorial: l\'été arrive"'))
    # Then the slug comes from the title
    assert draft.slug == "editorial-l-ete-arrive"


@pytest.mark.parametrize("source, expected", [
    ("## Title", "<p><strong>Title</strong></p>"),
    ("![a cat](https://example.org/cat.png)", f'<a href="https://example.org/cat.png" {REL}>a cat</a>'),
])
def test_what_other_servers_get_stays_in_mastodons_allowlist(source, expected):
    """The Article sent out keeps to what Mastodon shows: headings bold, pictures as links named by their alt text."""
    from node.content import render_markdown_for_fediverse

    # Given the operator's Markdown
    # When it is rendered for other servers
    html = render_markdown_for_fediverse(source)
    # Then it is the Mastodon-shaped HTML
    assert expected in html
    assert all(tag in MASTODON_TAGS for tag, _ in tags_of(html))
