"""Parsing untrusted JSON with limits on depth, list length and object size.

Every JSON body that reaches us from another server (inbox POSTs, fetched
documents, WebFinger, NodeInfo) goes through ``loads_bounded``. The byte size is
capped before this point (1 MiB); here we refuse shapes that are small on the
wire but expensive to hold or walk: deep nesting (CPython's ``json`` recurses, so
``[[[[...]]]]`` can raise RecursionError from deep inside the parser), huge lists
(one ``to`` with 100,000 entries fans out into 100,000 deliveries) and huge objects.

Strings must also be storable: JSON text may spell a lone UTF-16 surrogate
(``"\\ud800"``), which Python parses into a string that cannot be encoded as
UTF-8, so every later write of it (SQLite, PostgreSQL, a log file) raises.  Such
a document is refused here, while parsing, with a reason, like any malformed one.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from node.errors import InvalidDocument

MAX_DEPTH = 64
MAX_LIST = 10_000
MAX_KEYS = 10_000

# A JSON string literal, written so the regex engine never backtracks. An
# unterminated string runs to the end of the text: otherwise every later quote
# would restart the scan and input like '"\\"\\"\\"...' would take quadratic time.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
# A \u escape of a UTF-16 surrogate (D800-DFFF): only documents holding one need their strings checked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON; Python accepts them, peers do not."""
    raise InvalidDocument(f"invalid JSON: {name} is not allowed")


# One decoder for every document: json.loads with an argument builds a decoder (and its scanner) per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _max_depth(text: str) -> int:
    """Deepest bracket nesting outside string literals, in one linear pass (no recursion)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)))


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidDocument("invalid JSON: a string holds a lone UTF-16 surrogate (not Unicode text)") from None


def _check_shape(value: Any, max_depth: int, max_list: int, max_keys: int, check_strings: bool = False) -> None:
    """Walk the parsed value iteratively and enforce the limits (depth again, as a backstop).

    With ``check_strings``, every key and string must also be encodable as UTF-8.
    """
    if check_strings and isinstance(value, str):
        _check_string(value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise InvalidDocument(f"JSON nested deeper than {max_depth} levels")
        if isinstance(node, dict):
            if len(node) > max_keys:
                raise InvalidDocument(f"JSON object with more than {max_keys} keys")
            children = node.values()
            if check_strings:
                for key in node:
                    _check_string(key)
        elif isinstance(node, list):
            if len(node) > max_list:
                raise InvalidDocument(f"JSON list longer than {max_list} items")
            children = node
        else:
            continue
        if check_strings:
            for child in children:
                if isinstance(child, str):
                    _check_string(child)
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def loads_bounded(data: bytes | str, *, max_depth: int = MAX_DEPTH, max_list: int = MAX_LIST,
                  max_keys: int = MAX_KEYS) -> Any:
    """Parse JSON from a remote peer, refusing malformed, too deep, too long or too wide documents.

    Raises InvalidDocument with a reason that is safe to send back to the peer.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidDocument(f"invalid JSON: not UTF-8 (byte {exc.start})") from None
    elif isinstance(data, str):
        text = data
    else:
        raise InvalidDocument("invalid JSON: expected bytes or str")
    if text.startswith("\ufeff"):
        text = text[1:]  # RFC 8259 §8.1 lets parsers ignore a byte order mark
    # Refuse deep nesting before parsing, so the parser never recurses that deep.  Fewer
    # opening brackets than the limit cannot nest past it, which spares the scan for
    # nearly every real document (C-speed counting instead of two regex passes).
    if text.count("[") + text.count("{") > max_depth and _max_depth(text) > max_depth:
        raise InvalidDocument(f"JSON nested deeper than {max_depth} levels")
    try:
        if text.startswith("\ufeff"):  # a second one: what json.loads says of it
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
        value = _DECODER.decode(text)
    except RecursionError:
        # Only reachable if the pre-scan was fooled by malformed input; never let it escape.
        raise InvalidDocument(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:
        # JSONDecodeError, and the int-from-string digit limit (CVE-2020-10735) on huge numbers.
        raise InvalidDocument(f"invalid JSON: {str(exc)[:200]}") from None
    # Decoded bytes cannot hold a surrogate; only a \\uD8xx-style escape can make one.
    check_strings = _SURROGATE_ESCAPE.search(text) is not None or isinstance(data, str)
    _check_shape(value, max_depth, max_list, max_keys, check_strings)
    return value


def loads_object(data: bytes | str, *, max_depth: int = MAX_DEPTH, max_list: int = MAX_LIST,
                 max_keys: int = MAX_KEYS) -> dict[str, Any]:
    """Like ``loads_bounded`` but the document must be a JSON object (as every AS2 document is)."""
    value = loads_bounded(data, max_depth=max_depth, max_list=max_list, max_keys=max_keys)
    if not isinstance(value, dict):
        raise InvalidDocument(f"expected a JSON object, got {type(value).__name__}")
    return value
