"""Local servers the tests need (Redis, PostgreSQL, ...): one rule for when they are missing.

A test that needs a server calls `require(name, host, port)`: when nothing listens there the
test is skipped with a visible reason, except under `CI=true`, where `.ci/run` has started the
servers and a missing one is a failure.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_URL = f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def listening(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def require(name: str, host: str, port: int) -> None:
    """Skip (or, under CI=true, fail) the calling test when `name` is not reachable."""
    if listening(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: .ci/run should have started it)")
    pytest.skip(f"{message}; start it to run this test")


def unavailable(message: str) -> NoReturn:
    """The same rule for anything else a test needs (a binary, a login): skip, or fail in CI."""
    if in_ci():
        pytest.fail(f"{message} (CI=true: it must be available)")
    pytest.skip(message)


def require_redis() -> str:
    """The Redis URL for tests, after checking the server is there."""
    require("Redis", REDIS_HOST, REDIS_PORT)
    return REDIS_URL


def require_postgres() -> None:
    require("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)
