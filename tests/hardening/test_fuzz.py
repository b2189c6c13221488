"""schemathesis against the app's own OpenAPI schema, every operation, with and without keys:
no 5xx, and every answer conforms to the schema declared for its status."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN, AUTH

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
WHO = {"no key": {}, "user key": AUTH, "admin key": ADMIN, "wrong key": {"Authorization": "Bearer nope"}}


@pytest.fixture(scope="module")
def schema(module_server):
    return schemathesis.openapi.from_url(f"{module_server.url}/openapi.json")


def test_every_operation(schema, module_server):
    ops = [r.ok() for r in schema.get_all_operations()]
    failures = []
    for op in ops:
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            for who, headers in WHO.items():
                @given(case=op.as_strategy(generation_mode=mode))
                @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
                def run(case):
                    response = case.call(base_url=module_server.url, headers=headers)
                    case.validate_response(response, checks=CHECKS)

                try:
                    run()
                except (Exception, BaseExceptionGroup) as exc:
                    failures.append(f"{op.method.upper()} {op.path} [{mode.value}, {who}]: {str(exc)[:600]}")
    assert not failures, "\n\n".join(failures)
