"""Cache keys: what makes two requests the same image.

Two images are the same when the model, the final prompt (after translation and enhancement)
and every effective parameter, seed included, are the same; input images count by content
hash. Only requests with an explicit seed are cached: without one the seed is random, so no
two requests ask for the same image.

The key is scoped to the caller's API key (`scope`): one key's cache never answers another's,
so a hit can never confirm another key's prompt, and no image id or stored copy is shared
between keys (docs/security.md, "Image cache").
"""

from __future__ import annotations

import hashlib
import json

from flux_remix.validation import EffectiveParams

VERSION = "v2"  # bump when the meaning of a key changes, so old keys stop matching (v2: scoped)


def image_cache_key(params: EffectiveParams, prompt: str, scope: str | None = None) -> str:
    """The image's cache key for callers with API key id `scope` (None: keys are off)."""
    inputs = {
        name: [hashlib.sha256(image.data).hexdigest() for image in images]
        for name, images in params.images.items()
    }
    identity = {
        "model": params.model.id,
        "prompt": prompt,
        "width": params.width,
        "height": params.height,
        "seed": params.seed,
        "values": params.values,
        "inputs": inputs,
        "scope": scope,
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{VERSION}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"
