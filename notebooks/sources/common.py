"""What several tutorials share: the set-up cell and the kernel metadata."""

from __future__ import annotations

SETUP = (
    "%matplotlib inline\n"
    "from pathlib import Path\n\n"
    "import voicelab as vl\n\n"
    "DATA = Path('..') / 'data' if Path('../data').is_dir() else Path('data')  # run from notebooks/ or the repo\n"
    "# a light emulator for drills where the words do not matter: pocketsphinx in this process, ready in ~1 s\n"
    "LIGHT = dict(engine='sphinx', announce=False, recognizer_options={'processes': 0, 'warm': 1})"
)

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
