"""A thin async client for the Workers AI REST API (contract section 8: not the SDK).

One long-lived `httpx.AsyncClient` is injected; this class adds per-account auth, picks JSON or
multipart from the catalog, decodes both output kinds and maps every failure to a typed
`UpstreamError` (lower-layer httpx errors included) at this one boundary. Every text upstream
sends back (error messages, LLM answers) passes the scrubber (`scrub.py`) here, where it enters.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import httpx
import orjson

from flux_remix import errors as e
from flux_remix.metrics import Metrics
from flux_remix.schemas import ImageFormat
from flux_remix.scrub import Redactor, scrubbed
from flux_remix.settings import Account
from flux_remix.upstream.decode import (
    check_image,
    decode_image,
    error_from_envelope,
    error_from_response,
    neurons_header,
    read_envelope,
)
from flux_remix.upstream.encode import encode_image_request
from flux_remix.upstream.transport import AiohttpTransport
from flux_remix.validation import EffectiveParams


class _Billed(Protocol):
    @property
    def neurons(self) -> float | None: ...


B = TypeVar("B", bound=_Billed)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)


@dataclass(frozen=True)
class UpstreamImage:
    data: bytes
    format: ImageFormat
    width: int
    height: int
    neurons: float | None  # from the cf-ai-neurons header; None when upstream did not say
    elapsed_ms: float
    b64: str | None = field(default=None, repr=False)  # upstream's base64 text, if it sent one


@dataclass(frozen=True)
class TextResult:
    text: str
    neurons: float | None
    elapsed_ms: float


class WorkersAIClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        timeout: float = 120.0,
        metrics: Metrics | None = None,
        direct: AiohttpTransport | None = None,
        scrub: Redactor | None = None,
    ) -> None:
        """`direct`: `http`'s own aiohttp transport, for JSON calls sent without httpx's
        client layer (see `AiohttpTransport.post`); multipart bodies always go through `http`.
        `scrub`: what upstream text passes (`scrub.upstream_scrubber`; by default the secret
        shapes only)."""
        self.scrub = scrub or Redactor(())
        self._http = http
        self._direct = direct
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._metrics = metrics

    async def _observed(
        self, account: Account, model_id: str, call: Awaitable[B], estimate: float = 0.0
    ) -> B:
        """Await one upstream call; count it by account label, model and outcome, and count
        its neurons (the cf-ai-neurons header, else `estimate`, as the pool charges them)."""
        started = time.perf_counter()
        outcome = "cancelled"  # the request deadline ran out mid-call
        try:
            result = await call
            outcome = "ok"
            if self._metrics is not None:
                neurons = result.neurons if result.neurons is not None else estimate
                self._metrics.neurons(account.label, model_id, neurons)
            return result
        except e.UpstreamError as err:
            outcome = err.kind
            raise
        finally:
            if self._metrics is not None:
                seconds = time.perf_counter() - started
                self._metrics.upstream_call(account.label, model_id, outcome, seconds)

    def _run_url(self, account: Account, model_id: str) -> str:
        account_id = account.account_id.get_secret_value()
        return f"{self._base}/accounts/{account_id}/ai/run/{model_id}"

    @staticmethod
    def _auth(account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {account.token.get_secret_value()}"}

    async def _post(
        self,
        url: str,
        account: Account,
        *,
        json: dict[str, Any] | None = None,
        files: list[tuple[str, tuple[str | None, bytes, str]]] | None = None,
    ) -> httpx.Response:
        limit = self._timeout
        if self._direct is not None and json is not None:
            headers = {**self._auth(account), "Content-Type": "application/json"}
            call = self._direct.post(url, headers, orjson.dumps(json), limit)
            return await typed_errors(call, "Cloudflare", limit)
        headers = self._auth(account)
        return await post(
            self._http, url, "Cloudflare", limit, headers=headers, json=json, files=files
        )

    async def run_image(
        self, account: Account, params: EffectiveParams, prompt: str
    ) -> UpstreamImage:
        """Generate one image with `account`; raise a typed `UpstreamError` on any failure."""
        estimate = params.model.estimate_neurons(params.price_inputs())
        call = self._run_image(account, params, prompt)
        return await self._observed(account, params.model.id, call, estimate)

    async def _run_image(
        self, account: Account, params: EffectiveParams, prompt: str
    ) -> UpstreamImage:
        body = encode_image_request(params, prompt)
        started = time.perf_counter()
        url = self._run_url(account, params.model.id)
        if body.json is not None:
            response = await self._post(url, account, json=body.json)
        else:
            response = await self._post(url, account, files=body.files)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise scrubbed(error_from_response(response), self.scrub)
        image = decode_image(response)
        fmt, width, height = check_image(image.data)
        neurons = neurons_header(response)
        return UpstreamImage(image.data, fmt, width, height, neurons, elapsed, image.b64)

    async def run_text(self, account: Account, model_id: str, body: dict[str, Any]) -> TextResult:
        """Run a text model; return its answer with any reasoning trace removed."""
        return await self._observed(account, model_id, self._run_text(account, model_id, body))

    async def _run_text(self, account: Account, model_id: str, body: dict[str, Any]) -> TextResult:
        started = time.perf_counter()
        response = await self._post(self._run_url(account, model_id), account, json=body)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise scrubbed(error_from_response(response), self.scrub)
        envelope = read_envelope(response)
        if envelope.get("success") is False:
            error = error_from_envelope(response.status_code, envelope, response.headers)
            raise scrubbed(error, self.scrub)
        result = envelope.get("result")
        if not isinstance(result, dict):
            raise e.MalformedResponseError("upstream JSON has no result object")
        text = self.scrub(text_of_result(result))
        return TextResult(text, neurons_header(response), elapsed)

    async def search_models(self, account: Account, task: str) -> list[dict[str, Any]]:
        """`GET /ai/models/search?task=...`: the account's models of that task (all pages)."""
        items: list[dict[str, Any]] = []
        for page in range(1, 21):  # 20 pages of 100: far more than Cloudflare lists
            query = {"task": task, "page": str(page), "per_page": "100"}
            result = await self._get_result(account, "ai/models/search", query)
            found = [i for i in result if isinstance(i, dict)] if isinstance(result, list) else []
            items += found
            if len(found) < 100:
                break
        return items

    async def model_schema(self, account: Account, model_id: str) -> dict[str, Any]:
        """`GET /ai/models/schema?model=...`: the model's input and output JSON Schemas."""
        result = await self._get_result(account, "ai/models/schema", {"model": model_id})
        if not isinstance(result, dict):
            raise e.MalformedResponseError("the models/schema answer has no result object")
        return result

    async def _get_result(self, account: Account, path: str, query: dict[str, str]) -> Any:
        account_id = account.account_id.get_secret_value()
        url = f"{self._base}/accounts/{account_id}/{path}"
        try:
            response = await self._http.get(
                url, params=query, headers=self._auth(account), timeout=self._timeout
            )
        except httpx.HTTPError:
            raise e.UpstreamConnectionError(f"could not reach Cloudflare for {path}") from None
        if response.status_code != 200:
            raise error_from_response(response)
        envelope = read_envelope(response)
        if envelope.get("success") is False:
            raise error_from_envelope(response.status_code, envelope, response.headers)
        return envelope.get("result")

    async def verify_token(self, account: Account) -> bool:
        """True when Cloudflare says the token is active (free: no model call)."""
        try:
            response = await self._http.get(
                f"{self._base}/user/tokens/verify", headers=self._auth(account), timeout=10.0
            )
        except httpx.HTTPError:
            raise e.UpstreamConnectionError("could not reach Cloudflare to verify tokens") from None
        if response.status_code != 200:
            return False
        try:
            body = response.json()
        except ValueError:
            return False
        result = body.get("result") if isinstance(body, dict) else None
        return isinstance(result, dict) and result.get("status") == "active"


async def post(
    http: httpx.AsyncClient, url: str, who: str, limit: float, **kwargs: Any
) -> httpx.Response:
    """POST through the shared client (httpx timeout `limit` s); transport failures become
    typed upstream errors."""
    response = await typed_errors(http.post(url, timeout=limit, **kwargs), who, limit)
    unbind(response)
    return response


async def typed_errors(call: Awaitable[httpx.Response], who: str, limit: float) -> httpx.Response:
    """Await an HTTP call to `who`; its transport failures become typed upstream errors."""
    try:
        return await call
    except httpx.TimeoutException:
        raise e.UpstreamTimeoutError(f"{who} did not answer within {limit:g} s") from None
    except httpx.TransportError as exc:
        raise e.UpstreamConnectionError(f"could not reach {who} ({type(exc).__name__})") from None


def unbind(response: httpx.Response) -> None:
    """Break the reference cycle httpx leaves between a response and its stream (the client
    binds the stream back to the response), so an answer, its ~230 KB body included, is freed
    as soon as it is dropped instead of waiting for the garbage collector. The body is read and
    the response closed already; the stream is swapped for a plain one over the same bytes."""
    if response.is_closed:
        response.stream = httpx.ByteStream(response.content)


def text_of_result(result: dict[str, Any]) -> str:
    """The answer text of both Workers AI text shapes, without `<think>` traces.

    Classic: `result.response`; OpenAI-style: `result.choices[0].message.content` (its
    `reasoning_content` is ignored); m2m100: `result.translated_text`.
    """
    text: Any = result.get("response")
    if text is None:
        text = result.get("translated_text")
    if text is None:
        choices = result.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            message = choices[0].get("message") or {}
            text = message.get("content") if isinstance(message, dict) else None
    if text is None:
        raise e.MalformedResponseError("upstream text result has no response or choices")
    return strip_reasoning(str(text))


def strip_reasoning(text: str) -> str:
    return _THINK.sub("", text).strip()
