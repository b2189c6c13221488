"""Finding 5: NaN and ±Infinity never pass validation. Against a real `serve`, in every API shape
(native, OpenAI images and chat, original, jobs, prompt preview), a non-finite number, as a JSON
literal, a string pydantic would read as one, or an exponent past float range, is a 422 (400 in
OpenAI's shape) naming the field, and nothing reaches Cloudflare (before: `guidance: NaN` was
sent upstream as `null`)."""

from __future__ import annotations

import pytest

from tests.conftest import AUTH
from tests.processes import ServeProcess, base_env

MSGS = '"messages":[{"role":"user","content":"a red fox"}]'
ROUTES = {  # path -> (body with {value} where the number goes, field, shape)
    "/api/v1/images": ('{"prompt":"a red fox","guidance":VALUE}', "guidance", "native"),
    "/api/v1/jobs": ('{"prompt":"a red fox","strength":VALUE}', "strength", "native"),
    "/api/v1/prompt": ('{"prompt":"a red fox","width":VALUE}', "width", "native"),
    "/v1/images/generations": ('{"prompt":"a red fox","guidance":VALUE}', "guidance", "openai"),
    "/v1/chat/completions": ("{" + MSGS + ',"guidance":VALUE}', "guidance", "openai"),
    "/api/image": ("{" + MSGS + ',"guidance":VALUE}', "guidance", "original"),
}
VALUES = ["NaN", "Infinity", "-Infinity", '"NaN"', '"-inf"', "1e999"]


@pytest.fixture(scope="module")
def serve(tmp_path_factory, emulator_server):
    tmp = tmp_path_factory.mktemp("non-finite")
    env = base_env(tmp, emulator_server.base_url, FLUX_REMIX_TRANSLATOR="dictionary")
    with ServeProcess(env, tmp / "serve.log") as server:
        yield server


CASES = [
    (path, value)
    for path in ROUTES
    for value in VALUES
    # the original API has no numeric fields: a string there is only a string
    if not (ROUTES[path][2] == "original" and value.startswith('"'))
]


@pytest.mark.parametrize(("path", "value"), CASES)
def test_a_non_finite_number_is_refused_naming_its_field(serve, emulator_server, path, value):
    emulator_server.state.reset()
    template, field, shape = ROUTES[path]
    headers = {**AUTH, "Content-Type": "application/json"}
    with serve.client() as c:
        r = c.post(path, content=template.replace("VALUE", value), headers=headers)
    assert r.status_code == (400 if shape == "openai" else 422), r.text[:300]
    error = r.json()["error"]
    message = error if shape == "original" else error["message"]
    assert field in message, message
    if shape != "original":
        assert error["param"].endswith(field)
    assert emulator_server.state.calls() == []
