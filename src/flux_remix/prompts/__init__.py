"""Prompt handling: language detection, LLM and offline translation, enhancement, cache, hints.

aspect.py        a trailing "16:9" → the nearest legal size; cut from the prompt
pipeline.py      PromptPipeline.prepare(): modes off / auto / always, enhance, fallback
llm.py           Workers AI text models (through the account pool), OpenAI-compatible LLMs
instructions.py  what the LLM is asked, and how its answer is cleaned
dictionary.py    the offline translator: jieba + CC-CEDICT (cedict.py) + vocabulary.py
cache.py         in-process LRU or Redis
setup.py         build_pipeline(settings, …)
"""

from flux_remix.prompts.aspect import AspectHint, apply_aspect_hint
from flux_remix.prompts.detect import has_cjk
from flux_remix.prompts.pipeline import PromptPipeline
from flux_remix.prompts.setup import build_pipeline

__all__ = ["AspectHint", "PromptPipeline", "apply_aspect_hint", "build_pipeline", "has_cjk"]
