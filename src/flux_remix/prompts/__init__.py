"""Prompt handling: language detection and translation into English."""

from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.translate import PromptTranslator

__all__ = ["PromptTranslator", "has_cjk"]
