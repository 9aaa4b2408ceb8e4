"""Placeholder: filled in by issue 23's work."""

from __future__ import annotations

from typing import Any

BINDABLES: list[Any] = []
