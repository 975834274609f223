"""Bounded JSON parsing of untrusted documents (JSON bombs: CPython's json recurses, CVE-2020-10735's digit limit)."""

from __future__ import annotations

import json
import time

import pytest

from node.errors import InvalidDocument
from node.federation.jsonlimits import MAX_DEPTH, loads_bounded, loads_object


@pytest.mark.parametrize("text, expected", [
    ('{"id": "https://example.com/a", "type": "Note"}', {"id": "https://example.com/a", "type": "Note"}),
    ("[1, 2.5, true, null]", [1, 2.5, True, None]),
    ('"just a string"', "just a string"),
    ('{"s": "[[[{{{ not nesting \\" ]]]"}', {"s": '[[[{{{ not nesting " ]]]'}),
    ('\ufeff{"bom": 1}', {"bom": 1}),
    ('{"é": "ü\\u00e9"}', {"é": "üé"}),
])
def test_valid_documents_parse(text, expected):
    """Ordinary JSON (str or UTF-8 bytes) parses to the same value as json.loads."""
    assert loads_bounded(text) == expected
    assert loads_bounded(text.encode("utf-8")) == expected


@pytest.mark.parametrize("opening, closing", [("[", "]"), ('{"a":', "}")])
def test_100000_deep_nesting_is_refused_fast(opening, closing):
    """A 100,000-deep document is refused in well under a second, without RecursionError."""
    text = opening * 100_000 + closing * 100_000
    started = time.perf_counter()
    with pytest.raises(InvalidDocument, match="deeper"):
        loads_bounded(text)
    assert time.perf_counter() - started < 0.5


def test_unclosed_deep_nesting_is_refused():
    """Deep nesting that never closes (truncated bomb) is refused as too deep, not crashed on."""
    with pytest.raises(InvalidDocument):
        loads_bounded("[" * 200_000)


@pytest.mark.parametrize("depth, ok", [(MAX_DEPTH, True), (MAX_DEPTH + 1, False)])
def test_depth_limit_boundary(depth, ok):
    """Exactly max_depth levels are allowed, one more is refused."""
    text = "[" * depth + "]" * depth
    if ok:
        assert loads_bounded(text) is not None
    else:
        with pytest.raises(InvalidDocument, match="deeper"):
            loads_bounded(text)


def test_brackets_inside_strings_do_not_count_as_depth():
    """The pre-scan skips string literals, escaped quotes included."""
    text = json.dumps({"content": "[" * 10_000 + '\\"' + "{" * 10_000})
    assert loads_bounded(text)["content"].startswith("[[[")


@pytest.mark.parametrize("size, ok", [(10_000, True), (10_001, False)])
def test_list_length_limit(size, ok):
    """A list of max_list items is fine, one more is refused (wherever it is nested)."""
    text = json.dumps({"to": [{"id": str(i)} for i in range(size)]})
    if ok:
        assert len(loads_bounded(text)["to"]) == size
    else:
        with pytest.raises(InvalidDocument, match="list longer"):
            loads_bounded(text)


@pytest.mark.parametrize("size, ok", [(10_000, True), (10_001, False)])
def test_key_count_limit(size, ok):
    """An object with max_keys keys is fine, one more is refused."""
    text = json.dumps({"inner": {f"k{i}": i for i in range(size)}})
    if ok:
        assert len(loads_bounded(text)["inner"]) == size
    else:
        with pytest.raises(InvalidDocument, match="keys"):
            loads_bounded(text)


def test_custom_limits():
    """The limits are parameters."""
    with pytest.raises(InvalidDocument):
        loads_bounded("[[1]]", max_depth=1)
    with pytest.raises(InvalidDocument):
        loads_bounded("[1, 2, 3]", max_list=2)
    with pytest.raises(InvalidDocument):
        loads_bounded('{"a": 1, "b": 2}', max_keys=1)


@pytest.mark.parametrize("data", [
    b'{"name": "\xff\xfe"}',           # not UTF-8
    b'{"name": "\xed\xa0\x80"}',       # an encoded surrogate is not UTF-8 either
    b"\xff\xfe{\x00}\x00",              # UTF-16: RFC 8259 wants UTF-8 between systems
    b"{'single': 'quotes'}",
    b'{"a": 1,}',
    b"",
    b'{"a": NaN}',
    b"[Infinity]",
    b"1" * 5000,                        # int-from-string digit limit (CVE-2020-10735)
    b'{"a": 1} trailing',
])
def test_malformed_input_is_refused(data):
    """Bad UTF-8, invalid JSON, NaN/Infinity and oversized integers raise InvalidDocument."""
    with pytest.raises(InvalidDocument, match="invalid JSON"):
        loads_bounded(data)


def test_pathological_escapes_are_linear():
    """An unterminated string full of escaped quotes does not make the pre-scan quadratic."""
    started = time.perf_counter()
    with pytest.raises(InvalidDocument):
        loads_bounded('"' + '\\"' * 500_000)
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("text", ["[]", '"string"', "42", "null", '[{"id": "x"}]'])
def test_loads_object_requires_an_object(text):
    """AS2 documents are JSON objects; anything else at the top level is refused."""
    with pytest.raises(InvalidDocument, match="expected a JSON object"):
        loads_object(text)


def test_loads_object_returns_the_dict():
    """A top-level object comes back as a dict."""
    assert loads_object(b'{"type": "Note"}') == {"type": "Note"}
