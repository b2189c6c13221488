"""An httpx transport that sends requests with aiohttp: the same `httpx.AsyncClient` API, less
CPU per call.

httpcore's connection pool checks every pooled connection on every request and every response
(`has_expired` asks the socket whether it is readable, through anyio's attribute lookup), so at
64 concurrent upstream calls the pool alone cost ~2.5 ms of CPU per image, more than the whole
gateway should. aiohttp keeps its pool per host in C-accelerated code. Everything above the
transport (auth headers, timeouts, error classes, response decoding, `MockTransport` and
`ASGITransport` in tests and demo mode) stays httpx. The Workers AI client's JSON calls, the
hot path, skip even httpx's client layer through `post`, and get the same `httpx.Response`.

Bodies are read whole (nothing in flux-remix streams an upstream response). Lower-layer errors
become the httpx exceptions the callers already map: `ConnectTimeout`/`ReadTimeout`,
`ConnectError`, `RemoteProtocolError`, `ReadError`.
"""

from __future__ import annotations

import ssl

import aiohttp
import certifi
import httpx
from yarl import URL

# A connection idle this long is closed; Cloudflare's own idle timeout is longer.
KEEPALIVE_SECONDS = 15.0
READ_BUFFER_BYTES = 1 << 20


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 256) -> None:
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=KEEPALIVE_SECONDS,
                ssl=ssl.create_default_context(cafile=certifi.where()),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps cookies, if any
                auto_decompress=False,  # httpx decodes by the Content-Encoding it is handed
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                # a whole image answer (~235 KB) fits the read buffer: with aiohttp's 64 KiB
                # default the socket is paused and resumed several times per answer
                read_bufsize=READ_BUFFER_BYTES,
            )
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() not in ("transfer-encoding", "content-length")
        ]
        timeouts = request.extensions.get("timeout", {})
        timeout = _timeout(timeouts.get("connect"), timeouts.get("pool"), timeouts.get("read"))
        url = URL(str(request.url), encoded=True)
        return await self._exchange(request.method, url, headers, body, timeout, request)

    async def post(
        self, url: str, headers: dict[str, str], body: bytes, limit: float
    ) -> httpx.Response:
        """POST `body` straight through aiohttp, without httpx's client layer (request and URL
        objects, auth, redirects, cookies, event hooks: ~0.12 ms of CPU per call, on the event
        loop). For the hot upstream calls (`WorkersAIClient`); `limit` seconds bound the connect
        and each read, as `httpx.Timeout(limit)` does. The answer is the same `httpx.Response`,
        with the same exceptions, as through `httpx.AsyncClient`."""
        timeout = _timeout(limit, limit, limit)
        return await self._exchange("POST", URL(url), list(headers.items()), body, timeout, None)

    async def _exchange(
        self,
        method: str,
        url: URL,
        headers: list[tuple[str, str]],
        body: bytes,
        limits: aiohttp.ClientTimeout,
        request: httpx.Request | None,
    ) -> httpx.Response:
        try:
            async with self._open().request(
                method,
                url,
                headers=headers,
                data=body or None,
                timeout=limits,
                allow_redirects=False,
            ) as response:
                content = await response.read()
                raw_headers = list(response.raw_headers)
                status = response.status
                reason = response.reason or ""
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "connect timed out", request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out", request=request) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        return httpx.Response(  # httpx decodes the body by its Content-Encoding, if any
            status,
            headers=raw_headers,
            content=content,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason.encode("latin-1")},
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _timeout(
    connect: float | None, pool: float | None, read: float | None
) -> aiohttp.ClientTimeout:
    """httpx's timeouts in aiohttp's terms: waiting for a pooled connection and making one
    share `connect`; `read` bounds each read."""
    return aiohttp.ClientTimeout(
        total=None,
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=read,
    )
