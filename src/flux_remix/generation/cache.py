"""Cache keys: what makes two requests the same image.

Two images are the same when the model, the final prompt (after translation and enhancement)
and every effective parameter, seed included, are the same; input images count by content
hash. Only requests with an explicit seed are cached: without one the seed is random, so no
two requests ask for the same image.
"""

from __future__ import annotations

import hashlib
import json

from flux_remix.validation import EffectiveParams

VERSION = "v1"  # bump when the meaning of a key changes, so old keys stop matching


def image_cache_key(params: EffectiveParams, prompt: str) -> str:
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
    }
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{VERSION}:{hashlib.sha256(text.encode('utf-8')).hexdigest()}"
