import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((DATA / "manifest.json").read_text())


def entries(kind: str | None = None) -> list[dict]:
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    return [e for e in files if kind is None or e["kind"] == kind]


@pytest.fixture
def tone() -> np.ndarray:
    """One second of a 440 Hz tone at 16 kHz, -6 dBFS, float32."""
    t = np.arange(16000) / 16000
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
