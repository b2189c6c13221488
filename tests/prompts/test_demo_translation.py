"""The demo translates like the real thing: the emulator's LLM answers, asked by the real app's
prompt pipeline over HTTP, keep every subject in fluent English and cover the expected keywords
of tests/data/prompts_zh.jsonl at least as well as the offline dictionary translator."""

from __future__ import annotations

import pytest

from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.dictionary import shared_dictionary
from tests.conftest import AUTH
from tests.prompts.keywords import load_cases, missing


def coverage(outputs: list[str]) -> float:
    cases = load_cases()
    total = sum(len(c.keywords) for c in cases)
    misses = sum(len(missing(c, out)) for c, out in zip(cases, outputs, strict=True))
    return (total - misses) / total


@pytest.fixture(scope="module")
def dictionary_coverage() -> float:
    dictionary = shared_dictionary()
    return coverage([dictionary.translate_sync(c.prompt) for c in load_cases()])


def test_the_demo_covers_the_keywords_at_least_as_well_as_the_dictionary(
    app_server, emulator, dictionary_coverage
):
    outputs = []
    with app_server.client(headers=AUTH) as c:
        for case in load_cases():
            r = c.post("/api/v1/prompt", json={"prompt": case.prompt, "translate": "always"})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["translator"] == "llm", body  # the emulator's LLM, not the fallback
            assert not has_cjk(body["final_prompt"])
            outputs.append(body["final_prompt"])
    demo = coverage(outputs)
    print(f"keyword coverage: demo LLM {demo:.1%}, offline dictionary {dictionary_coverage:.1%}")
    assert demo >= dictionary_coverage >= 0.95


@pytest.mark.parametrize(
    ("prompt", "english"),
    [
        ("夕阳下的灯塔", "a lighthouse under the sunset"),
        ("一只可爱的猫咪在窗台上晒太阳", "a cute cat basking in the sun on the window sill"),
    ],
)
def test_the_demo_keeps_the_subject_in_fluent_english(app_server, emulator, prompt, english):
    with app_server.client(headers=AUTH) as c:
        body = c.post("/api/v1/prompt", json={"prompt": prompt}).json()
    assert (body["translator"], body["final_prompt"]) == ("llm", english)
