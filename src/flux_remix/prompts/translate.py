"""Translate prompts into English with an LLM through the account pool.

Mode `off` never translates, `auto` only when the prompt has CJK text (English costs no LLM
call), `always` translates everything. When the LLM fails, the original prompt is used and the
outcome says why.
"""

from __future__ import annotations

import logging
from typing import Any

from flux_remix import errors as e
from flux_remix.accounts import AccountPool
from flux_remix.catalog import REASONING_TEXT_MODELS
from flux_remix.prompts.detect import has_cjk
from flux_remix.schemas import PromptOutcome
from flux_remix.settings import Account, TranslateMode
from flux_remix.upstream import TextResult, WorkersAIClient

log = logging.getLogger("flux_remix.prompts")

SYSTEM_PROMPT = (
    "You translate prompts for an image generation model into English. "
    "Answer with the English prompt only, on one line, with no quotes, notes or explanations. "
    "Keep weights and brackets such as (masterpiece:1.2) and [ ... ] exactly as they are, keep "
    "English words unchanged, and keep the meaning and order of the original."
)
MAX_TOKENS = 512


class PromptTranslator:
    def __init__(
        self,
        client: WorkersAIClient,
        pool: AccountPool,
        model_id: str,
        *,
        deadline: float = 30.0,
    ) -> None:
        self._client = client
        self._pool = pool
        self._model = model_id
        self._deadline = deadline

    def request_body(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": text},
            ],
            "max_tokens": MAX_TOKENS,
            "temperature": 0.2,
        }
        if self._model in REASONING_TEXT_MODELS:
            body["chat_template_kwargs"] = {"enable_thinking": False}
        return body

    async def translate(self, text: str, mode: TranslateMode) -> PromptOutcome:
        if mode == "off":
            return PromptOutcome(text, text, "none", False, "translation off")
        if mode == "auto" and not has_cjk(text):
            return PromptOutcome(text, text, "none", False, "already English")
        body = self.request_body(text)

        async def call(account: Account) -> TextResult:
            return await self._client.run_text(account, self._model, body)

        try:
            result, account = await self._pool.run(call, deadline=self._deadline)
        except (e.UpstreamError, e.NoCapacityError) as err:
            log.warning("translation failed, using the original prompt: %s", err.kind)
            return PromptOutcome(text, text, "none", False, f"translation failed: {err.message}")
        if result.neurons:
            self._pool.charge(account, result.neurons)
        translated = " ".join(result.text.split())
        if not translated:
            return PromptOutcome(text, text, "none", False, "translation returned nothing")
        return PromptOutcome(text, translated, "llm", True)
