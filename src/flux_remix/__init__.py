"""flux-remix: prompts to images through Cloudflare Workers AI."""

__version__ = "0.1.0"
