"""Cells of 01-quickstart.ipynb — Quickstart: stream a file to the emulator and see all five widgets."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

NOTEBOOK = "01-quickstart.ipynb"

CELLS = [
    new_markdown_cell(
        "# voicelab quickstart\n\n"
        "Load a sample, look at it, stream it to a real-time speech API, and watch partial and final results "
        "arrive on one clock — with no API key: `vl.serve()` starts a local emulator of Smallest AI Pulse and "
        "the AssemblyAI Voice Agent API backed by a real offline recognizer. To use the real service instead, "
        "pass its URL (`wss://api.smallest.ai`) and your key (`SMALLEST_API_KEY`)."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "from pathlib import Path\n\n"
        "import voicelab as vl\n\n"
        "DATA = Path('..') / 'data' if Path('../data').is_dir() else Path('data')  # run from notebooks/ or the repo\n"
        "SAMPLE = DATA / 'speech' / 's03_meeting_16k.flac'"
    ),
    new_markdown_cell("## 1. Load and inspect\n\nSample rate, dtype, level, and whether Pulse will accept it as is:"),
    new_code_cell("clip = vl.load(SAMPLE)\nclip.inspect(target='pulse')"),
    new_markdown_cell(
        "Wheel to zoom, drag to pan, shift-drag to select (then `wave.selected_clip`), click to move the playhead. "
        "The spectrogram follows the waveform's zoom."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "import ipywidgets\n\n"
        "wave = vl.widgets.Waveform(clip)\n"
        "spec = vl.widgets.Spectrogram(clip, link=wave)\n"
        "ipywidgets.VBox([wave, spec])"
    ),
    new_markdown_cell(
        "## 2. Start the local emulator\n\n"
        "It speaks both wire protocols on 127.0.0.1 with a random key, and transcribes with faster-whisper "
        "(tiny.en, bundled with the package set-up)."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "server = vl.serve(announce=False)\n"
        "server"
    ),
    new_markdown_cell(
        "## 3. Stream and watch\n\n"
        "`vl.stream` returns at once; the audio goes out in real time (4096-byte chunks, as Pulse recommends) on "
        "a background thread, and everything is recorded to `stream.jsonl` as it happens. The timeline shows "
        "each partial revision (grey) until a final (blue, with word boxes) replaces it; the latency chart "
        "plots how far the transcript trails the audio sent."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "import tempfile\n\n"
        "record_to = Path(tempfile.mkdtemp()) / 'stream.jsonl'\n"
        "stream = vl.stream(clip, provider='pulse', url=server.url, api_key=server.api_key, record=record_to)\n"
        "timeline = vl.widgets.Timeline(stream)\n"
        "timeline"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.widgets.LatencyChart(stream)"),
    new_markdown_cell(
        "Wait for the last final (Pulse answers `close_stream` with `is_last: true`). `stream.wait()` blocks the "
        "cell; voicelab runs streams on its own background loop thread and never patches Jupyter's event loop "
        "(no nest-asyncio), so `await stream` works too — section 5 uses it."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "stream.wait()\n"
        "print(stream.transcript)"
    ),
    new_markdown_cell(
        "## 4. Read the metrics\n\n"
        "Every figure comes from the Recording alone and says what starts and stops its clock; speech end comes "
        "from the sample's reference timings in `data/manifest.json`."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "metrics = stream.metrics(reference=vl.recording.find_reference(SAMPLE))\n"
        "metrics"
    ),
    new_code_cell(
        "stats = stream.recording.stats\n"
        "print('chunks sent:', stats.chunks_sent, '| finals > 0:', stats.finals > 0, '| close codes:', stats.close_codes)"
    ),
    new_markdown_cell(
        "## 5. Save, replay, plot\n\n"
        "The Recording was written while streaming. Replaying it gives the same events through the same API, "
        "with no network — a cassette for docs and bug reports. The static figures are the widgets' matplotlib "
        "twins."
    ),
    new_code_cell(
        "replayed = await vl.replay(record_to)  # the other way to wait: await, in Jupyter's own loop\n"
        "replayed.transcript == stream.transcript"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nrec = vl.Recording.load(record_to)\nvl.plot.timeline(rec)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.latency(rec, reference=vl.recording.find_reference(SAMPLE))"),
    new_markdown_cell(
        "## 6. Your microphone\n\n"
        "Click **Record**, speak, click **Stop**; then run the next cell. The widget shows the rate the browser "
        "chose and the track's echo cancellation, gain control and noise suppression; the PCM is resampled to "
        "16 kHz inside the AudioWorklet and arrives in the kernel as int16 chunks. "
        "`recorder.stream_to(provider='pulse', url=server.url, api_key=server.api_key)` streams it live instead."
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nrecorder = vl.widgets.Recorder(target_rate=16000)\nrecorder"),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "if recorder.state == 'done':\n"
        "    mic = recorder.clip\n"
        "    display(mic.inspect(target='pulse'))\n"
        "else:\n"
        "    print('nothing recorded yet: click Record above, then run this cell again')"
    ),
    new_code_cell("server.close()"),
]
