"""schemathesis against the app's own OpenAPI schema: every operation, with and without keys,
valid and invalid inputs (a bounded number of each). No answer is a 5xx, every status is one
the schema declares, and every body conforms to the schema declared for its status."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flux_remix.settings import load_settings
from flux_remix.web import create_app
from tests.conftest import ADMIN, AUTH, account_list

EXAMPLES = 6  # per operation, caller and mode: the whole module stays well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
CALLERS = {
    "no key": {},
    "wrong key": {"Authorization": "Bearer not-a-key-of-ours"},
    "user key": AUTH,
    "admin key": ADMIN,
}
MODES = {
    "valid": schemathesis.GenerationMode.POSITIVE,
    "invalid": schemathesis.GenerationMode.NEGATIVE,
}


def operations() -> list[tuple[str, str]]:
    """Every operation in the schema, read from an app that is built but not started."""
    app = create_app(load_settings({"CF_ACCOUNT_LIST": account_list()}))
    paths = app.openapi()["paths"]
    return sorted((method.upper(), path) for path, item in paths.items() for method in item)


OPERATIONS = operations()


@pytest.fixture(scope="module")
def schema(module_server):
    return schemathesis.openapi.from_url(f"{module_server.url}/openapi.json")


def test_the_schema_lists_every_api_route():
    paths = {path for _, path in OPERATIONS}
    for path in ("/api/image", "/api/v1/images", "/api/v1/keys", "/v1/images/generations"):
        assert path in paths


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_operation(schema, module_server, emulator_server, method, path, caller):
    emulator_server.state.reset()  # a fresh daily ledger: fuzzing must not exhaust accounts
    operation = schema[path][method]
    headers = CALLERS[caller]
    for mode in MODES.values():

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case):
            response = case.call(base_url=module_server.url, headers=headers, timeout=60)
            case.validate_response(response, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:
            continue  # nothing to make invalid (no parameters, or only a path id)
