"""Fixtures for end-to-end tests in a real browser: Debian chromium driven by Playwright, JupyterLab on 127.0.0.1.

Everything runs isolated under one temporary directory (HOME, JUPYTER_*, IPYTHONDIR, a fresh workspaces
dir, the chromium profile), and the Lab server is started in its own process group and killed with it.
The fake microphone plays a WAV made from data/speech/s02_weather_16k.flac (see docs in
/work/shared/browser-testing.md for the flags and their pitfalls).

Missing chromium or playwright skips these tests, unless the environment variable CI is set: then they fail.
Install both with ``scripts/browser_deps.sh``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
SPEECH = ROOT / "data" / "speech" / "s02_weather_16k.flac"
CHROMIUM = Path(os.environ.get("VOICELAB_CHROMIUM", "/usr/bin/chromium"))

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
]
FAKE_MIC_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _missing() -> list[str]:
    missing = []
    if not (CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"chromium ({CHROMIUM})")
    for module in ("playwright", "jupyterlab", "anywidget", "ipywidgets", "nbformat"):
        if importlib.util.find_spec(module) is None:
            missing.append(f"the Python package {module}")
    return missing


def require_browser() -> None:
    """Skip (or, under CI, fail) when chromium or the Python packages are missing."""
    missing = _missing()
    if not missing:
        return
    reason = f"browser tests need {', '.join(missing)}; install them with scripts/browser_deps.sh"
    if _in_ci():
        pytest.fail(f"CI is set, so browser tests must run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``test-artifacts/browser/`` (git-ignored): screenshots and logs."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_browser()
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="session")
def fake_mic_wav(sandbox: Path) -> Path:
    """The fake microphone's WAV: the weather sentence at 48 kHz, int16 mono."""
    import voicelab as vl

    path = sandbox / "speech48k.wav"
    vl.load(str(SPEECH)).resample(48000).save(str(path), subtype="PCM_16")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab server."""

    base: str
    token: str
    root_dir: Path
    log: Path

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}?token={self.token}"


def isolated_env(sandbox: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON"))}
    dirs = {"HOME": "home", "JUPYTER_CONFIG_DIR": "jupyter/config", "JUPYTER_DATA_DIR": "jupyter/data",
            "JUPYTER_RUNTIME_DIR": "jupyter/runtime", "IPYTHONDIR": "ipython", "TMPDIR": "tmp"}
    for var, sub in dirs.items():
        (sandbox / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(sandbox / sub)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    return env


#: The settings scripts/lab.sh gives JupyterLab (Markdown opens rendered; no news prompt, no update checks).
LAB_OVERRIDES = ROOT / "scripts" / "lab-settings" / "overrides.json"


def lab_settings(sandbox: Path) -> Path:
    """An app settings dir with scripts/lab.sh's overrides (no network: no news prompt, no update checks)."""
    settings = sandbox / "lab-settings"
    settings.mkdir(exist_ok=True)
    (settings / "overrides.json").write_text(LAB_OVERRIDES.read_text())
    return settings


@pytest.fixture(scope="package")
def lab(sandbox: Path, artifacts: Path) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 (a secure context), isolated dirs, a fresh workspaces dir; stopped at the end."""
    env = isolated_env(sandbox)
    root_dir = sandbox / "notebooks"
    root_dir.mkdir()
    workspaces = sandbox / "workspaces"
    workspaces.mkdir()
    port, token = _free_port(), uuid.uuid4().hex
    log = artifacts / "jupyterlab.log"
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
           "--allow-root", "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={workspaces}",
           f"--LabApp.app_settings_dir={lab_settings(sandbox)}",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, env=env, cwd=root_dir, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Lab(base=f"http://127.0.0.1:{port}", token=token, root_dir=root_dir, log=log)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited with {proc.returncode}; see {log}:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(server.url("api/status"), timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"jupyter lab did not answer within 60 s; see {log}")
            time.sleep(0.1)
        yield server
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)  # the server, its kernels and anything they started
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# Package scope, not session: Playwright's sync API keeps an asyncio loop running on the main thread while it
# is open, which would make every later test's asyncio.run() fail. It is closed when tests/browser ends.
@pytest.fixture(scope="package")
def playwright_driver(sandbox: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright_driver: Any, fake_mic_wav: Path) -> Iterator[Any]:
    """Headless chromium whose microphone plays ``fake_mic_wav`` (permission granted automatically)."""
    b = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=[*CHROMIUM_ARGS, *FAKE_MIC_ARGS, f"--use-file-for-fake-audio-capture={fake_mic_wav}"])
    try:
        yield b
    finally:
        b.close()


def watch_console(pg: Any) -> list[str]:
    """Collect the page's console messages and uncaught errors (saved as an artifact by the caller)."""
    console: list[str] = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    return console


def open_notebook(pg: Any, lab: Lab, path: str) -> None:
    """Open ``path`` in JupyterLab and wait until it is the current widget and its kernel is idle."""
    pg.goto(lab.url(f"lab/tree/{path}"))
    pg.wait_for_function(
        """(nb) => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return k && k.status === 'idle' && w.context.path === nb; }""",
        arg=path, timeout=60000, polling=100)


def write_notebook(lab: Lab, path: str, cells: list[str]) -> None:
    """Write a notebook of code ``cells`` at ``path`` under the Lab's root."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    target = lab.root_dir / path
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)


@contextlib.contextmanager
def notebook_page(lab: Lab, browser: Any, artifacts: Path, *, path: str, name: str,
                  run_all: Callable[[Any], None]) -> Iterator[Any]:
    """Open the notebook at ``path``, run all its cells (``run_all(page)`` waits for them) and yield the page.

    Afterwards the console goes to ``<artifacts>/<name>-console.log`` and the shared Lab is left as found: the
    kernel shut down, no tab open, no saved workspace (or the next page in this Lab would reopen the tab).
    """
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})
    pg = ctx.new_page()
    console = watch_console(pg)
    try:
        open_notebook(pg, lab, path)
        pg.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        run_all(pg)
        yield pg
    finally:
        (artifacts / f"{name}-console.log").write_text("\n".join(console))
        try:
            pg.evaluate("""async () => { const app = window.jupyterapp, w = app.shell.currentWidget;
                if (w && w.sessionContext) await w.sessionContext.shutdown();
                await app.commands.execute('application:close-all'); }""")
            pg.wait_for_timeout(1500)  # the workspace is saved after a short debounce
        finally:
            ctx.close()
            for saved in (lab.root_dir.parent / "workspaces").glob("*"):
                if saved.is_file():
                    saved.unlink()
