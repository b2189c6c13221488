"""The thin Cloudflare Workers AI client: request encoding, response decoding, error mapping."""

from flux_remix.upstream.client import TextResult, UpstreamImage, WorkersAIClient

__all__ = ["TextResult", "UpstreamImage", "WorkersAIClient"]
