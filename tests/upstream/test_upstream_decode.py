import base64
import json
from datetime import UTC, datetime

import httpx
import pytest

from flux_remix import errors as e
from flux_remix.upstream.decode import (
    _plain_image,
    check_image,
    classify_error,
    clean_message,
    decode_image,
    error_from_response,
    image_from_response,
    parse_retry_after,
)

UUID = "(3f0b7f0e-1111-4c4c-9a9a-123456789abc)"


@pytest.mark.parametrize(
    ("status", "code", "message", "cls"),
    [
        (
            429,
            4006,
            "AiError: AiError: you have used up your daily free allocation of 10,000 neurons "
            + UUID,
            e.QuotaExhaustedError,
        ),
        (429, 3036, "You have used up your daily free allocation", e.QuotaExhaustedError),
        (
            429,
            None,
            "you have used up your daily free allocation of 10,000 neurons",
            e.QuotaExhaustedError,
        ),
        (429, 3040, "Capacity temporarily exceeded, please try again.", e.CapacityError),
        (429, None, "Capacity temporarily exceeded, please try again.", e.CapacityError),
        (429, 3021, "rate limiting: inference request per min rate reached", e.RateLimitedError),
        (429, None, "", e.RateLimitedError),
        (
            400,
            3030,
            f"AiError: AiError: Your output has been flagged. {UUID}",
            e.ContentFlaggedError,
        ),
        (400, 3030, "AiError: AiError: Max context reached 9000 tokens", e.UpstreamBadInputError),
        (400, 5006, "AiError: Bad input: Error: oneOf at '/' not met", e.UpstreamBadInputError),
        (400, 5007, "No such model @cf/x or task", e.UpstreamModelGoneError),
        (404, 3042, "The model name is invalid", e.UpstreamModelGoneError),
        (401, 10000, "Authentication error", e.AccountAuthError),
        (400, 6003, "Invalid request headers", e.AccountAuthError),
        (404, 7003, "Could not route to /client/v4/accounts/x/ai", e.AccountAuthError),
        (403, 5035, "prompting you to upgrade", e.PaidPlanRequiredError),
        (408, 3007, "Request timeout", e.UpstreamTimeoutError),
        (408, None, "", e.UpstreamTimeoutError),
        (500, None, "", e.UpstreamServerError),
        (502, None, "", e.UpstreamServerError),
        (200, None, "something odd", e.UpstreamServerError),
        (400, 8007, 'AiError: AiError: {"object":"error"}', e.UpstreamBadInputError),
    ],
)
def test_classification_code_first_then_message(status, code, message, cls):
    assert classify_error(status, code, message) is cls


def response(
    status: int, body: bytes | str, ctype: str = "application/json", **headers
) -> httpx.Response:
    content = body.encode() if isinstance(body, str) else body
    return httpx.Response(status, content=content, headers={"content-type": ctype, **headers})


def test_envelope_with_string_code_and_retry_after():
    r = response(
        429,
        '{"errors":[{"message":"Capacity temporarily exceeded","code":"3040"}],'
        '"success":false,"result":{}}',
        **{"retry-after": "7"},
    )
    err = error_from_response(r)
    assert isinstance(err, e.CapacityError) and err.code == 3040 and err.retry_after == 7


def test_html_error_page_is_a_server_error():
    err = error_from_response(response(502, "<html>Bad gateway</html>", "text/html"))
    assert isinstance(err, e.UpstreamServerError)
    assert "HTTP 502" in err.message


def test_success_false_with_http_200_is_a_failure():
    r = response(
        200,
        '{"success":false,"errors":[{"code":3040,"message":"Capacity temporarily exceeded"}],'
        '"result":{}}',
    )
    with pytest.raises(e.CapacityError):
        image_from_response(r)


def test_malformed_json_and_bad_base64():
    with pytest.raises(e.MalformedResponseError, match="not valid JSON"):
        image_from_response(response(200, '{"result": {"image": "abc'))
    with pytest.raises(e.MalformedResponseError, match="base64"):
        image_from_response(response(200, '{"success":true,"result":{"image":"***"}}'))
    with pytest.raises(e.MalformedResponseError, match="content type"):
        image_from_response(response(200, "hello", "text/plain"))


def test_image_checks_catch_non_images_and_truncation():
    with pytest.raises(e.MalformedResponseError, match="not a PNG or JPEG"):
        check_image(b"GIF89a....")
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 30)).save(buf, "PNG")
    assert check_image(buf.getvalue()) == ("png", 40, 30)
    with pytest.raises(e.MalformedResponseError, match="truncated"):
        check_image(buf.getvalue()[: len(buf.getvalue()) // 2])
    buf = io.BytesIO()
    Image.new("RGB", (64, 48)).save(buf, "JPEG")
    assert check_image(buf.getvalue()) == ("jpeg", 64, 48)
    with pytest.raises(e.MalformedResponseError, match="truncated"):
        check_image(buf.getvalue()[:-40])


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "12"}, 12.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after": "Wed, 25 Nov 2026 00:00:30 GMT"}, 30.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_parsing(headers, expected):
    now = datetime(2026, 11, 25, 0, 0, 0, tzinfo=UTC)
    assert parse_retry_after(httpx.Headers(headers), now) == expected


def test_clean_message_strips_prefix_and_uuid():
    assert clean_message(f"AiError: AiError: Your output has been flagged. {UUID}") == (
        "Your output has been flagged."
    )


IMAGE_B64 = base64.b64encode(b"\xff\xd8\xff" + bytes(range(256)) * 40).decode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f'{{"result":{{"image":"{IMAGE_B64}"}},"success":true}}', id="as-sent"),
        pytest.param(
            f'{{ "success": true, "errors": [], "result": {{ "image":"{IMAGE_B64}" }} }}',
            id="spaced-and-reordered",
        ),
        pytest.param(
            f'{{"result":{{"meta":{{"image":"x"}},"image":"{IMAGE_B64}"}},"success":true}}',
            id="an-earlier-image-key",
        ),
        pytest.param(
            f'{{"result":{{"image":"{IMAGE_B64[:40]}\\/{IMAGE_B64[41:]}"}},"success":true}}',
            id="an-escaped-slash",
        ),
        pytest.param(f'{{"result":{{"image" : "{IMAGE_B64}"}}}}', id="space-before-colon"),
    ],
)
def test_an_image_envelope_decodes_the_same_however_it_is_laid_out(body):
    decoded = decode_image(response(200, body))
    assert decoded.b64 == json.loads(body)["result"]["image"]
    assert decoded.data == base64.b64decode(decoded.b64)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (f'{{"result":{{"image":"{IMAGE_B64}"}},"success":false,"errors":[]}}', e.UpstreamError),
        (f'{{"result":{{"image":"{IMAGE_B64}"}},"result":{{}}}}', e.MalformedResponseError),
        (f'{{"result":{{"image":"{IMAGE_B64}","image":""}}}}', e.MalformedResponseError),
        (f'{{"result":{{"image":"{IMAGE_B64}"}}', e.MalformedResponseError),  # cut short
        ('{"result":{"image":""},"success":true}', e.MalformedResponseError),
        (f'{{"result":{{"image":"{IMAGE_B64}!"}}}}', e.MalformedResponseError),
    ],
    ids=["success-false", "result-twice", "image-twice", "truncated", "empty", "not-base64"],
)
def test_what_is_not_one_plain_image_is_judged_by_the_full_parse(body, error):
    with pytest.raises(error):
        decode_image(response(200, body))


def test_the_usual_envelope_is_read_without_parsing_its_base64_as_json():
    plain = f'{{"result":{{"image":"{IMAGE_B64}"}},"success":true,"errors":[],"messages":[]}}'
    found = _plain_image(plain.encode())
    assert found is not None and found.b64 == IMAGE_B64
    nested = f'{{"result":{{"meta":{{"image":"x"}},"image":"{IMAGE_B64}"}}}}'
    assert _plain_image(nested.encode()) is None  # left to the full parse
