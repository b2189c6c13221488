"""`EventStream`: Server-Sent Events sent from the request's own task.

Starlette's `StreamingResponse`, under uvicorn's ASGI 2.3, runs every stream in an anyio task
group with a second task listening for the client's disconnect: two tasks and a cancel scope
per stream, on every job a client follows. A job's stream needs neither: it ends by itself
with the job's final event, and the route checks whether the client is still there before
each write (each batch of events, and the keep-alive every `FLUX_REMIX_SSE_KEEPALIVE` seconds
while nothing happens): a client that left is noticed at the job's next event or keep-alive.
So the chunks are sent in order from the request's task, as `StreamingResponse.stream_response`
sends them, and nothing else runs.
"""

from __future__ import annotations

from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send


class EventStream(StreamingResponse):
    """`StreamingResponse`'s constructor; give it `media_type="text/event-stream"` per answer
    (not on the class, so the route's OpenAPI keeps its JSON error answers)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.stream_response(send)
