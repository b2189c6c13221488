"""The LLMs that translate and enhance prompts, behind one small interface.

`WorkersAIText` runs a Workers AI text model through the account pool, like image calls: the pool
picks the account, fails over, and charges the neurons (the `cf-ai-neurons` header, else an
estimate from the token prices). `OpenAICompatibleText` calls `{EXTERNAL_API}/chat/completions`
of any OpenAI-compatible endpoint (`USE_EXTERNAL_API`). Both parse either answer shape, drop
reasoning traces, turn thinking off where the model allows it, and always set `max_tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from flux_remix import errors as e
from flux_remix.accounts import AccountPool
from flux_remix.catalog import REASONING_TEXT_MODELS
from flux_remix.prompts.detect import cjk_language
from flux_remix.scrub import Redactor, scrubbed
from flux_remix.settings import Account
from flux_remix.upstream import TextResult, WorkersAIClient
from flux_remix.upstream.client import post, text_of_result

# Neurons per million input / output tokens (contract section 4; the 8B -fast price otherwise).
TEXT_PRICES: dict[str, tuple[float, float]] = {
    "@cf/meta/llama-3.1-8b-instruct-fast": (4119, 34868),
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": (26668, 204805),
    "@cf/qwen/qwen3-30b-a3b-fp8": (4625, 30475),
    "@cf/zai-org/glm-4.7-flash": (5500, 36400),
    "@cf/google/gemma-4-26b-a4b-it": (9091, 36364),
    "@cf/meta/m2m100-1.2b": (31050, 31050),
}
# Translation-only models take `{"text", "source_lang", "target_lang"}`, not messages.
TRANSLATION_MODELS = frozenset({"@cf/meta/m2m100-1.2b"})
# The CJK languages m2m100 takes (contract section 4.3 lists Chinese and Japanese, not Korean).
M2M100_SOURCES = frozenset({"zh", "ja"})


@dataclass(frozen=True)
class LLMAnswer:
    text: str  # reasoning traces already removed
    neurons: float | None  # what the call cost, when known


class TextModel(Protocol):
    """One LLM: `name` keys the cache; `can_enhance` is False for translation-only models."""

    name: str
    can_enhance: bool

    async def complete(self, system: str, user: str, *, max_tokens: int) -> LLMAnswer: ...


def chat_body(model: str, system: str, user: str, max_tokens: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": max_tokens,
        "temperature": 0.2,
    }
    if model in REASONING_TEXT_MODELS:
        body["chat_template_kwargs"] = {"enable_thinking": False}
    return body


def translation_body(text: str) -> dict[str, Any]:
    """m2m100's body, its source language from the prompt's script.

    A language m2m100 does not take (Korean) is refused here, before any upstream call, as
    upstream would refuse it: the pipeline then says why and falls back to the dictionary.
    """
    source = cjk_language(text) or "en"
    if source not in {*M2M100_SOURCES, "en"}:
        raise e.UpstreamBadInputError(
            f"m2m100 does not translate this language ({source}); it takes Chinese and "
            "Japanese among CJK languages (set CF_TRANSLATE_MODEL to a chat model for Korean)"
        )
    return {"text": text, "source_lang": source, "target_lang": "en"}


def estimate_neurons(model: str, prompt_chars: int, max_tokens: int) -> float:
    """A cautious price for one call: every prompt character a token, all of max_tokens used."""
    n_in, n_out = TEXT_PRICES.get(model, TEXT_PRICES["@cf/meta/llama-3.1-8b-instruct-fast"])
    return round((prompt_chars * n_in + max_tokens * n_out) / 1_000_000, 2)


class WorkersAIText:
    """A Workers AI text model reached through the account pool."""

    def __init__(
        self, client: WorkersAIClient, pool: AccountPool, model: str, *, timeout: float
    ) -> None:
        self._client = client
        self._pool = pool
        self.name = model
        self.can_enhance = model not in TRANSLATION_MODELS
        self._timeout = timeout

    def body(self, system: str, user: str, max_tokens: int) -> dict[str, Any]:
        if self.name in TRANSLATION_MODELS:
            return translation_body(user)
        return chat_body(self.name, system, user, max_tokens)

    async def complete(self, system: str, user: str, *, max_tokens: int) -> LLMAnswer:
        body = self.body(system, user, max_tokens)

        async def call(account: Account) -> TextResult:
            return await self._client.run_text(account, self.name, body)

        result, _ = await self._pool.run(
            call,
            deadline=self._timeout,
            cost=estimate_neurons(self.name, len(system) + len(user), max_tokens),
            neurons=lambda r: r.neurons,
        )
        return LLMAnswer(result.text, result.neurons)


class OpenAICompatibleText:
    """`POST {base_url}/chat/completions` of an OpenAI-compatible endpoint (`EXTERNAL_*`)."""

    can_enhance = True

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        model: str,
        api_key: SecretStr | None,
        *,
        timeout: float,
        scrub: Redactor | None = None,
    ) -> None:
        self._scrub = scrub or Redactor(())  # upstream text enters here (scrub.py)
        self._http = http
        self._url = base_url.rstrip("/") + "/chat/completions"
        self.name = model
        self._key = api_key
        self._timeout = timeout

    async def complete(self, system: str, user: str, *, max_tokens: int) -> LLMAnswer:
        body = {"model": self.name, **chat_body(self.name, system, user, max_tokens)}
        headers = {"Authorization": f"Bearer {self._key.get_secret_value()}"} if self._key else {}
        response = await post(
            self._http, self._url, "the external LLM", self._timeout, json=body, headers=headers
        )
        if response.status_code != 200:
            raise scrubbed(external_error(response, self._key), self._scrub)
        try:
            payload = response.json()
        except ValueError:
            raise e.MalformedResponseError("the external LLM answered with no JSON") from None
        if not isinstance(payload, dict):
            raise e.MalformedResponseError("the external LLM answered with no JSON object")
        # Some gateways wrap the completion in Cloudflare's {"result": …} envelope.
        wrapped = payload.get("result")
        result: dict[str, Any] = wrapped if isinstance(wrapped, dict) else payload
        return LLMAnswer(self._scrub(text_of_result(result)), None)


def external_error(response: httpx.Response, key: SecretStr | None = None) -> e.UpstreamError:
    """An external LLM's refusal as an upstream error: its message, never the key."""
    status = response.status_code
    message = f"the external LLM answered HTTP {status}"
    if status in (401, 403):  # such answers may quote the key, even partly: say nothing of it
        return e.UpstreamError(f"{message}; check EXTERNAL_API_KEY", status=status)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        detail = err.get("message") if isinstance(err, dict) else err
        if isinstance(detail, str) and detail.strip():
            if key is not None and key.get_secret_value():
                detail = detail.replace(key.get_secret_value(), "***")
            message = f"{message}: {detail.strip()[:200]}"
    if status == 429:
        return e.RateLimitedError(message, status=status)
    if status >= 500:
        return e.UpstreamServerError(message, status=status)
    return e.UpstreamBadInputError(message, status=status)
