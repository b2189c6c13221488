"""`POST /v1/chat/completions`: a markdown image as the answer, streamed as OpenAI chunks."""

import json
import re
import time

import httpx
import openai
import pytest
from httpx_sse import connect_sse

from flux_remix.emulator import FaultSpec
from tests.api_helpers import image_calls
from tests.conftest import ACCOUNT_IDS, AUTH, SECRETS

IMAGE = re.compile(r"!\[([^\]]*)\]\((http[^)\s]+)\)")
HISTORY = [
    {"role": "system", "content": "You draw pictures."},
    {"role": "user", "content": "a green apple"},
    {"role": "assistant", "content": "![a green apple](http://example.invalid/x.png)"},
]


def image_links(content: str) -> list[tuple[str, str]]:
    return IMAGE.findall(content)


def test_answer_is_a_markdown_image_of_the_last_user_message(client, emulator):
    completion = client.chat.completions.create(
        model="DS-8-CF",
        messages=[*HISTORY, {"role": "user", "content": "a lighthouse at dusk"}],
        extra_body={"seed": 5, "size": "768x512", "steps": 6},
    )
    assert completion.object == "chat.completion"
    assert completion.model == "DS-8-CF"
    (choice,) = completion.choices
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    content = choice.message.content
    ((alt, url),) = image_links(content)
    assert alt == "a lighthouse at dusk"
    line = content.split("\n\n")[-1]
    for part in ("DreamShaper 8 LCM", "768×512", "seed 5", "6 steps"):
        assert part in line
    fetched = httpx.get(url, timeout=30)  # as a chat app's <img>: no key
    assert fetched.status_code == 200, fetched.text
    assert fetched.headers["content-type"] == "image/png"
    assert completion.model_extra["flux_remix"]["prompt"] == "a lighthouse at dusk"
    assert len(image_calls(emulator)) == 1


def test_text_parts_of_multimodal_content_are_the_prompt(client):
    completion = client.chat.completions.create(
        model="DS-8-CF",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "a small"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                    {"type": "text", "text": "wooden boat"},
                ],
            }
        ],
    )
    assert completion.model_extra["flux_remix"]["prompt"] == "a small wooden boat"


def test_translated_prompt_is_shown(client):
    completion = client.chat.completions.create(
        model="DS-8-CF", messages=[{"role": "user", "content": "一只可爱的猫咪"}]
    )
    content = completion.choices[0].message.content
    final = completion.model_extra["flux_remix"]["final_prompt"]
    assert final.isascii()
    assert "prompt (llm):" in content


def test_stream_with_the_openai_client(client):
    stream = client.chat.completions.create(
        model="FLUX.1-Schnell-CF",
        messages=[{"role": "user", "content": "a red fox in snow"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.index("Queued for FLUX.1") < content.index("Generating: a red fox in snow")
    assert content.index("Generating") < content.index("![a red fox in snow](")
    assert len(image_links(content)) == 1
    assert "1024×1024" in content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1
    assert chunks[-1].usage is not None and chunks[-1].choices == []


def test_stream_as_raw_server_sent_events(app_server):
    body = {"model": "DS-8-CF", "messages": [{"role": "user", "content": "a boat"}], "stream": True}
    with (
        httpx.Client(base_url=app_server.url, headers=AUTH, timeout=60) as c,
        connect_sse(c, "POST", "/v1/chat/completions", json=body) as source,
    ):
        assert source.response.status_code == 200
        assert source.response.headers["content-type"].startswith("text/event-stream")
        assert source.response.headers["cache-control"] == "no-cache"
        data = [sse.data for sse in source.iter_sse()]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["model"] == "DS-8-CF" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["flux_remix"]["model"] == "@cf/lykon/dreamshaper-8-lcm"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    ((_, url),) = image_links(text)
    assert httpx.get(url, timeout=30).status_code == 200


def test_long_generation_keeps_the_stream_alive(start_app, emulator):
    server = start_app(FLUX_REMIX_SSE_KEEPALIVE="0.2")
    emulator.state.add_fault(FaultSpec(kind="slow", delay=1.5, count=1))
    body = {"model": "DS-8-CF", "messages": [{"role": "user", "content": "a boat"}], "stream": True}
    with (
        server.client(headers=AUTH) as c,
        c.stream("POST", "/v1/chat/completions", json=body) as r,
    ):
        lines = [line for line in r.iter_lines() if line]
    keepalives = [i for i, line in enumerate(lines) if line == ": keep-alive"]
    generating = next(i for i, line in enumerate(lines) if "Generating" in line)
    image = next(i for i, line in enumerate(lines) if "![a boat](" in line)
    assert len(keepalives) >= 3
    assert all(generating < i < image for i in keepalives)
    assert lines[-1] == "data: [DONE]"


def test_failure_after_the_stream_began_is_an_error_event(client, app_server, emulator):
    for account_id in ACCOUNT_IDS:
        emulator.state.set_used(account_id, 10_000)
    messages = [{"role": "user", "content": "a boat"}]
    stream = client.chat.completions.create(model="DS-8-CF", messages=messages, stream=True)
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert "daily free neurons" in caught.value.message
    assert caught.value.body["type"] == "rate_limit_error"

    body = {"model": "DS-8-CF", "messages": messages, "stream": True}
    with (
        httpx.Client(base_url=app_server.url, headers=AUTH, timeout=60) as c,
        connect_sse(c, "POST", "/v1/chat/completions", json=body) as source,
    ):
        data = [sse.data for sse in source.iter_sse()]
    assert data[-1] == "[DONE]"
    error = json.loads(data[-2])["error"]
    assert error["code"] == "quota_exhausted" or error["code"] == "no_capacity"
    shown = json.loads(data[-3])["choices"][0]["delta"]["content"]
    assert "**Error (429):**" in shown  # chat apps that ignore error events still show it
    assert not [s for s in SECRETS if s in "".join(data)]


def test_errors_before_generation_keep_their_status_when_streaming(client, emulator):
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "a boat"}], stream=True
        )
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="DS-8-CF",
            messages=[{"role": "user", "content": "a boat"}],
            stream=True,
            extra_body={"steps": 99},
        )
    assert caught.value.body["param"] == "steps"
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="DS-8-CF", messages=[{"role": "assistant", "content": "hello"}]
        )
    assert "No user message" in caught.value.message
    assert emulator.state.calls() == []


def test_chat_needs_a_key(make_client, app_server, emulator):
    with pytest.raises(openai.AuthenticationError):
        make_client(app_server, key="nope").chat.completions.create(
            model="DS-8-CF", messages=[{"role": "user", "content": "a boat"}], stream=True
        )
    assert emulator.state.calls() == []


def test_a_client_that_leaves_mid_stream_does_not_lose_the_image(start_app, emulator):
    server = start_app(FLUX_REMIX_SSE_KEEPALIVE="0.2")
    emulator.state.add_fault(FaultSpec(kind="slow", delay=1.0, count=1))
    prompt = "a canoe left behind"
    body = {"model": "DS-8-CF", "messages": [{"role": "user", "content": prompt}], "stream": True}
    with server.client(headers=AUTH) as c:
        with c.stream("POST", "/v1/chat/completions", json=body) as r:
            for line in r.iter_lines():
                if "Generating" in line:
                    break  # the chat tab is closed here
        deadline = time.monotonic() + 15
        stored: list = []
        while not stored and time.monotonic() < deadline:
            time.sleep(0.1)
            stored = c.get("/api/v1/images", params={"q": "canoe left"}).json()["images"]
        assert [i["prompt"] for i in stored] == [prompt]
        assert c.get("/healthz").status_code == 200
