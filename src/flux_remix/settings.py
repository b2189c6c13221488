"""Configuration, compatible with the original CF Flux Remix environment variables.

Settings are built by `load_settings(environ)` and passed in; nothing reads a module global.
Every problem is reported as one `ConfigError` whose message names the variable.
"""

from __future__ import annotations

import base64
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from flux_remix.catalog import DEFAULT_TRANSLATE_MODEL
from flux_remix.errors import ConfigError

TranslateMode = Literal["off", "auto", "always"]
DEFAULT_API_BASE = "https://api.cloudflare.com/client/v4"

_ORIGIN = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s]+$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Account(BaseModel):
    """One Cloudflare account. Its id and token never reach a log line, response or repr."""

    model_config = ConfigDict(frozen=True)

    label: str
    account_id: SecretStr
    token: SecretStr


class Settings(BaseModel):
    """Everything flux-remix is configured with. Field aliases are the environment variables."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    api_keys: tuple[SecretStr, ...] = Field(default=(), alias="API_KEY")
    admin_api_keys: tuple[SecretStr, ...] = Field(default=(), alias="ADMIN_API_KEY")
    accounts: tuple[Account, ...] = Field(default=(), alias="CF_ACCOUNT_LIST")
    translate_model: str = Field(default=DEFAULT_TRANSLATE_MODEL, alias="CF_TRANSLATE_MODEL")
    translate_default: TranslateMode = Field(default="auto", alias="CF_IS_TRANSLATE")
    use_external_api: bool = Field(default=False, alias="USE_EXTERNAL_API")
    external_api: str | None = Field(default=None, alias="EXTERNAL_API")
    external_model: str | None = Field(default=None, alias="EXTERNAL_MODEL")
    external_api_key: SecretStr | None = Field(default=None, alias="EXTERNAL_API_KEY")
    translator: Literal["llm", "dictionary"] = Field(default="llm", alias="FLUX_REMIX_TRANSLATOR")
    enhance_default: bool = Field(default=False, alias="FLUX_REMIX_ENHANCE")
    llm_timeout: float = Field(default=30.0, gt=0, le=600, alias="FLUX_REMIX_LLM_TIMEOUT")
    prompt_cache_size: int = Field(
        default=1024, ge=0, le=1_000_000, alias="FLUX_REMIX_PROMPT_CACHE_SIZE"
    )
    flux_num_steps: int = Field(default=4, ge=1, le=8, alias="FLUX_NUM_STEPS")
    customer_model_map: dict[str, str] = Field(default_factory=dict, alias="CUSTOMER_MODEL_MAP")
    extra_models: tuple[dict[str, Any], ...] = Field(
        default=(), alias="FLUX_REMIX_EXTRA_MODELS"
    )  # models by family (model_families.py)
    discover_models: bool = Field(default=False, alias="FLUX_REMIX_DISCOVER_MODELS")
    openai_aliases: dict[str, str] = Field(
        default_factory=dict, alias="FLUX_REMIX_OPENAI_MODEL_ALIASES"
    )  # on top of OPENAI_MODEL_ALIASES (see openai_aliases.py)
    default_model: str | None = Field(default=None, alias="DEFAULT_MODEL")
    cf_api_base: str = Field(default=DEFAULT_API_BASE, alias="CF_API_BASE")
    data_dir: Path = Field(default_factory=lambda: _default_data_dir(), alias="FLUX_REMIX_DATA_DIR")
    upstream_timeout: float = Field(
        default=120.0, gt=0, le=600, alias="FLUX_REMIX_UPSTREAM_TIMEOUT"
    )
    request_deadline: float = Field(default=180.0, gt=0, le=1800, alias="FLUX_REMIX_DEADLINE")
    daily_neurons: float = Field(default=10_000.0, gt=0, alias="FLUX_REMIX_DAILY_NEURONS")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    redis_prefix: str = Field(default="flux-remix:", min_length=1, alias="REDIS_PREFIX")
    database_url: SecretStr | None = Field(default=None, alias="DATABASE_URL")
    object_store_url: str | None = Field(default=None, alias="OBJECT_STORE_URL")
    object_store_bucket: str = Field(
        default="flux-remix",
        pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
        alias="OBJECT_STORE_BUCKET",
    )
    object_store_access_key: str | None = Field(default=None, alias="OBJECT_STORE_ACCESS_KEY")
    object_store_secret_key: SecretStr | None = Field(default=None, alias="OBJECT_STORE_SECRET_KEY")
    object_store_region: str = Field(default="us-east-1", min_length=1, alias="OBJECT_STORE_REGION")
    public_base_url: str | None = Field(default=None, alias="PUBLIC_BASE_URL")
    cors_origins: tuple[str, ...] = Field(default=(), alias="CORS_ORIGINS")
    sse_keepalive: float = Field(default=10.0, gt=0, le=300, alias="FLUX_REMIX_SSE_KEEPALIVE")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", alias="LOG_LEVEL"
    )
    log_format: Literal["text", "json"] = Field(default="text", alias="LOG_FORMAT")
    shutdown_timeout: int = Field(default=30, ge=0, le=3600, alias="FLUX_REMIX_SHUTDOWN_TIMEOUT")
    session_secret: SecretStr | None = Field(default=None, alias="FLUX_REMIX_SESSION_SECRET")
    # request limits, checked before any work (limits.py)
    max_body_bytes: int = Field(default=32 * 2**20, ge=1024, alias="FLUX_REMIX_MAX_BODY_BYTES")
    max_image_bytes: int = Field(default=10 * 2**20, ge=1024, alias="FLUX_REMIX_MAX_IMAGE_BYTES")
    max_image_pixels: int = Field(
        default=4096 * 4096, ge=64 * 64, alias="FLUX_REMIX_MAX_IMAGE_PIXELS"
    )
    max_json_depth: int = Field(default=64, ge=2, le=1000, alias="FLUX_REMIX_MAX_JSON_DEPTH")
    max_json_values: int = Field(
        default=100_000, ge=100, le=10_000_000, alias="FLUX_REMIX_MAX_JSON_VALUES"
    )
    # slow or idle clients (web/server.py): a request's headers must arrive within this
    header_timeout: float = Field(default=10.0, gt=0, le=300, alias="FLUX_REMIX_HEADER_TIMEOUT")
    # load shedding (web/shedding.py): generations running and waiting per process
    max_inflight: int = Field(default=64, ge=1, le=100_000, alias="FLUX_REMIX_MAX_INFLIGHT")
    max_waiting: int = Field(default=128, ge=0, le=1_000_000, alias="FLUX_REMIX_MAX_WAITING")
    max_wait: float = Field(default=5.0, gt=0, le=600, alias="FLUX_REMIX_MAX_WAIT")
    # failed authentication (web/auth_gate.py): per client address and per key prefix
    auth_failures_per_minute: int = Field(
        default=10, ge=0, le=100_000, alias="FLUX_REMIX_AUTH_FAILURES_PER_MINUTE"
    )
    allow_short_keys: bool = Field(default=False, alias="FLUX_REMIX_ALLOW_SHORT_KEYS")
    session_idle_timeout: int = Field(
        default=86_400, ge=1, le=30 * 86_400, alias="FLUX_REMIX_SESSION_IDLE_TIMEOUT"
    )
    # an account that keeps failing with 5xx/408/timeouts rests (accounts/breaker)
    breaker_failures: int = Field(default=3, ge=1, le=1000, alias="FLUX_REMIX_BREAKER_FAILURES")
    # per-key limits (keys/): the default for keys that set none; 0 means no limit
    key_rate_limit: int = Field(default=0, ge=0, le=1_000_000, alias="FLUX_REMIX_KEY_RATE_LIMIT")
    key_daily_neurons: float = Field(default=0.0, ge=0, alias="FLUX_REMIX_KEY_DAILY_NEURONS")
    key_pepper: SecretStr | None = Field(default=None, alias="FLUX_REMIX_KEY_PEPPER")
    # generation jobs (jobs/): workers per process, fair shares, leases, retention, webhooks
    workers: int = Field(default=64, ge=0, le=4096, alias="FLUX_REMIX_WORKERS")
    jobs_per_key: int = Field(
        default_factory=lambda: 4 * (os.cpu_count() or 1), ge=1, alias="FLUX_REMIX_JOBS_PER_KEY"
    )
    jobs_max: int = Field(default=10_000, ge=1, alias="FLUX_REMIX_JOBS_MAX")
    job_lease: float = Field(default=15.0, ge=0.5, le=3600, alias="FLUX_REMIX_JOB_LEASE")
    job_retention: float = Field(default=900.0, ge=1, alias="FLUX_REMIX_JOB_RETENTION")
    webhook_secret: SecretStr | None = Field(default=None, alias="FLUX_REMIX_WEBHOOK_SECRET")
    webhook_allow: tuple[str, ...] = Field(default=(), alias="FLUX_REMIX_WEBHOOK_ALLOW")
    webhook_attempts: int = Field(default=8, ge=1, le=50, alias="FLUX_REMIX_WEBHOOK_ATTEMPTS")
    demo: bool = False

    # --- parsing of the original's string formats ------------------------------------------

    @field_validator("api_keys", "admin_api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(k.strip() for k in value.split(",") if k.strip())
        return value

    @field_validator("accounts", mode="before")
    @classmethod
    def _parse_accounts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = _load_json(value, '[{"account_id": "...", "token": "..."}]', ())
        if not isinstance(value, list | tuple):
            raise ValueError('expected a JSON list like [{"account_id": "...", "token": "..."}]')
        accounts: list[Account] = []
        seen: set[str] = set()
        for i, item in enumerate(value, start=1):
            if isinstance(item, Account):
                accounts.append(item)
                continue
            if not isinstance(item, dict):
                raise ValueError(f"entry {i} is not an object with account_id and token")
            account_id = str(item.get("account_id") or "").strip()
            token = str(item.get("token") or "").strip()
            if not account_id:
                raise ValueError(f"entry {i} has an empty account_id")
            if not token:
                raise ValueError(f"entry {i} has an empty token")
            label = str(item.get("label") or item.get("name") or f"cf-{i}").strip()
            if label in seen:
                raise ValueError(f"entry {i} repeats the label '{label}'")
            if account_id in label or token in label:
                raise ValueError(f"entry {i} has a label that contains its id or token")
            seen.add(label)
            accounts.append(
                Account(label=label, account_id=SecretStr(account_id), token=SecretStr(token))
            )
        return tuple(accounts)

    @field_validator("translate_default", mode="before")
    @classmethod
    def _parse_translate(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "auto" if value else "off"
        if isinstance(value, str):
            v = value.strip().lower()
            if v in ("auto", "always", "off"):
                return v
            return "auto" if _bool_word(v, "expected true/false (or auto/always/off)") else "off"
        return value

    @field_validator("log_level", "log_format", "translator", mode="before")
    @classmethod
    def _fold_case(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return value.strip().upper() if info.field_name == "log_level" else value.strip().lower()

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        if not isinstance(value, list | tuple):
            return value
        for origin in value:
            if origin != "*" and not _ORIGIN.match(origin):
                raise ValueError(
                    f"'{origin}' is not an origin; expected '*' or comma-separated origins "
                    "like https://chat.example.com (scheme and host, no path)"
                )
        return tuple(value)

    @field_validator("webhook_allow", mode="before")
    @classmethod
    def _parse_webhook_allow(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        if not isinstance(value, list | tuple):
            return value
        for prefix in value:
            if not re.match(r"^https?://[^/\s]+(/\S*)?$", prefix):
                raise ValueError(
                    f"'{prefix}' is not a URL prefix; expected comma-separated prefixes like "
                    "https://hooks.example.com/flux/"
                )
        return tuple(value)

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _check_webhook_secret(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            secret = value.strip().removeprefix("whsec_")
            try:
                decoded = base64.b64decode(secret + "=" * (-len(secret) % 4), validate=True)
            except ValueError:
                decoded = b""
            if len(decoded) < 16:
                raise ValueError(
                    "expected whsec_ and at least 16 random bytes in base64, as Standard Webhooks "
                    "receivers take it (e.g. `flux-remix jobs webhook-secret` output)"
                )
            return value.strip()
        return value

    @field_validator("extra_models", mode="before")
    @classmethod
    def _parse_extra_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = _load_json(value, '[{"id": "@cf/...", "family": "sdxl"}]', [])
        if not isinstance(value, list | tuple) or not all(isinstance(v, dict) for v in value):
            raise ValueError(
                'expected a JSON list of objects: [{"id": "@cf/...", "family": "sdxl"}]'
            )
        return tuple(value)

    @field_validator(
        "use_external_api", "enhance_default", "discover_models", "allow_short_keys", mode="before"
    )
    @classmethod
    def _parse_bool(cls, value: Any) -> Any:
        if isinstance(value, str):
            return _bool_word(value, "expected true or false")
        return value

    @field_validator("customer_model_map", "openai_aliases", mode="before")
    @classmethod
    def _parse_map(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = _load_json(value, '{"alias": "@cf/..."}', {})
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip()
            for k, v in value.items()
        ):
            raise ValueError('expected a JSON object of non-empty strings: {"alias": "@cf/..."}')
        return {k.strip(): v.strip() for k, v in value.items()}

    @field_validator("cf_api_base", "public_base_url", mode="before")
    @classmethod
    def _check_base(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            return DEFAULT_API_BASE if info.field_name == "cf_api_base" else None
        if isinstance(value, str):
            if not value.startswith(("http://", "https://")):
                raise ValueError("expected an http(s) URL")
            return value.rstrip("/")
        return value

    @field_validator("external_api_key", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("session_secret", "key_pepper", mode="before")
    @classmethod
    def _check_session_secret(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if len(value.strip()) < 16:
                raise ValueError("must be at least 16 characters (a long random string)")
            return value.strip()
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _check_database_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.strip().startswith(("postgresql://", "postgres://")):
                raise ValueError(
                    "expected a PostgreSQL URL such as postgresql://user:password@host:5432/db "
                    "(unset it to keep history in SQLite in FLUX_REMIX_DATA_DIR)"
                )
            return value.strip()
        return value

    @field_validator("object_store_url", mode="before")
    @classmethod
    def _check_object_store_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.strip().startswith(("http://", "https://")):
                raise ValueError(
                    "expected the store's http(s) endpoint, e.g. http://127.0.0.1:8333"
                )
            return value.strip().rstrip("/")
        return value

    @field_validator("object_store_access_key", "object_store_secret_key", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("redis_url", mode="before")
    @classmethod
    def _check_redis_url(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return None
            if not value.strip().startswith(("redis://", "rediss://", "unix://")):
                raise ValueError("expected a URL such as redis://127.0.0.1:6379/0")
            return value.strip()
        return value

    # --- derived --------------------------------------------------------------------------

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys or self.admin_api_keys)

    @property
    def effective_default_model(self) -> str:
        if self.default_model:
            return self.default_model
        if self.customer_model_map:
            return next(iter(self.customer_model_map))
        return "FLUX.1-Schnell-CF"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "flux-remix.sqlite3"


def _bool_word(value: str, problem: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(problem)


def _load_json(value: str, example: str, empty: Any) -> Any:
    """JSON from an environment string; an empty string is `empty`."""
    if not value.strip():
        return empty
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"not valid JSON ({exc.msg} at position {exc.pos}); expected {example}"
        ) from None


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "flux-remix"


def demo_data_dir() -> Path:
    """Where `--demo` keeps its images, history and keys unless FLUX_REMIX_DATA_DIR is set:
    beside real use's, never in it, so nothing made in the demo appears in real use."""
    return _default_data_dir() / "demo"


ENV_NAMES: tuple[str, ...] = tuple(
    str(f.alias) for f in Settings.model_fields.values() if f.alias is not None
)


def read_wrangler_vars(path: Path) -> dict[str, str]:
    """The `[vars]` table of an existing `wrangler.toml`, as environment-style strings."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"wrangler.toml ({path}): cannot read it: {exc}") from None
    raw = data.get("vars", {})
    out: dict[str, str] = {}
    for name, value in raw.items():
        out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    wrangler_toml: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Settings from environment variables (and optionally a wrangler.toml's `[vars]` below them).

    Raises `ConfigError` with one readable message naming every bad variable.
    """
    env = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = read_wrangler_vars(wrangler_toml) if wrangler_toml else {}
    values.update({name: env[name] for name in ENV_NAMES if name in env})
    values.update(overrides)
    if values.get("demo") and not {"FLUX_REMIX_DATA_DIR", "data_dir"} & values.keys():
        values["data_dir"] = demo_data_dir()
    try:
        settings = Settings.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    _check_consistency(settings)
    return settings


def _describe(exc: ValidationError) -> str:
    by_name = {name: f.alias or name for name, f in Settings.model_fields.items()}
    lines = []
    for err in exc.errors():
        loc = err.get("loc", ())
        field = str(loc[0]) if loc else "?"
        var = by_name.get(field, field)
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        lines.append(f"{var}: {msg}")
    return "invalid configuration: " + "; ".join(lines)


def _check_consistency(settings: Settings) -> None:
    if settings.use_external_api and not (settings.external_api and settings.external_model):
        raise ConfigError(
            "invalid configuration: USE_EXTERNAL_API is true but EXTERNAL_API and "
            "EXTERNAL_MODEL are not both set"
        )
    if settings.object_store_url and not (
        settings.object_store_access_key and settings.object_store_secret_key
    ):
        raise ConfigError(
            "invalid configuration: OBJECT_STORE_URL is set but OBJECT_STORE_ACCESS_KEY and "
            "OBJECT_STORE_SECRET_KEY are not both set"
        )
