"""Random secrets kept in the data directory (session signing key, key pepper)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def stored_secret(path: Path) -> bytes:
    """A random secret kept in `path` (created once, owner-readable only; first writer wins)."""
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data[:64]
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(64)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        data = path.read_bytes()[:64]
    finally:
        tmp.unlink(missing_ok=True)
    return data
