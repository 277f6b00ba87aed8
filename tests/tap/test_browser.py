"""A JavaScript page in the real browser (headless Debian chromium) reaches the emulator through the tap.

The page is the seeds' browser snippet: ``new WebSocket(url)`` with no headers (browsers cannot set
``Authorization``), binary 4096-byte frames, then ``close_stream``. The tap adds the key upstream
(``inject_auth``) and serves only URLs that carry its local token.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import voicelab as vl
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, require_browser

PAGE = """<!doctype html><html><body><script type="module">
async function stream(url) {
  const audio = await (await fetch("/audio.raw")).arrayBuffer();
  return await new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const finals = [];
    let messages = 0;
    ws.onopen = async () => {
      for (let i = 0; i < audio.byteLength; i += 4096) {
        ws.send(audio.slice(i, i + 4096));
        await new Promise((r) => setTimeout(r, 32));   // 128 ms of 16 kHz audio every 32 ms: 4x real time
      }
      ws.send(JSON.stringify({ type: "close_stream" }));
    };
    ws.onmessage = (e) => { messages++; const d = JSON.parse(e.data); if (d.is_final) finals.push(d.transcript); };
    ws.onclose = (e) => resolve({ finals, messages, code: e.code });
  });
}
window.refused = await stream(window.location.hash.slice(1).split("|")[1]);
window.result = await stream(window.location.hash.slice(1).split("|")[0]);
</script></body></html>"""


@contextmanager
def page_server(files: dict[str, tuple[str, bytes]]) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 for the page (a page Playwright fulfils has no local address, and
    chromium's local-network-access checks then block its WebSocket to 127.0.0.1)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            kind, body = files.get(self.path.split("?")[0], ("text/plain", b"not found"))
            self.send_response(200 if self.path.split("?")[0] in files else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_browser_page_without_headers_reaches_the_emulator_through_the_tap_with_injected_auth(
        emulator, pcm16k, monkeypatch):
    require_browser()
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("SMALLEST_API_KEY", emulator.api_key)
    audio = pcm16k[: 32000 * 3]
    with vl.tap("pulse", emulator.url, inject_auth=True, announce=False) as tap:
        good = tap.url_for()
        assert "vl_tap=" in good and emulator.api_key not in good
        bad = good.split("&vl_tap=")[0]  # the same URL without the local token

        files = {"/": ("text/html", PAGE.encode()), "/audio.raw": ("application/octet-stream", audio)}
        with page_server(files) as origin, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{origin}/#{good}|{bad}")
                page.wait_for_function("() => window.result !== undefined", timeout=30000, polling=100)
                result, refused = page.evaluate("() => window.result"), page.evaluate("() => window.refused")
            finally:
                browser.close()
        sessions = tap.sessions
        for s in sessions:
            s.wait(5)
    assert refused["code"] == 1006 and refused["messages"] == 0  # a browser sees a refused upgrade as 1006
    assert result["code"] == 1000 and result["messages"] > 0
    assert any(f.strip() for f in result["finals"]), result
    assert len(sessions) == 1  # the refused page never reached the upstream
    rec = sessions[0].recording
    assert rec.stats.bytes_sent == len(audio)
    assert [ev.text for _, ev in rec.events() if ev.kind == "final"] == result["finals"]
    text = "\n".join(e.to_json() for e in rec.entries)
    assert emulator.api_key not in text and tap.token not in text
    assert "Chrome" in next(e["user_agent"] for e in rec.of("note") if e.get("tap"))
