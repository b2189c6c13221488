"""Property tests: settings parsing, size mapping, prompt cleaning and the offline translator
never crash on any input, and keep their promises for all of them."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from flux_remix.catalog import build_catalog
from flux_remix.errors import ConfigError, InvalidParameterError
from flux_remix.prompts.aspect import apply_aspect_hint, nearest_size, split_hint
from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.dictionary import shared_dictionary, tidy
from flux_remix.prompts.instructions import clean_answer
from flux_remix.schemas import ImageRequest
from flux_remix.settings import ENV_NAMES, load_settings
from flux_remix.validation import validate_request
from flux_remix.web.json_shape import JsonShape, ShapeLimits
from flux_remix.web.openai_params import map_size

CATALOG = build_catalog({}, 4)
SIZED = [m for m in CATALOG if not m.size.fixed]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(max_size=200)
cjk = st.text(
    alphabet=st.sampled_from(
        "一只猫在月光下的城市街道上漫步赛博朋克风格高清细节水彩画山川日落，。！？、"
        "ひらがなカタカナ한국어"
    ),
    min_size=1,
    max_size=60,
)
mixed = st.lists(st.one_of(cjk, st.text(max_size=20)), max_size=6).map("".join)


# --- settings ----------------------------------------------------------------------------


@FAST
@given(name=st.sampled_from(ENV_NAMES), value=text)
def test_any_value_of_any_variable_loads_or_names_the_variable(name, value):
    try:
        load_settings({name: value})
    except ConfigError as exc:
        assert exc.message.startswith("invalid configuration: ")
        assert name in exc.message


key_text = st.text(alphabet=st.characters(blacklist_characters=","), max_size=30)


@FAST
@given(keys=st.lists(key_text.map(lambda k: f"zq9-{k}"), max_size=5), blanks=st.integers(0, 2))
def test_api_keys_split_on_commas_and_are_never_shown(keys, blanks):
    settings_ = load_settings({"API_KEY": ",".join([*keys, *[" "] * blanks])})
    expected = [k.strip() for k in keys]
    assert [k.get_secret_value() for k in settings_.api_keys] == expected
    shown = repr(settings_) + str(settings_) + settings_.model_dump_json()
    assert "zq9-" not in shown


hexid = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
token = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=20)


@FAST
@given(pairs=st.lists(st.tuples(hexid, token), min_size=1, max_size=5, unique_by=lambda p: p[0]))
def test_account_lists_parse_and_keep_ids_and_tokens_out_of_every_repr(pairs):
    raw = json.dumps([{"account_id": a, "token": t} for a, t in pairs])
    parsed = load_settings({"CF_ACCOUNT_LIST": raw})
    assert [a.label for a in parsed.accounts] == [f"cf-{i}" for i in range(1, len(pairs) + 1)]
    shown = repr(parsed) + str(parsed) + parsed.model_dump_json()
    for account_id, secret in pairs:
        assert account_id not in shown and secret not in shown


@FAST
@given(word=st.sampled_from(["1", "true", "YES", "On", "0", "false", "No", "off", ""]))
def test_boolean_words_in_any_case(word):
    expected = word.strip().lower() in ("1", "true", "yes", "on")
    env = {"USE_EXTERNAL_API": word, "EXTERNAL_API": "http://x", "EXTERNAL_MODEL": "m"}
    assert load_settings(env).use_external_api is expected


# --- size mapping ------------------------------------------------------------------------


@FAST
@given(model=st.sampled_from(list(CATALOG)), size=st.one_of(st.none(), text))
def test_any_size_string_maps_or_names_size(model, size):
    try:
        width, height, _ = map_size(model, size)
    except InvalidParameterError as exc:
        assert exc.field == "size"
        return
    if width is not None:
        assert model.size.minimum <= width <= model.size.maximum
        assert height is not None and model.size.minimum <= height <= model.size.maximum


@FAST
@given(
    model=st.sampled_from(list(CATALOG)),
    width=st.integers(0, 99_999),
    height=st.integers(0, 99_999),
)
def test_well_formed_sizes_are_taken_inside_the_limits_and_only_there(model, width, height):
    limits = model.size
    try:
        got = map_size(model, f"{width}x{height}")
    except InvalidParameterError:
        assert not limits.fixed
        assert not (limits.minimum <= width <= limits.maximum) or not (
            limits.minimum <= height <= limits.maximum
        )
        return
    if limits.fixed:
        assert got[:2] == (None, None)  # schnell makes its own size, with a note when it differs
    else:
        assert got[:2] == (width, height)


@FAST
@given(model=st.sampled_from(SIZED), ratio=st.floats(0.25, 4.0))
def test_a_ratio_maps_to_a_legal_size_near_it(model, ratio):
    width, height = nearest_size(model.size, ratio)
    assert model.size.minimum <= width <= model.size.maximum
    assert model.size.minimum <= height <= model.size.maximum
    other = nearest_size(model.size, 1 / ratio)  # the mirrored ratio gives the mirrored shape
    assert (width >= height) == (other[1] >= other[0]) or abs(width - height) <= 64


@FAST
@given(
    model=st.sampled_from(list(CATALOG)),
    words=st.text(min_size=1, max_size=80),
    w=st.integers(1, 32),
    h=st.integers(1, 32),
)
def test_an_aspect_hint_always_gives_a_request_the_model_accepts(model, words, w, h):
    assume(words.strip())
    req = ImageRequest(prompt=f"{words} {w}:{h}", model=model.id)
    sized, _ = apply_aspect_hint(model, req)
    rest, _ = split_hint(req.prompt)
    assert sized.prompt == rest and req.prompt.startswith(rest)
    try:
        validate_request(model, sized)
    except InvalidParameterError as exc:
        assert exc.field not in ("width", "height")  # only prompt or required images remain


# --- prompt cleaning ---------------------------------------------------------------------


@FAST
@given(answer=text, thoughts=text)
def test_cleaned_llm_answers_are_one_trimmed_line_without_reasoning(answer, thoughts):
    assume("<think>" not in answer.lower() and "</think>" not in thoughts.lower())
    cleaned = clean_answer(f"<think>{thoughts}</think>{answer}")
    assert "\n" not in cleaned and "\r" not in cleaned
    assert cleaned == cleaned.strip()
    assert "<think>" not in cleaned.lower()
    if thoughts.strip() and thoughts.strip() not in answer:
        assert thoughts.strip() not in cleaned or len(thoughts.strip()) < 4


@FAST
@given(value=text)
def test_tidy_is_idempotent_and_leaves_no_stray_separators(value):
    once = tidy(value)
    assert tidy(once) == once
    assert not once.startswith((",", " ")) and not once.endswith((",", " "))
    assert "  " not in once and ",," not in once


# --- the offline translator --------------------------------------------------------------


@pytest.fixture(scope="module")
def dictionary():
    translator = shared_dictionary()
    translator.load_sync()
    return translator


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(prompt=st.one_of(mixed, text, cjk))
def test_the_offline_translator_never_crashes_and_never_returns_cjk(dictionary, prompt):
    english = dictionary.translate_sync(prompt)
    assert isinstance(english, str)
    assert not has_cjk(english)
    assert english == english.strip(" ,")


# --- request bodies: non-finite numbers and the JSON shape limits --------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.sampled_from('ab,[]{}":\\ \n漢'), max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=30,
)


def true_shape(value) -> tuple[int, int]:
    """(nesting depth, values) of a parsed JSON value, as JsonShape counts them."""
    if isinstance(value, list | dict):
        items = list(value.values()) if isinstance(value, dict) else value
        inner = [true_shape(v) for v in items]
        depth = 1 + max((d for d, _ in inner), default=0)
        return depth, max(len(items), 1) + sum(n - 1 for _, n in inner)
    return 0, 1


def fed(body: bytes, cuts: list[int], limits: ShapeLimits) -> JsonShape:
    shape = JsonShape(limits)
    points = sorted({c % (len(body) + 1) for c in cuts})
    for start, end in zip([0, *points], [*points, len(body)], strict=True):
        shape.feed(body[start:end])
    return shape


@FAST
@given(value=json_values, cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_json_shape_counts_values_and_never_passes_a_body_too_deep(value, cuts):
    body = json.dumps(value, ensure_ascii=False).encode()
    depth, values = true_shape(value)
    roomy = fed(body, cuts, ShapeLimits(max_depth=1000, max_values=10**6))
    assert roomy.problem is None and roomy.values >= values and roomy.depth == 0
    # commas counted are exactly the values after the first in each container
    assert roomy.values == body.count(b",") - _commas_in_strings(value) + 1
    tight = fed(body, cuts, ShapeLimits(max_depth=max(depth - 1, 0), max_values=10**6))
    assert depth == 0 or tight.problem is not None  # too deep is never let through


def _commas_in_strings(value) -> int:
    if isinstance(value, str):
        return value.count(",")
    if isinstance(value, list):
        return sum(_commas_in_strings(v) for v in value)
    if isinstance(value, dict):
        return sum(_commas_in_strings(k) + _commas_in_strings(v) for k, v in value.items())
    return 0


non_finite = st.sampled_from(["NaN", "Infinity", "-Infinity"])


@FAST
@given(value=json_values, bad=non_finite, name=st.sampled_from(["guidance", "strength", "x"]))
def test_a_non_finite_literal_anywhere_is_refused_naming_its_field(value, bad, name):
    body = json.dumps({"prompt": value, name: 1.5}).encode().replace(b"1.5", bad.encode(), 1)
    shape = JsonShape(ShapeLimits(max_depth=1000, max_values=10**6))
    problem = shape.feed(body)
    if b"1.5" in json.dumps(value).encode():
        return  # the replacement landed in `value`: not the field this case is about
    assert problem is not None and problem.status == 422 and problem.param == name


@FAST
@given(
    guidance=st.sampled_from([math.nan, math.inf, -math.inf, "NaN", "-inf", "Infinity"]),
    field_=st.sampled_from(["guidance", "strength"]),
)
def test_image_requests_refuse_non_finite_numbers(guidance, field_):
    with pytest.raises(ValidationError) as caught:
        ImageRequest.model_validate({"prompt": "x", field_: guidance})
    assert caught.value.errors()[0]["loc"] == (field_,)
