import io
import json
import logging

from flux_remix.logs import JsonFormatter, RedactingFilter, Redactor, secrets_of
from flux_remix.settings import load_settings

ACCOUNTS = '[{"account_id": "0123456789abcdef0123456789abcdef", "token": "tok-very-secret-1"}]'


def capture(fmt: logging.Formatter) -> tuple[logging.Logger, io.StringIO]:
    settings = load_settings({"CF_ACCOUNT_LIST": ACCOUNTS, "API_KEY": "key-very-secret"})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(Redactor(secrets_of(settings))))
    handler.setFormatter(fmt)
    logger = logging.getLogger(f"test-logs-{id(stream)}")
    logger.propagate = False
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_secrets_are_removed_from_messages_args_extras_and_tracebacks():
    logger, stream = capture(logging.Formatter("%(message)s %(route)s"))
    logger.info(
        "calling %s",
        "https://x/accounts/0123456789abcdef0123456789abcdef/ai/run",
        extra={"route": "Bearer key-very-secret"},
    )
    try:
        raise RuntimeError("token tok-very-secret-1 refused")
    except RuntimeError:
        logger.exception("failed with key-very-secret", extra={"route": "/x"})
    out = stream.getvalue()
    for secret in ("tok-very-secret-1", "key-very-secret", "0123456789abcdef0123456789abcdef"):
        assert secret not in out
    assert out.count("[REDACTED]") >= 4
    assert "RuntimeError" in out


def test_shapes_are_redacted_even_when_not_configured():
    redact = Redactor([])
    assert redact("Authorization: Bearer abc.def") == "Authorization: Bearer [REDACTED]"
    assert redact("/accounts/ffffffffffffffffffffffffffffffff/ai") == "/accounts/[REDACTED]/ai"
    assert redact('{"api_key": "sk-123"}') == '{"api_key": "[REDACTED]"}'


def test_json_lines_carry_extra_fields():
    logger, stream = capture(JsonFormatter())
    logger.info("request done", extra={"route": "/api/image", "status": 200, "duration_ms": 12.5})
    entry = json.loads(stream.getvalue())
    assert entry["message"] == "request done"
    assert entry["route"] == "/api/image" and entry["status"] == 200 and entry["level"] == "info"


def test_nested_extras_and_store_credentials_are_redacted():
    settings = load_settings(
        {
            "CF_ACCOUNT_LIST": ACCOUNTS,
            "DATABASE_URL": "postgresql://app:pg-pass-w0rd@db:5432/flux",
            "REDIS_URL": "redis://:redis-pass-w0rd@cache:6379/0",
            "OBJECT_STORE_URL": "http://s3:8333",
            "OBJECT_STORE_ACCESS_KEY": "access-id-1234",
            "OBJECT_STORE_SECRET_KEY": "s3-secret-w0rd",
        }
    )
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(Redactor(secrets_of(settings))))
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test-logs-nested")
    logger.propagate = False
    logger.addHandler(handler)
    logger.warning(
        "store at %s failed",
        "postgresql://app:pg-pass-w0rd@db:5432/flux",
        extra={"detail": {"url": "redis://:redis-pass-w0rd@cache", "keys": ["s3-secret-w0rd"]}},
    )
    out = stream.getvalue()
    for secret in ("pg-pass-w0rd", "redis-pass-w0rd", "s3-secret-w0rd", "access-id-1234"):
        assert secret not in out
    entry = json.loads(out)
    assert entry["detail"]["keys"] == ["[REDACTED]"]
    assert "db:5432" in entry["message"]  # only the credentials go, not the whole line
