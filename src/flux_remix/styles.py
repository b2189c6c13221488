"""Style presets: a named look whose English words join the prompt sent to the model.

A request may name one preset (`"style": "watercolor"`); its words are added after
translation, so they reach the model as written and the "sent prompt" shows them. The style's
id is stored with each image (in its parameters). Adding a preset is one entry below.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    id: str
    words: str  # English, appended to the prompt sent
    name_en: str
    name_zh: str

    def name(self, lang: str) -> str:
        return self.name_zh if lang == "zh" else self.name_en


STYLES: tuple[Style, ...] = (
    Style("photo", "photograph, realistic, natural light, sharp focus", "Photo", "摄影"),
    Style("anime", "anime style, cel shading, vibrant colors, clean lines", "Anime", "动漫"),
    Style("watercolor", "watercolor painting, soft washes, paper texture", "Watercolor", "水彩"),
    Style(
        "oil-painting",
        "oil painting, visible brushstrokes, rich colors, canvas texture",
        "Oil painting",
        "油画",
    ),
    Style(
        "cinematic",
        "cinematic still, dramatic lighting, shallow depth of field, film grain",
        "Cinematic",
        "电影感",
    ),
    Style(
        "line-art",
        "line art, black ink on white, clean outlines, no shading",
        "Line art",
        "线稿",
    ),
)

BY_ID: dict[str, Style] = {s.id: s for s in STYLES}


def check_style(style: str | None) -> str | None:
    """`style` when it names a preset (or is None); a ValueError that lists them otherwise."""
    if style is None or style in BY_ID:
        return style
    raise ValueError(f"unknown style {style[:64]!r}; one of: {', '.join(BY_ID)}")


def with_style(prompt: str, style: str | None) -> str:
    """The prompt with the style's words after it (unchanged without a style)."""
    if style is None:
        return prompt
    return f"{prompt.rstrip().rstrip(',.;，。；')}, {BY_ID[style].words}"
