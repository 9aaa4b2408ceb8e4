"""A ticket's QR code as an inline SVG document, drawn server-side with segno.

The SVG is an image with a name (``role="img"``, ``aria-label`` and ``<title>``, each starting
"QR code"), so a screen reader announces it wherever the page puts it. It keeps its pixel size
and gains a ``viewBox``, so CSS may scale it. A code is a pure function of its token and
label: drawn once per API process (a 10-seat booking listed again costs nothing).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

import segno

SCALE = 4  # pixels per module: a version-11 code is 61 modules + the quiet zone = 276 px


@lru_cache(maxsize=4096)
def qr_svg(token: str, label: str) -> str:
    code = segno.make(token, error="m", micro=False)
    width, height = code.symbol_size(scale=SCALE)
    name = escape(f"QR code: {label}", quote=True)
    svg = code.svg_inline(scale=SCALE, title=f"QR code: {label}")
    head = f'<svg role="img" aria-label="{name}" viewBox="0 0 {width} {height}"'
    return head + svg.removeprefix("<svg")


def ticket_label(section: str, row: str, number: int) -> str:
    return f"ticket for {section} row {row} seat {number}"
