"""Input schemas of the emulated models (contract §3, §4): fields, types, bounds, defaults."""

from __future__ import annotations

from typing import Literal

from flux_remix.emulator.validate import Field, ObjectSchema

ImageInputs = Literal["none", "references", "sd-image", "sd-inpaint"]
"""Which input images a model takes: none, FLUX.2 reference files, SD image, SD image+mask."""


def _int(lo: float | None, hi: float | None, default: int | None = None, desc: str = "") -> Field:
    return Field("integer", desc, default, minimum=lo, maximum=hi)


def _num(lo: float | None, hi: float | None, default: float | None = None, desc: str = "") -> Field:
    return Field("number", desc, default, minimum=lo, maximum=hi)


PROMPT = Field("string", "A text description of the image you want to generate.", min_length=1)


def schnell_schema(accepts_seed: bool) -> ObjectSchema:
    """The strict current schnell schema; ``seed`` only when the config flag allows it."""
    props: dict[str, Field] = {
        "prompt": Field("string", PROMPT.description, min_length=1, max_length=2048),
        "steps": _int(1, 8, 4, "The number of diffusion steps. Default is 4."),
    }
    if accepts_seed:
        props["seed"] = _int(0, None, desc="Random seed for reproducibility.")
    return ObjectSchema(props, required=("prompt",), additional=False)


def flux2_schema(with_steps: bool) -> ObjectSchema:
    """FLUX.2 multipart fields; klein has no ``steps`` (fixed at 4)."""
    props: dict[str, Field] = {"prompt": PROMPT}
    for index in range(4):
        props[f"input_image_{index}"] = Field("binary", "Reference image, smaller than 512x512.")
    if with_steps:
        props["steps"] = _int(1, 50, 50, "Number of inference steps.")
    props |= {
        "guidance": _num(None, None, desc="Guidance scale."),
        "width": _int(256, 1920, 1024, "Output width in pixels."),
        "height": _int(256, 1920, 768, "Output height in pixels."),
        "seed": _int(0, None, desc="Random seed for reproducibility."),
    }
    return ObjectSchema(props, required=("prompt",), additional=False)


def leonardo_schema(
    *,
    size: tuple[float, float, int],
    guidance: tuple[float, float, float],
    steps: tuple[int, int, int | None],
    lucid: bool,
) -> ObjectSchema:
    lo, hi, default = size
    props: dict[str, Field] = {
        "prompt": PROMPT,
        "guidance": _num(*guidance, desc="Prompt adherence."),
        "seed": _int(0, None, desc="Random seed for reproducibility."),
        "height": _int(lo, hi, default, "The height of the generated image in pixels."),
        "width": _int(lo, hi, default, "The width of the generated image in pixels."),
        "num_steps": _int(*steps, desc="The number of diffusion steps."),
    }
    if lucid:
        props["steps"] = _int(steps[0], steps[1], desc="Alias of num_steps.")
    else:
        props["negative_prompt"] = Field("string", "What to keep out of the image.", min_length=1)
    return ObjectSchema(props, required=("prompt",))


BYTES = Field("array", items=Field("integer", minimum=0, maximum=255))


def sd_schema(image_inputs: ImageInputs) -> ObjectSchema:
    """The shared Stable Diffusion schema; img2img needs a source image, inpainting a mask too."""
    props: dict[str, Field] = {
        "prompt": PROMPT,
        "negative_prompt": Field("string", "Text describing elements to avoid."),
        "height": _int(256, 2048, desc="The height of the generated image in pixels."),
        "width": _int(256, 2048, desc="The width of the generated image in pixels."),
        "image": Field("array", "Input image file bytes (0-255).", items=BYTES.items),
        "image_b64": Field("string", "Base64 of the input image."),
        "mask": Field("array", "Mask image file bytes (0-255).", items=BYTES.items),
        "num_steps": _int(1, 20, 20, "The number of diffusion steps; default 20, max 20."),
        "strength": _num(0, 1, 1, "How strongly to transform the input image."),
        "guidance": _num(None, None, 7.5, "Prompt adherence."),
        "seed": _int(None, None, desc="Random seed for reproducibility."),
    }
    required: tuple[str, ...] = ("prompt",)
    any_of: tuple[ObjectSchema, ...] = ()
    if image_inputs in ("sd-image", "sd-inpaint"):
        any_of = (ObjectSchema({}, required=("image",)), ObjectSchema({}, required=("image_b64",)))
    if image_inputs == "sd-inpaint":
        required = ("prompt", "mask")
    return ObjectSchema(props, required=required, any_of=any_of)


def chat_schema(default_max_tokens: int) -> ObjectSchema:
    """Text generation: exactly one of ``prompt`` or ``messages``, plus sampling options."""
    message = ObjectSchema(
        {"role": Field("string"), "content": Field("string")}, required=("role", "content")
    )
    prompt_branch = ObjectSchema(
        {"prompt": Field("string", "The input text prompt.", min_length=1, max_length=131072)},
        required=("prompt",),
    )
    messages_branch = ObjectSchema(
        {"messages": Field("array", "Conversation so far.", items=Field("object", schema=message))},
        required=("messages",),
    )
    props = {
        "max_tokens": _int(1, None, default_max_tokens, "Maximum number of tokens to generate."),
        "temperature": _num(0, 5, 0.6, "Randomness of the output."),
        "top_p": _num(None, None),
        "top_k": _int(1, 50),
        "seed": _int(1, 9999999999),
        "repetition_penalty": _num(None, None),
        "frequency_penalty": _num(None, None),
        "presence_penalty": _num(None, None),
        "stream": Field("boolean", default=False),
        "raw": Field("boolean"),
        "response_format": Field("object"),
        "chat_template_kwargs": Field("object"),
        "lora": Field("string"),
        "tools": Field("array"),
    }
    return ObjectSchema(props, one_of=(prompt_branch, messages_branch))


TRANSLATE_SCHEMA = ObjectSchema(
    {
        "text": Field("string", "The text to be translated.", min_length=1),
        "source_lang": Field("string", "The language code of the source text.", "en"),
        "target_lang": Field("string", "The language code to translate the text into."),
    },
    required=("text", "target_lang"),
)
