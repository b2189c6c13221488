"""Language detection: does a prompt contain Chinese, Japanese or Korean text, and which?"""

from __future__ import annotations

import re

# CJK ideographs (+ extension A, compatibility), kana, hangul, and CJK/full-width punctuation.
_CJK = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
)
_IDEOGRAPH = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def has_cjk(text: str) -> bool:
    """True when `text` has at least one CJK ideograph, kana or hangul character."""
    return _IDEOGRAPH.search(text) is not None


_KANA = re.compile("[\u3040-\u30ff]")
_HANGUL = re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def cjk_language(text: str) -> str | None:
    """The language a CJK prompt's script says it is: "ja" (any kana), "ko" (any hangul),
    "zh" (ideographs only), or None when it has no CJK text. Japanese mixes ideographs with
    kana, so kana decides before ideographs do."""
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _HAN.search(text):
        return "zh"
    return None


def cjk_chars(text: str) -> list[str]:
    return _CJK.findall(text)
