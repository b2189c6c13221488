"""The one place where errors become HTTP statuses and JSON bodies.

Each API shape words its errors its own way: the original API answers `{"error": "..."}`, the
native and OpenAI-compatible APIs answer `{"error": {"message", "type", "param", "code"}}`. No
stack trace, account id or token ever reaches a client.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flux_remix import errors as e

log = logging.getLogger("flux_remix.web")

Shape = Literal["original", "native", "openai", "a1111"]
ORIGINAL_PATHS = ("/api/image", "/api/generate-image", "/api/models")


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None
    retry_after: int | None = Field(default=None, description="Seconds (also in Retry-After)")


class ErrorBody(BaseModel):
    """Every error answer: `error` is an object on the native and OpenAI routes, a message
    string (with `type` beside it) on the original routes."""

    error: ErrorDetail | str
    type: str | None = None
    param: str | None = None


# Declared on every operation of the OpenAPI schema (and replacing FastAPI's default 422).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "The request cannot be served as asked"},
    "5XX": {"model": ErrorBody, "description": "Upstream, storage or capacity failure"},
}


@dataclass(frozen=True)
class Problem:
    status: int
    type: str
    message: str
    param: str | None = None
    retry_after: float | None = None


_STATUS: tuple[tuple[type[e.FluxRemixError], int], ...] = (
    (e.PayloadTooLargeError, 413),
    (e.InvalidParameterError, 422),
    (e.KeyQuotaError, 429),
    (e.UnknownModelError, 404),
    (e.AuthThrottledError, 429),
    (e.AuthenticationError, 401),
    (e.PermissionDeniedError, 403),
    (e.NotFoundError, 404),
    (e.JobConflictError, 409),
    (e.RequestError, 400),
    (e.NoCapacityError, 503),
    (e.JobCancelledError, 409),
    (e.StorageError, 503),
    (e.OverloadedError, 503),
    (e.QuotaExhaustedError, 429),
    (e.CapacityError, 503),
    (e.RateLimitedError, 429),
    (e.ContentFlaggedError, 400),
    (e.UpstreamBadInputError, 400),
    (e.UpstreamModelGoneError, 404),
    (e.PaidPlanRequiredError, 403),
    (e.UpstreamTimeoutError, 504),
    (e.AccountAuthError, 502),
    (e.UpstreamError, 502),
)

_PREFIX: dict[str, str] = {
    e.ContentFlaggedError.kind: "Cloudflare's safety filter flagged the output; reword the prompt",
    e.UpstreamBadInputError.kind: "Cloudflare rejected the input",
    e.UpstreamModelGoneError.kind: "This model is not available on Cloudflare any more",
    e.PaidPlanRequiredError.kind: "This model needs the Workers Paid plan on the account",
    e.AccountAuthError.kind: "Cloudflare refused the account token; check CF_ACCOUNT_LIST",
    e.UpstreamTimeoutError.kind: "Cloudflare timed out",
    e.UpstreamServerError.kind: "Cloudflare failed",
    e.UpstreamConnectionError.kind: "Cloudflare could not be reached",
    e.MalformedResponseError.kind: "Cloudflare sent an unreadable answer",
    e.CapacityError.kind: "Cloudflare is out of capacity; try again shortly",
    e.RateLimitedError.kind: "Cloudflare's rate limit was reached; try again shortly",
    e.QuotaExhaustedError.kind: "The daily free neurons are used up",
}


def problem_of(exc: e.FluxRemixError, shape: Shape = "native") -> Problem:
    status = next(code for cls, code in _STATUS if isinstance(exc, cls))
    if isinstance(exc, e.NoCapacityError) and exc.exhausted:
        status = 429
    if shape == "original" and isinstance(exc, e.UnknownModelError):
        status = 400  # the original answered 400 for an invalid model
    message = exc.message
    prefix = _PREFIX.get(exc.kind)
    if prefix and isinstance(exc, e.UpstreamError):
        message = f"{prefix}: {exc.message}" if exc.message else prefix
    retry_after = getattr(exc, "retry_after", None)
    param = getattr(exc, "field", None)
    return Problem(status, exc.kind, message, param, retry_after)


def shape_of(request: Request) -> Shape:
    return shape_of_path(request.url.path)


def shape_of_path(path: str) -> Shape:
    if path.startswith(ORIGINAL_PATHS):
        return "original"
    if path.startswith("/v1/"):
        return "openai"
    if path.startswith("/sdapi/"):
        return "a1111"
    return "native"


def render(problem: Problem, shape: Shape, request_id: str | None = None) -> JSONResponse:
    headers: dict[str, str] = {}
    if problem.retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(problem.retry_after)))
    if problem.status == 401:
        headers["WWW-Authenticate"] = "Basic" if shape == "a1111" else "Bearer"
    body: dict[str, Any]
    status = problem.status
    if shape == "original":
        body = {"error": problem.message, "type": problem.type}
        if problem.param:
            body["param"] = problem.param
    elif shape == "openai":
        status, body = openai_error(problem)
    elif shape == "a1111":  # A1111's api_middleware: {"error", "detail", "body", "errors"}
        body = {"error": problem.type, "detail": problem.message, "body": "", "errors": ""}
        if problem.param:
            body["param"] = problem.param
    else:
        body = {
            "error": {
                "message": problem.message,
                "type": problem.type,
                "param": problem.param,
                "code": problem.type,
            }
        }
        if problem.retry_after is not None:
            body["error"]["retry_after"] = math.ceil(problem.retry_after)
    if request_id:
        headers["X-Request-ID"] = request_id
    return JSONResponse(body, status_code=status, headers=headers)


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_error",
}
_OPENAI_CODES = {
    e.UnknownModelError.kind: "model_not_found",
    e.AuthenticationError.kind: "invalid_api_key",
}


def openai_error(problem: Problem) -> tuple[int, dict[str, Any]]:
    """A problem in OpenAI's words: any invalid parameter is a 400, types are OpenAI's, and
    `code` says what exactly went wrong (flux-remix's error kind)."""
    status = 400 if problem.status == 422 else problem.status
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    error: dict[str, Any] = {
        "message": problem.message,
        "type": kind,
        "param": problem.param,
        "code": _OPENAI_CODES.get(problem.type, problem.type),
    }
    if problem.retry_after is not None:
        error["retry_after"] = math.ceil(problem.retry_after)
    return status, {"error": error}


def _validation_problem(exc: RequestValidationError) -> Problem:
    first = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(loc) or None
    msg = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        return Problem(400, "invalid_request", "The request body is not valid JSON")
    message = f"{field}: {msg}" if field else msg
    return Problem(422, "invalid_parameter", message, field)


def install(app: FastAPI) -> None:
    """Register the exception handlers that turn every error into a clean response."""

    def request_id(request: Request) -> str | None:
        return getattr(request.state, "request_id", None)

    @app.exception_handler(e.FluxRemixError)
    async def _flux(request: Request, exc: e.FluxRemixError) -> JSONResponse:
        shape = shape_of(request)
        return render(problem_of(exc, shape), shape, request_id(request))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return render(_validation_problem(exc), shape_of(request), request_id(request))

    @app.exception_handler(ValidationError)
    async def _model(request: Request, exc: ValidationError) -> JSONResponse:
        # a model built inside a route from values that break its rules (a NaN guidance, …)
        errors: list[dict[str, Any]] = [dict(err) for err in exc.errors()]
        first = errors[0] if errors else {}
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        msg = str(first.get("msg", "invalid value"))
        problem = Problem(422, "invalid_parameter", f"{field}: {msg}" if field else msg, field)
        return render(problem, shape_of(request), request_id(request))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        problem = Problem(exc.status_code, kind, str(exc.detail))
        response = render(problem, shape_of(request), request_id(request))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        rid = request_id(request)
        log.error(
            "unhandled error in %s (request %s): %s",
            request.url.path,
            rid,
            type(exc).__name__,
            exc_info=exc,
        )
        problem = Problem(500, "internal_error", f"Internal error (request id {rid})")
        return render(problem, shape_of(request), rid)
