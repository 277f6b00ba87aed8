"""A widget on a bare page in Chromium: its files served by Playwright's router at any origin, no server.

Shared by tests/browser/test_recorder_esm.py and scripts/mic_screenshots.py (which puts the repository on
``sys.path``): the origin decides what the browser thinks of the page (``http://localhost`` is a secure
context, ``http://192.168.1.20:8888`` is not).
"""

from __future__ import annotations

from typing import Any


def open_widget(browser: Any, origin: str, files: dict[str, str], *, height: int = 420,
                ready_timeout_ms: int = 15000) -> Any:
    """A new page at ``origin`` serving ``files`` (path → text), once the page sets ``window.ready``."""
    ctx = browser.new_context(viewport={"width": 760, "height": height}, device_scale_factor=1)
    page = ctx.new_page()

    def serve(route: Any) -> None:
        path = "/" + route.request.url.split("/", 3)[3].split("?")[0]
        body = files.get(path)
        if body is None:
            route.fulfill(status=404, body="not found")
        else:
            kind = "text/javascript" if path.endswith(".js") else "text/html"
            route.fulfill(status=200, body=body, content_type=kind)

    page.route(f"{origin}/**", serve)
    page.goto(f"{origin}/")
    page.wait_for_function("() => window.ready === true", timeout=ready_timeout_ms)
    return page
