"""Reference timings for sample audio: the ``data/manifest.json`` entry that describes a file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["find_reference"]


def find_reference(path: str | os.PathLike[str], *, levels: int = 4) -> dict[str, Any] | None:
    """Return the manifest entry (transcript, sentence and word times) describing ``path``, if any.

    Looks for a ``manifest.json`` in the file's folder and up to ``levels`` parents, as in
    voicelab's ``data/`` folder.

    Args:
        path: An audio file.
        levels: How many parent folders to search.

    Returns:
        The entry (with ``sentences`` and ``words`` in seconds), or ``None`` when no manifest lists the file.
    """
    p = Path(path).resolve()
    for parent in list(p.parents)[:levels]:
        manifest = parent / "manifest.json"
        if not manifest.is_file():
            continue
        try:
            files = json.loads(manifest.read_text())["files"]
        except (ValueError, KeyError, TypeError, OSError):
            return None
        for entry in files:
            if (parent / str(entry.get("path", ""))).resolve() == p and entry.get("sentences"):
                return dict(entry)
    return None
