"""Cleaning LLM answers, checking weights and brackets, token budgets; CC-CEDICT senses."""

from __future__ import annotations

import pytest

from flux_remix.prompts import instructions as ask
from flux_remix.prompts.cedict import best_gloss, build_glossary, clean_sense


@pytest.mark.parametrize(
    ("answer", "clean"),
    [
        ("a cat on a sofa", "a cat on a sofa"),
        ("<think>The user wants…</think>\n\na cat", "a cat"),
        ("<think>cut off by max_tokens", ""),
        ('"a cat on a sofa"', "a cat on a sofa"),
        ("“a cat”", "a cat"),
        ("Translation: a cat", "a cat"),
        ("English prompt: a cat", "a cat"),
        ("Here is the translation:\n\na cat,\nsunset", "a cat, sunset"),
        ("a cat\nsunset\n", "a cat, sunset"),
        ("  a   cat  ", "a cat"),
    ],
)
def test_clean_answer(answer, clean):
    assert ask.clean_answer(answer) == clean


@pytest.mark.parametrize(
    ("source", "answer", "kept"),
    [
        ("(杰作:1.2), 猫", "(masterpiece:1.2), cat", True),
        ("（杰作：1.2），猫", "(masterpiece:1.2), cat", True),
        ("[模糊], 猫", "[blurry], cat", True),
        ("【模糊】", "[blurry]", True),
        ("(杰作:1.2), 猫", "( masterpiece, 1, 2), cat", False),
        ("(杰作:1.2)", "(masterpiece:1.3)", False),
        ("[模糊], 猫", "blurry, cat", False),
        ("一只猫", "a cat", True),
    ],
)
def test_structure_kept(source, answer, kept):
    assert ask.structure_kept(source, answer) is kept


def test_token_budgets_are_explicit_and_fit_the_prompt_limit():
    assert ask.translate_tokens("猫") == 256  # never the model's small default
    assert ask.translate_tokens("猫" * 2000) == 2048
    limit = ask.enhance_limit(2048)
    assert limit == ask.ENHANCE_MAX_CHARS and ask.enhance_limit(300) == 300
    assert ask.enhance_tokens(limit) * 3 >= limit
    assert str(limit) in ask.enhance_system(limit)


def test_instructions_ask_for_one_line_and_kept_weights():
    for system in (ask.TRANSLATE_SYSTEM, ask.enhance_system(1000)):
        assert "one line" in system and "(masterpiece:1.2)" in system


@pytest.mark.parametrize(
    ("sense", "gloss"),
    [
        ("light; ray (CL:道[dao4])", "light"),
        ("to sit", "sit"),
        ("surname Wang", None),
        ("variant of 貓|猫[mao1]", None),
        ("CL:隻|只[zhi1]", None),
        ("oriental cherry (Prunus serrulata), prized for its blossom", "oriental cherry"),
        ("to absorb sth", "absorb"),
        ("Shanghai municipality, central east China, abbr. to 滬|沪[Hu4]", "Shanghai municipality"),
    ],
)
def test_clean_sense(sense, gloss):
    assert clean_sense(sense) == gloss


def test_best_gloss_prefers_short_usable_senses():
    assert best_gloss(["surname Li", "plum"]) == "plum"
    assert best_gloss(["a very long sense with many many words", "short one"]) == "short one"
    assert best_gloss(["CL:個|个[ge4]"]) is None


def test_common_words_win_over_proper_names():
    lines = [
        "# comment",
        "京都 京都 [Jing1 du1] /Kyoto, Japan/",
        "京都 京都 [jing1 du1] /capital (of a country)/",
        "巴黎 巴黎 [Ba1 li2] /Paris, capital of France/",
        "貓 猫 [mao1] /cat (CL:隻|只[zhi1])/",
    ]
    glossary = build_glossary(lines)
    assert glossary["京都"] == "capital"
    assert glossary["巴黎"] == "Paris"
    assert glossary["猫"] == glossary["貓"] == "cat"
