"""Pure layers never load asyncio, websockets or a widget library, checked at run time in a fresh interpreter.

tests/test_contracts.py checks the same rule on the source (every import, at any depth); this test catches
what the source check cannot see: an import made by a third-party library or through ``importlib``.
Each group imports every module of a pure layer (provider packages without their ``emulator`` modules).
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("asyncio", "websockets", "anywidget", "ipywidgets", "traitlets", "IPython")


def _modules(package: str) -> list[str]:
    base = ROOT / package.replace(".", "/")
    out = []
    for f in sorted(base.rglob("*.py")):
        parts = f.relative_to(ROOT).with_suffix("").parts
        if any(p == "emulator" for p in parts[2:]) and parts[1] == "providers":
            continue
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


GROUPS = {
    "voicelab": ["voicelab", "voicelab.errors", "voicelab.encoding_names"],
    "audio": _modules("voicelab.audio"),
    "protocols": _modules("voicelab.protocols"),
    "recording": _modules("voicelab.recording"),
    "plot": _modules("voicelab.plot"),
    "providers": _modules("voicelab.providers"),
}


def test_groups_list_the_pure_modules():
    assert "voicelab.recording.metrics" in GROUPS["recording"]
    assert "voicelab.providers.pulse.driver" in GROUPS["providers"]
    assert not [m for m in GROUPS["providers"] if ".emulator" in m]


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_pure_modules_import_no_io(group):
    code = (
        "import sys, importlib\n"
        f"for m in {GROUPS[group]!r}: importlib.import_module(m)\n"
        f"print(','.join(sorted(m for m in {FORBIDDEN!r} if m in sys.modules)))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"importing {group} pulled in {r.stdout.strip()}"
