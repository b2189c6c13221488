"""The error tree of flux-remix, drawn once.

    FluxRemixError
    ├── ConfigError                   bad configuration, reported at start-up
    ├── RequestError                  the caller's request cannot be served as asked (4xx)
    │   ├── InvalidParameterError     a field outside the model's limits (422, names field + limit)
    │   │   └── PayloadTooLargeError  a body, upload or image over a size limit (413)
    │   ├── UnknownModelError         no such model or alias (404)
    │   │   └── ProxiedModelError     a third-party model id without `@cf/` (404)
    │   ├── AuthenticationError       missing or wrong API key (401)
    │   │   └── AuthThrottledError    too many failed attempts from here (429, Retry-After)
    │   ├── PermissionDeniedError     a valid key without the needed role (403)
    │   ├── NotFoundError             no such image, or not one this key may see (404)
    │   ├── JobConflictError          the job cannot do that in its state (409)
    │   └── KeyQuotaError             this API key's own limit is reached (429, Retry-After)
    │       ├── KeyRateLimitedError   its requests per minute
    │       ├── KeyBudgetExhaustedError  its daily neurons
    │       └── JobLimitError         its jobs queued or running
    ├── UpstreamError                 Cloudflare refused or failed the call
    │   ├── QuotaExhaustedError       daily free neurons used up (4006 / 3036)
    │   ├── CapacityError             capacity temporarily exceeded (3040)
    │   ├── RateLimitedError          per-minute limit (3021) or a plain 429
    │   ├── ContentFlaggedError       output flagged by the safety filter (3030)
    │   ├── UpstreamBadInputError     upstream rejected the input (5006, 5004, 8006, 8007, 3030 ctx)
    │   ├── UpstreamModelGoneError    upstream does not know the model (5007, 3042)
    │   ├── AccountAuthError          the account's token was refused (10000, 6003, 401, 7003)
    │   ├── PaidPlanRequiredError     the model needs Workers Paid / not allowed (5035, 5016, 403)
    │   ├── UpstreamTimeoutError      408 (3007/3008) or our own timeout
    │   ├── UpstreamServerError       5xx from Cloudflare
    │   ├── UpstreamConnectionError   no connection could be made
    │   └── MalformedResponseError    a body that is not what the contract promises
    ├── NoCapacityError               every account is exhausted, cooling down or disabled
    ├── OverloadedError               this process has too many generations (503, Retry-After)
    ├── JobCancelledError             the job's owner cancelled it (a job's `failure` event)
    └── StorageError                  the metadata or blob store failed (503)

Only the upstream client turns HTTP responses into `UpstreamError`s; only the web layer turns
errors into status codes and JSON; only the CLI turns them into exit codes. The service never
knows about HTTP.
"""

from __future__ import annotations

from datetime import datetime


class FluxRemixError(Exception):
    """Base of every error flux-remix raises on purpose."""

    kind: str = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(FluxRemixError):
    """Configuration that cannot work; the message names the variable."""

    kind = "config_error"


class RequestError(FluxRemixError):
    kind = "invalid_request"


class InvalidParameterError(RequestError):
    kind = "invalid_parameter"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownModelError(RequestError):
    kind = "unknown_model"

    def __init__(self, model: str, known: list[str] | None = None) -> None:
        hint = f" Known models: {', '.join(known)}." if known else ""
        super().__init__(f"Unknown model '{model}'.{hint}")
        self.model = model


class ProxiedModelError(UnknownModelError):
    """A model id without `@cf/`: Cloudflare's catalog lists third-party models proxied through
    AI Gateway under such ids, paid from credits, not free neurons (contract section 12)."""

    kind = "proxied_model"

    def __init__(self, model: str) -> None:
        super().__init__(model)
        self.message = (
            f"'{model}' is not a Workers AI model: ids without '@cf/' name third-party models "
            "that Cloudflare proxies through AI Gateway and bills from paid credits, not the free "
            "daily neurons. flux-remix runs Workers AI models only; use an '@cf/...' id."
        )
        self.args = (self.message,)


class PayloadTooLargeError(InvalidParameterError):
    """A request body, an uploaded image or its pixel count over a configured limit."""

    kind = "payload_too_large"


class AuthenticationError(RequestError):
    kind = "authentication_error"


class AuthThrottledError(AuthenticationError):
    """Too many failed authentication attempts from this address or with this key prefix."""

    kind = "auth_throttled"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDeniedError(RequestError):
    kind = "permission_denied"


class NotFoundError(RequestError):
    kind = "not_found"


class KeyQuotaError(RequestError):
    """The caller's API key used up one of its own limits; `retry_after` says when it frees."""

    kind = "key_quota"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class KeyRateLimitedError(KeyQuotaError):
    kind = "key_rate_limited"


class KeyBudgetExhaustedError(KeyQuotaError):
    kind = "key_budget_exhausted"


class UpstreamError(FluxRemixError):
    """Cloudflare refused or failed a call. `code` is Cloudflare's error code when it sent one."""

    kind = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after
        self.account: str | None = None  # label of the account that got the error


class QuotaExhaustedError(UpstreamError):
    kind = "quota_exhausted"


class CapacityError(UpstreamError):
    kind = "capacity"


class RateLimitedError(UpstreamError):
    kind = "rate_limited"


class ContentFlaggedError(UpstreamError):
    kind = "content_flagged"


class UpstreamBadInputError(UpstreamError):
    kind = "upstream_bad_input"


class UpstreamModelGoneError(UpstreamError):
    kind = "model_unavailable"


class AccountAuthError(UpstreamError):
    kind = "account_auth"


class PaidPlanRequiredError(UpstreamError):
    kind = "paid_plan_required"


class UpstreamTimeoutError(UpstreamError):
    kind = "upstream_timeout"


class UpstreamServerError(UpstreamError):
    kind = "upstream_server_error"


class UpstreamConnectionError(UpstreamError):
    kind = "upstream_unreachable"


class MalformedResponseError(UpstreamError):
    kind = "malformed_response"


class NoCapacityError(FluxRemixError):
    """No account can take the request now; `retry_after` says when one should."""

    kind = "no_capacity"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        available_at: datetime | None = None,
        exhausted: bool = False,
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.available_at = available_at
        self.exhausted = exhausted


class StorageError(FluxRemixError):
    """The metadata database or the blob store failed; nothing was half-written."""

    kind = "storage_error"


class OverloadedError(FluxRemixError):
    """This process already runs and queues as many generations as it is allowed
    (`FLUX_REMIX_MAX_INFLIGHT`, `FLUX_REMIX_MAX_WAITING`); try again shortly."""

    kind = "overloaded"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobLimitError(KeyQuotaError):
    """This API key already has as many jobs queued or running as it may (429, Retry-After)."""

    kind = "job_limit"


class JobConflictError(RequestError):
    """The job cannot do that in its state, e.g. cancelling a finished job (409)."""

    kind = "conflict"


class JobCancelledError(FluxRemixError):
    """The job's owner cancelled it; what it made before the cancel is kept."""

    kind = "cancelled"
