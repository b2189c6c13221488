"""One router per API shape."""
