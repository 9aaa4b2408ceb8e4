"""Fetching a Prometheus endpoint's text for the bench's metric readers."""

from __future__ import annotations

import httpx


def fetch(url: str | None) -> str:
    """The endpoint's text; empty when there is no endpoint or it cannot be reached, which
    every reader parses as "nothing measured"."""
    if not url:
        return ""
    try:
        return httpx.get(url, timeout=5).text
    except httpx.HTTPError:
        return ""
