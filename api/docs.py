"""The API's documentation pages, served whole from this server: no CDN, a strict CSP.

FastAPI's own ``/docs`` and ``/redoc`` load Swagger UI and ReDoc from a CDN (a blank page
without internet, and a third party's script on the page). ``/docs`` serves Swagger UI 5
from the files the pinned ``fastapi-offline`` package ships, with the start-up script in
a file of its own, so the Content-Security-Policy allows scripts from this server only.
There is no ``/redoc``: ReDoc's bundle loads its logo from redoc.ly, another host.
"""

from __future__ import annotations

import html
import importlib.resources
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse, Response

from api.errors import ApiError

DOCS = "/docs"
ASSETS = "/docs/assets"
OPENAPI = "/openapi.json"

_PACKAGE = Path(str(importlib.resources.files("fastapi_offline") / "static"))
_FILES = {
    "swagger-ui-bundle.js": (_PACKAGE / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (_PACKAGE / "swagger-ui.css", "text/css"),
    "favicon.png": (_PACKAGE / "favicon.png", "image/png"),
}
"""The assets, by name: only these are served (no path reaches the file system)."""

SWAGGER_START = (
    "window.ui = SwaggerUIBundle("
    + json.dumps(
        {
            "url": OPENAPI,
            "dom_id": "#swagger-ui",
            "layout": "BaseLayout",
            "deepLinking": True,
            "showExtensions": True,
            "showCommonExtensions": True,
            "validatorUrl": None,  # the default sends the document to validator.swagger.io
        }
    )[:-1]
    + ', "presets": [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset]});'
)
"""``/docs/assets/swagger-start.js``: Swagger UI on this server's OpenAPI document."""

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # Swagger UI sets style attributes from script.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _page(title: str, body: str, head: str = "") -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="icon" href="{ASSETS}/favicon.png">
{head}</head>
<body>
<noscript><p>This page needs JavaScript. The API's description is
<a href="{OPENAPI}">{OPENAPI}</a> (OpenAPI 3.1).</p></noscript>
{body}
</body>
</html>
"""
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "Referrer-Policy": "no-referrer",
        },
    )


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and its assets on ``app``.

    Create the app with ``docs_url=None, redoc_url=None`` so that FastAPI's CDN pages are
    not there too.
    """
    title = app.title

    @app.get(DOCS, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return _page(
            f"{title} — API",
            '<div id="swagger-ui"></div>\n'
            f'<script src="{ASSETS}/swagger-ui-bundle.js"></script>\n'
            f'<script src="{ASSETS}/swagger-start.js"></script>',
            head=f'<link rel="stylesheet" href="{ASSETS}/swagger-ui.css">\n',
        )

    @app.get(ASSETS + "/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        if name == "swagger-start.js":
            return Response(SWAGGER_START, media_type="text/javascript")
        found = _FILES.get(name)
        if found is None:
            raise ApiError(404, "not_found", f"no documentation asset {name!r}")
        path, media_type = found
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "max-age=86400"})
