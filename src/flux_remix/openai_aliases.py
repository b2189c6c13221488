"""Model names that OpenAI clients with a hard-coded model list send, and what they mean here.

Open WebUI's OpenAI engine offers only `dall-e-2`, `dall-e-3`, `gpt-image-1` and `gpt-image-1.5`;
LiteLLM and Cherry Studio presets send the same names. On the OpenAI routes such a name resolves
through this table (the defaults below, with `FLUX_REMIX_OPENAI_MODEL_ALIASES` on top) before the
catalog; `default` stands for the server's default model. GPT image names map to FLUX.2 models,
which take reference images, so `/v1/images/edits` works with them too.
"""

from __future__ import annotations

from collections.abc import Mapping

from flux_remix.catalog import Catalog
from flux_remix.errors import ConfigError, UnknownModelError
from flux_remix.settings import Settings

DEFAULT = "default"

OPENAI_MODEL_ALIASES: dict[str, str] = {
    "dall-e-2": DEFAULT,
    "dall-e-3": DEFAULT,
    "gpt-image-1": "@cf/black-forest-labs/flux-2-klein-4b",
    "gpt-image-1-mini": "@cf/black-forest-labs/flux-2-klein-4b",
    "gpt-image-1.5": "@cf/black-forest-labs/flux-2-klein-9b",
}

# What `/v1/images/edits` uses without a `model` (OpenAI's own default for edits).
EDIT_DEFAULT = "gpt-image-1"


def openai_aliases(settings: Settings) -> dict[str, str]:
    return {**OPENAI_MODEL_ALIASES, **settings.openai_aliases}


def openai_model(aliases: Mapping[str, str], name: str | None) -> str | None:
    """The catalog name for an OpenAI `model` (None: the server's default)."""
    if name is None:
        return None
    target = aliases.get(name.strip())
    if target is None:
        return name
    return None if target == DEFAULT else target


def check_openai_aliases(settings: Settings, catalog: Catalog) -> None:
    """Every alias names a model the catalog knows (a start-up configuration check)."""
    for alias, target in openai_aliases(settings).items():
        if target == DEFAULT:
            continue
        try:
            catalog.resolve(target)
        except UnknownModelError:
            raise ConfigError(
                f"invalid configuration: FLUX_REMIX_OPENAI_MODEL_ALIASES: '{alias}' points at "
                f"unknown model '{target}'"
            ) from None
