"""Pure layers never import asyncio or websockets (checked in a fresh interpreter)."""

import subprocess
import sys

import pytest

PURE = ["voicelab", "voicelab.audio", "voicelab.protocols"]


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_no_io(module):
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "bad = sorted(m for m in ('asyncio', 'websockets', 'anywidget', 'ipywidgets') if m in sys.modules); "
        "print(','.join(bad))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"{module} pulled in {r.stdout.strip()}"
