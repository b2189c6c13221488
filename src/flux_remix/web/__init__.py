"""The web layer: app factory, dependencies, error mapping and one router per API shape."""

from flux_remix.web.app import create_app

__all__ = ["create_app"]
