"""Model names and descriptions as the web pages show them, in the page's language.

The catalog's name and description are the English ones (and what every API reports); the
Chinese page reads its words from `ZH`, falling back to the catalog's for a model missing here
(a test keeps every built-in model covered).
"""

from __future__ import annotations

from typing import Any

from flux_remix.web.i18n import Lang

# model id -> (name, description) on the Chinese page
ZH: dict[str, tuple[str, str]] = {
    "@cf/black-forest-labs/flux-1-schnell": (
        "FLUX.1 [schnell]",
        "快速的 120 亿参数 FLUX 模型；固定输出 1024×1024 的 JPEG。",
    ),
    "@cf/black-forest-labs/flux-2-dev": (
        "FLUX.2 [dev]",
        "画质最高的 FLUX.2；速度慢、费用高；最多 4 张参考图。",
    ),
    "@cf/black-forest-labs/flux-2-klein-4b": (
        "FLUX.2 [klein] 4B",
        "小而快的 FLUX.2（固定 4 步）；最多 4 张参考图。",
    ),
    "@cf/black-forest-labs/flux-2-klein-9b": (
        "FLUX.2 [klein] 9B",
        "FLUX.2 klein 90 亿参数版（固定 4 步）；最多 4 张参考图。",
    ),
    "@cf/leonardo/lucid-origin": ("Leonardo Lucid Origin", "Leonardo 的写实风格合作模型。"),
    "@cf/leonardo/phoenix-1.0": (
        "Leonardo Phoenix 1.0",
        "Leonardo 的合作模型，擅长在图中写字；输出 JPEG。",
    ),
    "@cf/stabilityai/stable-diffusion-xl-base-1.0": (
        "Stable Diffusion XL 基础版 1.0",
        "SDXL 原版基础模型：用途广泛，默认 20 步。",
    ),
    "@cf/bytedance/stable-diffusion-xl-lightning": (
        "Stable Diffusion XL Lightning（闪电版）",
        "为速度蒸馏的 SDXL：几步就能出好图。",
    ),
    "@cf/lykon/dreamshaper-8-lcm": (
        "DreamShaper 8 LCM",
        "基于 Stable Diffusion 1.5 微调，擅长艺术画与人像，速度快（LCM）。",
    ),
    "@cf/runwayml/stable-diffusion-v1-5-img2img": (
        "Stable Diffusion 1.5 图生图",
        "按提示词重绘一张输入图片。",
    ),
    "@cf/runwayml/stable-diffusion-v1-5-inpainting": (
        "Stable Diffusion 1.5 局部重绘",
        "按蒙版重绘输入图片中的白色区域。",
    ),
}


def localize(models: list[dict[str, Any]], lang: Lang) -> list[dict[str, Any]]:
    """`models` (as `describe_models` gives them) with names and descriptions in `lang`."""
    if lang != "zh":
        return models
    out = []
    for model in models:
        name, description = ZH.get(model["id"], (model["name"], model["description"]))
        out.append({**model, "name": name, "description": description})
    return out
