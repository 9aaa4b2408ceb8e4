"""The buyer's page: static files from ``api/web/``, served on the API's own origin.

The page is plain ES modules with no build step, so serving it is a file read: ``/`` and every
page path the client-side router knows answer ``index.html`` (a reload or a shared link lands
on the right page), and ``/web/<file>`` the modules, styles and vendored licences. Everything
else the page needs it asks ``/graphql`` for, like any other client.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

WEB_ROOT = Path(__file__).parent / "web"

# The page loads only its own files and talks only to its own origin (HTTP and websocket);
# QR codes are server-drawn SVG shown as data: images.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

# The client-side router's pages (api/web/router.js): each answers the same document.
PAGE_PATHS = ("/", "/events/{event_id}", "/tickets", "/signin", "/register", "/checkin")

router = APIRouter(include_in_schema=False)


def _page() -> FileResponse:
    # no-cache: the document is revalidated, so a new deploy's modules are picked up at once.
    return FileResponse(
        WEB_ROOT / "index.html",
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"},
    )


for _path in PAGE_PATHS:
    router.add_api_route(_path, _page, methods=["GET"])


# Served by a route, not a StaticFiles mount: a mount on an APIRouter is not carried over by
# include_router, and the app takes this module as one router.
_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}


@router.get("/web/{name:path}")
def web_file(name: str) -> FileResponse:
    path = (WEB_ROOT / name).resolve()
    if not path.is_relative_to(WEB_ROOT.resolve()) or not path.is_file():
        raise HTTPException(404)
    media = _TYPES.get(path.suffix)
    if media is None:
        raise HTTPException(404)
    # no-cache: revalidated by ETag on each load, so a new deploy's modules apply at once.
    return FileResponse(
        path, media_type=f"{media}; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )
