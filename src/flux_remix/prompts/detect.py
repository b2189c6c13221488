"""Language detection: does a prompt contain Chinese, Japanese or Korean text?"""

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


def cjk_chars(text: str) -> list[str]:
    return _CJK.findall(text)
