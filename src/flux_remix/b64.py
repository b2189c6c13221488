"""Base64 for image-sized payloads, through pybase64 (SIMD): on a 230 KB image it decodes in
~0.01 ms where the standard library takes ~0.46 ms, and that ran on the event loop once per
image. Same alphabet and strictness as `base64.b64decode(..., validate=True)`."""

from __future__ import annotations

import pybase64


def decode(text: str | bytes) -> bytes:
    """Strict standard base64 → bytes; `binascii.Error` (a `ValueError`) on anything else."""
    return pybase64.b64decode(text, validate=True)


def encode(data: bytes) -> str:
    """bytes → standard base64 text."""
    return encode_ascii(data).decode("ascii")


def encode_ascii(data: bytes) -> bytes:
    """bytes → standard base64, as ASCII bytes (to splice into a JSON body as is)."""
    return pybase64.b64encode(data)
