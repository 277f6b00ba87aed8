"""Capture the Recorder widget as a user sees it, from real headless Chromium, for notebooks/08-microphone.ipynb.

The widget's own ESM (voicelab/widgets/recorder.js), worklet and CSS run in Debian's chromium, driven by
Playwright, on a small page served by Playwright's router with a stand-in for the anywidget model (no
JupyterLab around it; the same set-up as tests/browser/test_recorder_esm.py). The microphone is chromium's
fake capture device playing data/speech/s02_weather_16k.flac (as a 48 kHz WAV). Five takes:

* ``recording``: the default Recorder (echo cancellation on), screenshot while it records;
* ``ec_off``: ``Recorder(echo_cancellation=False)``, screenshot when it is done;
* ``permission_denied``: a chromium launched with ``--deny-permission-prompts`` (the user clicked Block);
* ``insecure_context``: the page served from ``http://192.168.1.20:8888`` (JupyterLab opened on a LAN address
  over plain http): not a secure context, so there is no ``navigator.mediaDevices``;
* ``no_microphone``: a chromium without the fake capture device, on a machine with no sound card.

Writes into ``--out`` (default notebooks/images/):

* ``08-recorder-recording.png``, ``08-recorder-ec-off.png``, ``08-recorder-permission-denied.png``,
  ``08-recorder-insecure-context.png``, ``08-recorder-no-microphone.png``: the widget only, cropped;
* ``08-chromium-facts.json``: what chromium really reported — each take's ``start`` message (context_rate,
  target_rate, track_settings), its ``error`` message, the PCM's level, and the AudioContext rates chromium
  gives when asked for none, 16 kHz and 24 kHz;
* ``08-chromium-take-16k.flac``: the PCM the ``recording`` take sent to the kernel (16 kHz, resampled by the
  worklet from chromium's AudioContext rate).

Usage (about 20 s; it overwrites the files)::

    .venv-test/bin/python scripts/mic_screenshots.py [--out DIR] [--chromium /usr/bin/chromium]

Needs chromium and the playwright Python package (``scripts/browser_deps.sh``); never runs ``playwright install``.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser.conftest import CHROMIUM_ARGS  # noqa: E402  (the browser tests' flags)
from tests.browser.pages import open_widget  # noqa: E402

SPEECH = ROOT / "data" / "speech" / "s02_weather_16k.flac"
OUT = ROOT / "notebooks" / "images"
SECURE_ORIGIN = "http://localhost:8888"        # localhost over http is a secure context
INSECURE_ORIGIN = "http://192.168.1.20:8888"   # any other http host is not
RECORD_SECONDS = 5.6                           # the whole sentence (5.53 s)

# The page: the widget's CSS, a div, and a stand-in model that keeps what `model.send` sends (chunk buffers as
# base64, so the PCM can be read back).
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>voicelab Recorder</title>
<style>body { margin: 12px; background: #fff; } %(css)s</style></head><body><div id="w"></div>
<script type="module">
const state = %(state)s;
const handlers = {};
window.sent = [];
const b64 = (buf) => { const u = new Uint8Array(buf); let s = "";
  for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000));
  return btoa(s); };
const model = {
  get: (k) => state[k],
  set: (k, v) => { state[k] = v; for (const f of handlers["change:" + k] || []) f(); },
  save_changes() {},
  send(content, callbacks, buffers) { window.sent.push({ content, pcm: (buffers || []).map(b64).join("") }); },
  on(name, f) { (handlers[name] = handlers[name] || []).push(f); },
  off(name, f) { handlers[name] = (handlers[name] || []).filter((g) => g !== f); },
};
const mod = await import("./recorder.js");
mod.default.initialize({ model });
mod.default.render({ model, el: document.getElementById("w") });
window.ready = true;
</script></body></html>"""

RATES_JS = """async () => {
  const out = {};
  for (const [name, opts] of [["default", undefined], ["asked_16000", {sampleRate: 16000}],
                              ["asked_24000", {sampleRate: 24000}]]) {
    const ctx = opts ? new AudioContext(opts) : new AudioContext();
    out[name] = ctx.sampleRate;
    await ctx.close();
  }
  return out;
}"""


def widget_files(**recorder_options: Any) -> dict[str, str]:
    """The page and the ESM for a Recorder with these options."""
    from voicelab.widgets.recorder import Recorder

    state = Recorder(**recorder_options).get_state()
    esm, css = state.pop("_esm"), state.pop("_css")
    synced = {k: v for k, v in state.items() if not k.startswith("_") or k in ("_uid", "_worklet")}
    return {"/": PAGE % {"css": css, "state": json.dumps(synced)}, "/recorder.js": esm}


@contextmanager
def chromium(playwright: Any, executable: str, fake_wav: Path | None, *, deny: bool = False) -> Iterator[Any]:
    """Headless chromium whose microphone plays ``fake_wav``, with every permission prompt accepted.

    ``fake_wav=None``: no fake capture device (on a machine without a sound card, no microphone at all);
    ``deny``: every permission prompt refused, as when the user clicks Block.
    """
    prompt = "--deny-permission-prompts" if deny else "--use-fake-ui-for-media-stream"
    device = [] if fake_wav is None else ["--use-fake-device-for-media-stream",
                                          f"--use-file-for-fake-audio-capture={fake_wav}"]
    browser = playwright.chromium.launch(executable_path=executable, headless=True,
                                         args=[*CHROMIUM_ARGS, prompt, *device])
    try:
        yield browser
    finally:
        browser.close()


def shot(page: Any, path: Path) -> None:
    """A PNG of the widget alone."""
    page.locator(".vl-rec").screenshot(path=str(path), animations="disabled")


def messages(page: Any) -> list[dict[str, Any]]:
    """What the widget sent to the (stand-in) kernel so far: ``content`` and the chunk's PCM as base64."""
    return list(page.evaluate("() => window.sent"))


def take_stats(pcm: bytes, rate: int) -> dict[str, Any]:
    """Level of the PCM the worklet sent, and how well it matches the fake microphone's file."""
    import voicelab as vl

    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    ref = vl.load(str(SPEECH)).resample(rate).samples.astype(np.float64)
    n = min(len(x), len(ref))
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.fft.rfft(ref[:n], size) * np.conj(np.fft.rfft(x[:n], size)), size)
    lags = np.r_[0:rate // 2, -(rate // 2):0]
    lag = int(lags[np.argmax(np.abs(xc[lags]))])
    a, b = (x[:n], ref[lag:n + lag]) if lag >= 0 else (x[-lag:n], ref[:n + lag])
    m = min(len(a), len(b))
    return {"seconds": round(len(x) / rate, 3), "rms_dbfs": round(20 * np.log10(np.sqrt(np.mean(x * x))), 1),
            "peak": round(float(np.max(np.abs(x))), 3),
            "full_scale_samples": int(np.sum(np.abs(x) >= 32767 / 32768)),
            "correlation_with_file": round(float(np.corrcoef(a[:m], b[:m])[0, 1]), 3),
            "reference_rms_dbfs": round(20 * np.log10(np.sqrt(np.mean(ref * ref))), 1)}


def record(browser: Any, out: Path, name: str, *, shot_while_recording: bool, **options: Any) -> dict[str, Any]:
    """One take at the secure origin: press Record, screenshot, wait for done; the start message and the PCM."""
    page = open_widget(browser, SECURE_ORIGIN, widget_files(max_seconds=RECORD_SECONDS, **options), height=480)
    try:
        page.locator(".vl-rec-button").click()
        page.locator('.vl-rec[data-state="recording"]').wait_for(timeout=15000)
        if shot_while_recording:
            page.wait_for_timeout(2300)  # mid-sentence ("the weather"), so the meter shows speech
            shot(page, out / f"08-recorder-{name}.png")
        page.locator('.vl-rec[data-state="done"], .vl-rec[data-state="error"]').wait_for(
            timeout=(RECORD_SECONDS + 15) * 1000)
        if not shot_while_recording:
            shot(page, out / f"08-recorder-{name}.png")
        sent = messages(page)
        start = next(m["content"] for m in sent if m["content"]["type"] == "start")
        done = next(m["content"] for m in sent if m["content"]["type"] == "done")
        pcm = b"".join(base64.b64decode(m["pcm"]) for m in sent if m["content"]["type"] == "chunk")
        return {"options": options, "origin": SECURE_ORIGIN, "start": start, "done": done,
                "chunks": sum(m["content"]["type"] == "chunk" for m in sent),
                "pcm": take_stats(pcm, start["target_rate"]), "_pcm": pcm,
                "widget_text": page.locator(".vl-rec").inner_text()}
    finally:
        page.context.close()


def fail(browser: Any, out: Path, name: str, origin: str) -> dict[str, Any]:
    """One failing take: press Record, wait for the error, screenshot; the error message the kernel gets."""
    page = open_widget(browser, origin, widget_files(), height=480)
    try:
        secure = page.evaluate("() => window.isSecureContext")
        page.locator(".vl-rec-button").click()
        page.locator('.vl-rec[data-state="error"], .vl-rec[data-state="recording"]').wait_for(timeout=15000)
        sent = [m["content"] for m in messages(page)]
        error = next((m for m in sent if m["type"] == "error"), None)
        if error is None:  # e.g. no_microphone on a machine that has one
            print(f"{name}: chromium recorded instead of failing; no screenshot", file=sys.stderr)
            return {"origin": origin, "is_secure_context": secure, "error": None}
        shot(page, out / f"08-recorder-{name}.png")
        return {"origin": origin, "is_secure_context": secure, "error": error,
                "other_messages": [m["type"] for m in sent if m["type"] != "error"],
                "widget_text": page.locator(".vl-rec").inner_text()}
    finally:
        page.context.close()


def capture(out: Path, executable: str) -> dict[str, Any]:
    """Run the five takes; write the PNGs, the facts JSON and the FLAC into ``out``; return the facts."""
    from playwright.sync_api import sync_playwright

    import voicelab as vl

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        wav = Path(tmp) / "speech48k.wav"
        vl.load(str(SPEECH)).resample(48000).save(str(wav), subtype="PCM_16")
        facts: dict[str, Any] = {"fake_microphone": f"{SPEECH.relative_to(ROOT)} as a 48 kHz int16 WAV"}
        with chromium(p, executable, wav) as browser:
            facts["chromium"] = browser.version
            page = open_widget(browser, SECURE_ORIGIN, widget_files(), height=480)
            facts["audiocontext_rates"] = page.evaluate(RATES_JS)
            page.context.close()
            facts["recording"] = record(browser, out, "recording", shot_while_recording=True, target_rate=16000)
            facts["ec_off"] = record(browser, out, "ec-off", shot_while_recording=False, target_rate=16000,
                                     echo_cancellation=False)
            facts["insecure_context"] = fail(browser, out, "insecure-context", INSECURE_ORIGIN)
        with chromium(p, executable, wav, deny=True) as browser:
            facts["permission_denied"] = fail(browser, out, "permission-denied", SECURE_ORIGIN)
        with chromium(p, executable, None) as browser:
            facts["no_microphone"] = fail(browser, out, "no-microphone", SECURE_ORIGIN)
    pcm = facts["recording"].pop("_pcm")
    facts["ec_off"].pop("_pcm")
    rate = facts["recording"]["start"]["target_rate"]
    take = out / "08-chromium-take-16k.flac"
    vl.Clip(np.frombuffer(pcm, "<i2").astype(np.float32) / 32768, samplerate=rate).save(str(take), subtype="PCM_16")
    take.chmod(0o644)  # Clip.save writes through a private temporary file
    (out / "08-chromium-facts.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
    return facts


def main(argv: list[str] | None = None) -> int:
    """Capture everything and print what chromium reported."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="output directory (default: notebooks/images)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the chromium executable")
    args = parser.parse_args(argv)
    facts = capture(args.out, args.chromium)
    for name in ("recording", "ec_off"):
        s = facts[name]["start"]
        print(f"{name:18} AudioContext {s['context_rate']} Hz -> {s['target_rate']} Hz, track {s['track_settings']}")
    for name in ("permission_denied", "insecure_context", "no_microphone"):
        e = facts[name]["error"] or {"name": "no error", "message": "chromium recorded"}
        print(f"{name:18} {e['name']}: {e['message']}")
    print(f"AudioContext rates: {facts['audiocontext_rates']}; wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
