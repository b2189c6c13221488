"""Around each upstream image call, the pipeline's own logic: the image cache key, identical
calls in flight run once, and the keeper that looks up, joins, generates and stores (through
`flux_remix.storage`, which holds only persistence)."""

from flux_remix.generation.cache import image_cache_key
from flux_remix.generation.flight import Flights
from flux_remix.generation.keeper import JobContext, Keeper, Provenance

__all__ = ["Flights", "JobContext", "Keeper", "Provenance", "image_cache_key"]
