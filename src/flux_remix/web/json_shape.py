"""`JsonShape`: the nesting depth and value count of a JSON body, measured as it streams in.

Parsing a JSON body costs time and memory per value, not per byte: 30 MB of `[[],[],…]` is
7.5 million lists, close to a gigabyte once parsed. Before any parser sees a body, `BodyLimit`
feeds its chunks through a `JsonShape`, which follows only the structure (brackets, commas and
where strings start and end) and stops the request as soon as the body nests deeper than
`FLUX_REMIX_MAX_JSON_DEPTH` or holds more than `FLUX_REMIX_MAX_JSON_VALUES` values. Depth is
judged conservatively within a chunk (at most the real depth plus the depth of the pairs that
open and close inside it: both small for real requests). A body that passes parses in bounded
time and memory; one that fails is refused after reading only as far as the first chunk over.

Commas inside strings are not values, and a `[` inside a prompt does not nest: only structure
outside strings counts. `NaN` and `Infinity` (which Python's parsers accept, though JSON has no
such numbers) are refused here too, with a 422 naming the field they were given for, so no route
can be reached by one. Other malformed JSON is left to the parser to word its own error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flux_remix.web.errors import Problem

# a whole string (escapes included) and the rest of one that started before this chunk
_STRINGS = re.compile(rb'"[^"\\]*(?:\\[\s\S][^"\\]*)*"')
_STRING_REST = re.compile(rb'[^"\\]*(?:\\[\s\S][^"\\]*)*')
_BRACKETS = bytes.maketrans(b"[{]}", b"(())")
_NOT_BRACKETS = bytes(c for c in range(256) if c not in b"[{]}")
_NON_FINITE = re.compile(rb"NaN|Infinity")
_NAMED_NON_FINITE = re.compile(rb'"((?:[^"\\]|\\.){1,100})"\s*:\s*-?(?:NaN|Infinity)')


@dataclass(frozen=True)
class ShapeLimits:
    max_depth: int
    max_values: int


class JsonShape:
    """Feed it a body's chunks in order; `problem` says what limit the body passed, if any.

    Every step is a C-level bytes or regex operation over the whole chunk (strings cut out,
    commas counted, brackets reduced pair by pair), never a Python loop per character, so a
    chunk of structure costs about what a chunk of base64 does."""

    def __init__(self, limits: ShapeLimits) -> None:
        self.limits = limits
        self.depth = 0
        self.values = 1  # the top-level value
        self.in_string = False
        self.escaped = False  # a string's backslash ended the last chunk
        self.tail = b""  # the last bytes of structure, for a NaN cut in two by chunks
        self.problem: Problem | None = None

    def feed(self, chunk: bytes) -> Problem | None:
        """Scan one more chunk; the answer for a body over a limit, or None while within."""
        if self.problem is None:
            self.problem = self._feed(chunk)
        return self.problem

    def _feed(self, chunk: bytes) -> Problem | None:
        if not chunk:
            return None
        at = 0
        if self.in_string:
            at = 1 if self.escaped else 0
            end = _STRING_REST.match(chunk, at)
            at = end.end() if end else at
            if at >= len(chunk) or chunk[at] == 0x5C:  # the string goes on in the next chunk
                self.escaped = at < len(chunk)
                return None
            self.in_string, self.escaped = False, False
            at += 1  # the closing quote
        structure = _STRINGS.sub(b"", chunk[at:] if at else chunk)
        opening = structure.find(b'"')
        if opening >= 0:  # a string that ends in a later chunk
            tail = structure[opening + 1 :]
            trailing = len(tail) - len(tail.rstrip(b"\\"))
            self.in_string, self.escaped = True, trailing % 2 == 1
            structure = structure[:opening]
        if _NON_FINITE.search(self.tail + structure[:16]) or _NON_FINITE.search(structure):
            return non_finite(chunk)
        self.tail = structure[-8:]
        self.values += structure.count(b",")
        if self.values > self.limits.max_values:
            return too_complex(f"holds more than {self.limits.max_values} values")
        brackets = structure.translate(_BRACKETS, _NOT_BRACKETS)
        opens = brackets.count(b"(")
        closes = len(brackets) - opens
        deepest = self.depth + opens
        if deepest > self.limits.max_depth:
            # pairs opened and closed within the chunk: strip the innermost ones, pass by pass
            nested = 0
            while b"()" in brackets and nested <= self.limits.max_depth:
                brackets = brackets.replace(b"()", b"")
                nested += 1
            deepest = self.depth + brackets.count(b"(") + nested
            if deepest > self.limits.max_depth:
                return too_complex(f"nests deeper than {self.limits.max_depth} levels")
        self.depth = max(0, self.depth + opens - closes)
        return None


def too_complex(what: str) -> Problem:
    return Problem(
        413,
        "json_too_complex",
        f"The JSON body {what} (FLUX_REMIX_MAX_JSON_DEPTH, FLUX_REMIX_MAX_JSON_VALUES)",
    )


def non_finite(chunk: bytes) -> Problem:
    named = _NAMED_NON_FINITE.search(chunk)
    field = named.group(1).decode("utf-8", "replace") if named else None
    what = "must be a finite number: JSON has no NaN or Infinity"
    return Problem(422, "invalid_parameter", f"{field}: {what}" if field else what, field)
