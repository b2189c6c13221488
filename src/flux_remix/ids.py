"""Random ids: hex digits from the operating system's CSPRNG.

Image ids name public URLs (`/images/{id}.jpg`), so they must not be guessable; this is what
`uuid.uuid4().hex` gave (122 random bits), without building a `UUID` object on every request.
"""

from __future__ import annotations

import hashlib
import os


def new_id(nbytes: int = 16) -> str:
    """`2 * nbytes` lowercase hex digits (32 by default, the form every stored id has)."""
    return os.urandom(nbytes).hex()


def derived_id(*parts: str) -> str:
    """32 hex digits determined by `parts` (a job's image: its job id and index), so that a
    job re-run after a takeover names its images as the first attempt did. As unguessable as
    the random id among the parts."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
