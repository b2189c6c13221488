"""Exit codes and messages: the one place where errors become a process's exit status.

    0    success
    1    internal error (a bug: the message says what failed)
    2    configuration or command-line usage error
    3    the request cannot be served as asked: a parameter, the model, the prompt, no such image
    4    the API key was refused (--server)
    5    no capacity now: daily neurons used up, rate limited or busy, or too many failed
         keys from this address (try again later)
    6    Cloudflare failed: server error, timeout, unreachable, unreadable answer, token refused
    7    storage failed (the database or the object store)
    8    the flux-remix server could not be reached (--server)
    130  interrupted (Ctrl+C)

With `--json`, a failure also prints `{"error": {"type", "message", "exit_code", ...}}` on stdout.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from flux_remix import errors as e

T = TypeVar("T")
err = Console(stderr=True)
INTERRUPTED = 130


class ServerUnreachableError(e.FluxRemixError):
    """`--server`: no flux-remix server answered at that URL."""

    kind = "server_unreachable"


class RemoteError(e.FluxRemixError):
    """An error a flux-remix server answered (`--server`); its `kind` is the server's type."""

    def __init__(
        self, kind: str, message: str, *, status: int, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


# Most specific first: the first class an error is an instance of gives its code.
EXIT_CODES: tuple[tuple[type[e.FluxRemixError], int], ...] = (
    (e.ConfigError, 2),
    (e.AuthThrottledError, 5),  # too many wrong keys from here: try again later
    (e.AuthenticationError, 4),
    (e.PermissionDeniedError, 4),
    (e.KeyQuotaError, 5),
    (e.RequestError, 3),
    (e.ContentFlaggedError, 3),
    (e.UpstreamBadInputError, 3),
    (e.UpstreamModelGoneError, 3),
    (e.PaidPlanRequiredError, 3),
    (e.QuotaExhaustedError, 5),
    (e.CapacityError, 5),
    (e.RateLimitedError, 5),
    (e.NoCapacityError, 5),
    (e.OverloadedError, 5),
    (e.JobCancelledError, 3),  # the job was cancelled: it will not be served as asked
    (e.UpstreamError, 6),
    (e.StorageError, 7),
    (ServerUnreachableError, 8),
)

# For errors a server sent back: by HTTP status when the type is not one of ours.
_BY_STATUS = {400: 3, 401: 4, 403: 4, 404: 3, 413: 3, 422: 3, 429: 5, 502: 6, 503: 5, 504: 6}

HINTS = {
    4: "Check the API key (--key or FLUX_REMIX_KEY).",
    5: "Try again later{when}.",
    6: "Cloudflare failed; try again, or look at `flux-remix accounts`.",
    7: "Check FLUX_REMIX_DATA_DIR, or DATABASE_URL and OBJECT_STORE_URL.",
    8: "Is `flux-remix serve` running there? Check --server.",
}


def error_classes() -> list[type[e.FluxRemixError]]:
    """Every class of the error tree in `flux_remix.errors` and the CLI's own, base first."""
    found: list[type[e.FluxRemixError]] = []
    todo: list[type[e.FluxRemixError]] = [e.FluxRemixError]
    while todo:
        cls = todo.pop(0)
        found.append(cls)
        todo.extend(cls.__subclasses__())
    tree = (e.__name__, __name__)
    return [c for c in found if c.__module__ in tree and c is not RemoteError]


def code_for_class(cls: type[e.FluxRemixError]) -> int:
    return next((code for base, code in EXIT_CODES if issubclass(cls, base)), 1)


def exit_code(exc: e.FluxRemixError) -> int:
    if isinstance(exc, RemoteError):
        by_kind = {cls.kind: code_for_class(cls) for cls in error_classes()}
        return by_kind.get(exc.kind) or _BY_STATUS.get(exc.status, 1)
    return code_for_class(type(exc))


def retry_after_of(exc: e.FluxRemixError) -> float | None:
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, int | float) else None


def hint(exc: e.FluxRemixError, code: int) -> str | None:
    text = HINTS.get(code)
    if text is None:
        return None
    wait = retry_after_of(exc)
    return text.format(when=f" (in about {math.ceil(wait)} s)" if wait else "")


def error_json(exc: e.FluxRemixError) -> dict[str, Any]:
    code = exit_code(exc)
    body: dict[str, Any] = {"type": exc.kind, "message": exc.message, "exit_code": code}
    wait = retry_after_of(exc)
    if wait is not None:
        body["retry_after"] = math.ceil(wait)
    field = getattr(exc, "field", None)
    if field:
        body["param"] = field
    return {"error": body}


def fail(exc: e.FluxRemixError, *, as_json: bool = False) -> typer.Exit:
    """Print the error (and a hint) on stderr, as JSON on stdout too; the exit to raise."""
    code = exit_code(exc)
    err.print(f"[bold red]flux-remix:[/] {escape(exc.message)}", highlight=False)
    advice = hint(exc, code)
    if advice:
        err.print(f"[dim]{escape(advice)}[/]", highlight=False)
    if as_json:
        write_json(error_json(exc))
    return typer.Exit(code)


def write_json(value: object, sink: TextIO | None = None) -> None:
    """One JSON document on one line, for scripts (`--json`)."""
    (sink or sys.stdout).write(json.dumps(value, ensure_ascii=False) + "\n")


def emit(value: T, as_json: bool, show: Callable[[T], None]) -> None:
    """`--json`: the value as one JSON line; otherwise `show` renders it for a person."""
    if as_json:
        write_json(value)
    else:
        show(value)
