"""The live page's web server (aiohttp): the page, plotly.js from the installed plotly
package, and the small JSON endpoints the page polls."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson
from aiohttp import web
from plotly.offline import get_plotlyjs

from app.ui import views
from app.ui.feed import FeedStatus
from app.ui.page import PAGE
from app.ui.state import LiveState


def _json(doc: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(doc),
        status=status,
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def make_app(state: LiveState, feed: FeedStatus, about: dict[str, Any]) -> web.Application:
    """``about``: what the page says it reads (topic names, the lookback start)."""
    plotly_js = get_plotlyjs().encode()

    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def plotly(_: web.Request) -> web.Response:
        return web.Response(
            body=plotly_js,
            content_type="application/javascript",
            headers={"Cache-Control": "max-age=3600"},
        )

    async def overview(_: web.Request) -> web.Response:
        doc = views.overview(state)
        doc["feed"] = {**about, **asdict(feed)}
        return _json(doc)

    async def model(request: web.Request) -> web.Response:
        found = views.model_view(state, request.query.get("id", ""))
        return _json(found) if found is not None else _json({"error": "no such model"}, 404)

    async def window(request: web.Request) -> web.Response:
        found = views.window_view(
            state, request.query.get("model", ""), request.query.get("id", "")
        )
        return _json(found) if found is not None else _json({"error": "no such window"}, 404)

    async def no_icon(_: web.Request) -> web.Response:
        return web.Response(status=204)  # a browser asks; a 404 would log an error

    app = web.Application()
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/", page)
    app.router.add_get("/static/plotly.min.js", plotly)
    app.router.add_get("/api/overview", overview)
    app.router.add_get("/api/model", model)
    app.router.add_get("/api/window", window)
    return app
