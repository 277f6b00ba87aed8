"""Cells of 00-inspect-audio.ipynb — What is my audio, really: loading, inspecting, broken files."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

NOTEBOOK = "00-inspect-audio.ipynb"

CELLS = [
    new_markdown_cell(
        "# What is my audio, really?\n\n"
        "The first question of every *connected but no transcripts* bug report. This notebook loads the "
        "sample audio shipped in `data/`, shows what voicelab measures, and walks through the broken files: "
        "each finding names the symptom it would cause with a streaming API and the call that fixes it.\n\n"
        "Everything here runs offline; no API key is needed."
    ),
    new_code_cell(
        "from pathlib import Path\n\n"
        "import voicelab as vl\n\n"
        "DATA = Path('..') / 'data' if Path('../data').is_dir() else Path('data')  # run from notebooks/ or the repo\n"
        "clip = vl.load(DATA / 'speech' / 's02_weather_16k.flac')\n"
        "clip"
    ),
    new_markdown_cell(
        "A `Clip` keeps float32 samples together with their sample rate and where they came from. "
        "`inspect()` measures it and checks it against an API's expectations:"
    ),
    new_code_cell("clip.inspect(target='pulse')"),
    new_markdown_cell(
        "The same speech as 24 kHz audio is fine for Pulse, but the AssemblyAI Voice Agent API wants exactly "
        "24 kHz, so the 16 kHz file gets a finding with the fix:"
    ),
    new_code_cell("vl.inspect(clip, target='assemblyai-agent')"),
    new_code_cell("fixed = clip.resample(24000)\nfixed.inspect(target='assemblyai-agent').ok"),
    new_markdown_cell(
        "## Mislabelled raw bytes\n\n"
        "Pulse receives headerless bytes whose format is declared in the URL (`encoding`, `sample_rate`). "
        "When the declaration is wrong the connection works but transcripts never come, or come garbled. "
        "voicelab compares the declared reading with the alternatives:"
    ),
    new_code_cell(
        "import json\n\n"
        "manifest = json.loads((DATA / 'manifest.json').read_text())\n"
        "for entry in manifest['files']:\n"
        "    if entry['kind'] != 'broken':\n"
        "        continue\n"
        "    report = vl.inspect(DATA / entry['path'], raw=entry['raw'])\n"
        "    top = report.findings[0]\n"
        "    print(f\"{entry['path']:38} {top.severity:8} {top.code}\")"
    ),
    new_markdown_cell("Each report says what was found, what it causes, and how to fix it:"),
    new_code_cell("vl.inspect(DATA / 'broken' / 'weather_16k_labelled_8k.raw', raw='linear16:8000:1')"),
    new_code_cell("vl.inspect(DATA / 'broken' / 'weather_float32_as_int16.raw', raw='linear16:16000:1')"),
    new_markdown_cell(
        "## Chunks as they go on the wire\n\n"
        "`vl.audio.chunk` encodes lazily and gives each chunk its audio-time span; `validate_chunk` checks one "
        "chunk the way the API would see it."
    ),
    new_code_cell(
        "chunks = list(vl.audio.chunk(clip, target='pulse'))\n"
        "print(len(chunks), 'chunks;', chunks[0], '...', chunks[-1])\n"
        "vl.audio.validate_chunk(chunks[0].data, target='pulse')"
    ),
    new_code_cell(
        "for f in vl.audio.validate_chunk(vl.audio.b64encode(chunks[0].data), target='pulse'):\n"
        "    print(f)"
    ),
]
