"""Fixtures for the OpenAI-compatible API: the official `openai` client pointed at the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from openai import OpenAI

from tests.conftest import API_KEY
from tests.support import ServerThread


def openai_client(server: ServerThread, key: str = API_KEY) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def client(app_server: ServerThread) -> Iterator[OpenAI]:
    with openai_client(app_server) as c:
        yield c


@pytest.fixture
def make_client() -> Iterator[Callable[..., OpenAI]]:
    made: list[OpenAI] = []

    def make(server: ServerThread, key: str = API_KEY) -> OpenAI:
        made.append(openai_client(server, key))
        return made[-1]

    yield make
    for c in made:
        c.close()
