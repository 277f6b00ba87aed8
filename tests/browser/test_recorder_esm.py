"""The Recorder's ESM alone in chromium (no JupyterLab): the error paths, with what the kernel would receive.

A tiny page served by Playwright's router renders the widget with a stand-in model that records what
``model.send`` sends. ``http://voicelab.test`` is not a secure context (no ``navigator.mediaDevices``);
``http://localhost`` is. Permission is refused by a browser launched with ``--deny-permission-prompts``
instead of the fake-UI flag that accepts it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.pages import open_widget

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>body { margin: 16px; background: #fff; }
%(css)s</style></head><body><div id="w"></div><script type="module">
const state = %(state)s;
const handlers = {};
window.sent = [];
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; for (const f of handlers["change:" + k] || []) f(); },
  save_changes() {},
  send(content, callbacks, buffers) { window.sent.push({ content, bytes: (buffers || []).map((b) => b.byteLength) }); },
  on(name, f) { (handlers[name] = handlers[name] || []).push(f); },
  off(name, f) { handlers[name] = (handlers[name] || []).filter((g) => g !== f); },
};
window.model = model;
const mod = await import("./recorder.js");
mod.default.initialize({ model });
mod.default.render({ model, el: document.getElementById("w") });
window.ready = true;
</script></body></html>"""


@pytest.fixture(scope="module")
def widget_files() -> dict[str, str]:
    from voicelab.widgets.recorder import Recorder

    state = Recorder(target_rate=16000, echo_cancellation=False).get_state()
    esm = state.pop("_esm")
    css = state.pop("_css")
    html = PAGE % {"css": css, "state": json.dumps({k: v for k, v in state.items() if not k.startswith("_") or
                                                    k in ("_uid", "_worklet")})}
    return {"/": html, "/recorder.js": esm}


@pytest.fixture(scope="module")
def denying_browser(playwright_driver: Any, fake_mic_wav: Path) -> Iterator[Any]:
    """Chromium with a fake microphone whose permission prompt is always refused."""
    b = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=[*CHROMIUM_ARGS, "--deny-permission-prompts", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-audio-capture={fake_mic_wav}"])
    try:
        yield b
    finally:
        b.close()


def press_record_and_get_error(page: Any) -> dict[str, Any]:
    page.locator(".vl-rec-button").click()
    page.locator('.vl-rec[data-state="error"]').wait_for(timeout=10000)
    sent = page.evaluate("() => window.sent")
    errors = [m["content"] for m in sent if m["content"]["type"] == "error"]
    assert len(errors) == 1 and not [m for m in sent if m["content"]["type"] in ("start", "chunk")], sent
    return dict(errors[0])


def test_insecure_context_names_https_or_localhost(browser: Any, widget_files: dict[str, str],
                                                   artifacts: Path) -> None:
    from voicelab.widgets.recorder import InsecureContextError, microphone_error

    page = open_widget(browser, "http://voicelab.test", widget_files)
    try:
        msg = press_record_and_get_error(page)
        page.locator(".vl-rec").screenshot(path=str(artifacts / "recorder-error-insecure-context.png"))
        assert msg["name"] == "InsecureContextError" and "not a secure context" in msg["message"]
        box = page.locator(".vl-rec-error").inner_text()
        assert "not a secure context" in box and "HTTPS" in box and "http://localhost" in box
        assert page.locator(".vl-rec-state").inner_text().lower() == "error"
        err = microphone_error(msg["name"], msg["message"])
        assert isinstance(err, InsecureContextError) and "HTTPS" in str(err)
    finally:
        page.context.close()


def test_permission_denied_says_how_to_grant_it(denying_browser: Any, widget_files: dict[str, str],
                                                artifacts: Path) -> None:
    from voicelab.widgets.recorder import MicrophonePermissionError, microphone_error

    page = open_widget(denying_browser, "http://localhost", widget_files)
    try:
        assert page.evaluate("() => window.isSecureContext") is True
        msg = press_record_and_get_error(page)
        page.locator(".vl-rec").screenshot(path=str(artifacts / "recorder-error-permission-denied.png"))
        assert msg["name"] == "NotAllowedError"
        box = page.locator(".vl-rec-error").inner_text()
        assert "permission denied" in box.lower() and "Allow microphone access" in box
        assert page.locator(".vl-rec-button").inner_text() == "Record again"
        assert isinstance(microphone_error(msg["name"], msg["message"]), MicrophonePermissionError)
    finally:
        page.context.close()
