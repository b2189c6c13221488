"""What the LLM is asked, and how its answer is cleaned into one prompt line.

Both tasks answer with the prompt only, on one line, keeping weights and brackets such as
`(masterpiece:1.2)` and `[...]`. Answers are cleaned of reasoning traces, labels ("Translation:"),
surrounding quotes and line breaks; a translation that lost a weight or bracket is refused.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

TRANSLATE_SYSTEM = (
    "You translate prompts for an image generation model into English. "
    "Answer with the English prompt only, on one line, with no quotes, notes or explanations. "
    "Keep weights and brackets such as (masterpiece:1.2) and [ ... ] exactly where they are, "
    "translating only the words inside them. Keep English words, numbers and tags such as "
    "1girl unchanged, and keep the meaning and order of the original."
)

_ENHANCE_SYSTEM = (
    "You enhance prompts for an image generation model. Expand the user's idea, in whatever "
    "language it is written, into one detailed English image prompt: the subject, setting, "
    "composition, lighting, colours, style and quality. Keep every weight and bracket such as "
    "(masterpiece:1.2) and [ ... ] and every English tag. Answer with the prompt only, on one "
    "line, in at most {limit} characters, with no quotes, headings or explanations."
)

ENHANCE_MAX_CHARS = 1000  # a detailed prompt; longer ones only dilute the subject
CHARS_PER_TOKEN = 3  # conservative for English (about 4) and safe for CJK echoes

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S | re.I)
_LABEL = re.compile(
    r"^(?:here is |here's )?(?:the )?(?:english |enhanced |improved |final |translated )?"
    r"(?:translation|prompt|output|answer|result)(?: is)?\s*[:：]\s*",
    re.I,
)
_QUOTES = {'"': '"', "'": "'", "`": "`", "“": "”", "「": "」", "‘": "’"}
_WEIGHT = re.compile(r":\s*(-?\d+(?:\.\d+)?)\s*[)\]]")


def enhance_system(limit: int) -> str:
    return _ENHANCE_SYSTEM.format(limit=limit)


def enhance_limit(prompt_max: int) -> int:
    """Characters to ask for: the model's prompt limit, capped at a useful length."""
    return max(200, min(prompt_max, ENHANCE_MAX_CHARS))


def translate_tokens(text: str) -> int:
    """`max_tokens` for a translation: room for the text and a margin, never the 256 default."""
    return max(256, min(2048, 2 * len(text) + 64))


def enhance_tokens(limit: int) -> int:
    return limit // CHARS_PER_TOKEN + 64


def clean_answer(text: str) -> str:
    """One prompt line from an LLM answer: no reasoning, label, quotes or line breaks."""
    text = _THINK.sub("", text).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].endswith((":", "：")):
        lines = lines[1:]  # "Here is the translation:" on a line of its own
    joined = ""
    for line in lines:
        line = _LABEL.sub("", line)
        if joined and not joined.endswith((",", ";", ".")):
            joined += ","
        joined = f"{joined} {line}" if joined else line
    text = _LABEL.sub("", " ".join(joined.split()))
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    return text


def _structure(text: str) -> tuple[Counter[str], Counter[str]]:
    text = unicodedata.normalize("NFKC", text).replace("【", "[").replace("】", "]")
    brackets = Counter(ch for ch in text if ch in "()[]")
    weights = Counter(repr(float(w)) for w in _WEIGHT.findall(text))
    return brackets, weights


def structure_kept(source: str, answer: str) -> bool:
    """True when `answer` has the same brackets and weights as `source` (full-width or not)."""
    return _structure(source) == _structure(answer)
