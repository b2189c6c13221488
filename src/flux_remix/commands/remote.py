"""`--server URL --key KEY`: the CLI as a client of a running flux-remix's native API.

Every failure comes back as a `FluxRemixError`: `ServerUnreachableError` when nothing answers,
`RemoteError` (carrying the server's error type, message and Retry-After) for an error answer,
so the CLI maps both to the same exit codes as in-process errors.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from flux_remix import __version__
from flux_remix.commands.exits import RemoteError, ServerUnreachableError

DEFAULT_TIMEOUT = 300.0  # a generation may wait out retries and failover on the server


class RemoteServer:
    def __init__(self, url: str, key: str | None, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"flux-remix-cli/{__version__}"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __enter__(self) -> RemoteServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ServerUnreachableError(
                f"{self.url} did not answer within {self._http.timeout.read or 0:g} s"
            ) from None
        except httpx.TransportError as exc:
            raise ServerUnreachableError(
                f"cannot reach a flux-remix server at {self.url} ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise error_of(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.request(method, path, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise RemoteError(
                "malformed_response",
                f"{self.url}{path} answered something that is not JSON; is it flux-remix?",
                status=response.status_code,
            ) from None
        if not isinstance(body, dict):
            raise RemoteError(
                "malformed_response", f"{self.url}{path} answered unexpected JSON", status=502
            )
        return body

    def generate(self, body: dict[str, Any]) -> dict[str, Any]:
        """`POST /api/v1/images` (images inline as base64)."""
        return self.json("POST", "/api/v1/images", json={**body, "response_format": "b64_json"})

    def history(self, params: dict[str, Any]) -> dict[str, Any]:
        """One page of `GET /api/v1/images`."""
        return self.json("GET", "/api/v1/images", params=params)

    def models(self) -> dict[str, Any]:
        return self.json("GET", "/api/v1/models")


def error_of(response: httpx.Response) -> RemoteError:
    """The server's error answer (native, OpenAI or original shape) as a `RemoteError`."""
    kind, message = "http_error", f"the server answered HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        kind = str(error.get("type") or error.get("code") or kind)
        message = str(error.get("message") or message)
    elif isinstance(error, str) and isinstance(body, dict):
        kind, message = str(body.get("type") or kind), error
    retry_after: float | None = None
    header = response.headers.get("retry-after")
    if header:
        try:
            retry_after = float(header)
        except ValueError:
            retry_after = None
    return RemoteError(kind, message, status=response.status_code, retry_after=retry_after)
