"""Cells of 03-no-transcripts-garbled.ipynb — No transcripts and garbled text: the same audio streamed right and mislabelled."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "03-no-transcripts-garbled.ipynb"

CELLS = [
    new_markdown_cell(
        "# Connected, but no transcripts — or garbled ones\n\n"
        "*Smallest AI Pulse: \"No Transcription Received\" (connection established but no transcript messages) and "
        "\"Poor Transcription Quality\" (incorrect or garbled transcriptions), with their \"Preprocess Audio\" "
        "snippet. AssemblyAI Voice Agent: \"Wrong sample rate\" (garbled, pitched up/down).*\n\n"
        "The connection works; the bytes do not mean what the URL says they mean. Here the **same sentence** goes "
        "to the emulator four ways — correctly, and as the three mistakes the seed pages name: a wrong sample-rate "
        "label, float32 samples declared as `linear16`, and base64 text where binary PCM was expected. Then we look "
        "at what the server received, read what came back, let `vl.diagnose` name each cause, and fix them.\n\n"
        "The emulator transcribes with faster-whisper here, because the words are the point."
    ),
    new_code_cell(
        SETUP + "\n\n"
        "import base64\n"
        "import warnings\n\n"
        "import numpy as np\n\n"
        "good = vl.load(DATA / 'speech' / 's02_weather_16k.flac')\n"
        "print('reference:', vl.recording.find_reference(DATA / 'speech' / 's02_weather_16k.flac')['transcript'])"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nserver = vl.serve(announce=False)  # whisper (tiny.en)\nserver"),
    new_markdown_cell(
        "## 1. Reproduce: one sentence, four ways\n\n"
        "An application's own send loop hands raw byte chunks to the socket; `vl.stream` does the same with an "
        "iterator of bytes, declared as the URL declares them (Pulse default: `encoding=linear16`, "
        "`sample_rate=16000`). The mislabelled inputs are the files in `data/broken/`:\n\n"
        "| case | bytes sent | declared |\n|---|---|---|\n"
        "| correct | 16 kHz int16 | linear16, 16 kHz |\n"
        "| wrong rate | 48 kHz int16 (a microphone's rate) | linear16, 16 kHz |\n"
        "| float32 as int16 | 16 kHz float32 (what `sf.read` and Web Audio give) | linear16, 16 kHz |\n"
        "| base64 | base64 text of the int16 bytes (`ws.send(JSON.stringify(...))`'s cousin) | linear16, 16 kHz |\n\n"
        "Pacing does not matter for this experiment, so the chunks go out as fast as possible (`speed=None`)."
    ),
    new_code_cell(
        "def pieces(data: bytes, n: int = 4096):\n"
        "    return iter([data[i:i + n] for i in range(0, len(data), n)])\n\n"
        "pcm16 = (np.clip(good.samples, -1, 1) * 32767).astype('<i2').tobytes()\n"
        "SENT = {\n"
        "    'correct': pcm16,\n"
        "    'wrong rate (48k as 16k)': (DATA / 'broken' / 'weather_48k_labelled_16k.raw').read_bytes(),\n"
        "    'float32 as int16': (DATA / 'broken' / 'weather_float32_as_int16.raw').read_bytes(),\n"
        "    'base64 text': (DATA / 'broken' / 'weather_base64.txt').read_bytes(),\n"
        "}\n"
        "with warnings.catch_warnings(record=True) as caught:  # the pre-flight check warns before the first byte\n"
        "    warnings.simplefilter('always')\n"
        "    streams = {case: vl.stream(pieces(data), provider='pulse', url=server.url, api_key=server.api_key,\n"
        "                               speed=None, final_timeout=60)\n"
        "               for case, data in SENT.items()}\n"
        "    for s in streams.values():\n"
        "        try:\n"
        "            s.wait(120)\n"
        "        except vl.VoicelabError as exc:\n"
        "            print(type(exc).__name__, exc)\n"
        "print(len(caught), 'pre-flight warnings, e.g.:')\n"
        "for w in sorted(caught, key=lambda w: str(w.message))[:3]:  # the streams run at once: sort for a stable order\n"
        "    print(' ', str(w.message).splitlines()[0][:160])"
    ),
    new_markdown_cell("## 2. See it\n\nWhat came back, case by case:"),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for case, s in streams.items():\n"
        "    print(f'{case:25} {s.transcript!r}')"
    ),
    new_markdown_cell(
        "What the server heard: the Recording keeps the bytes sent (`rec.sent_audio()`), so we can decode them "
        "exactly as the server did — as 16 kHz `linear16` — and draw their spectrograms. Speech has harmonics "
        "stacked under formants; the wrong rate stretches them three times longer and three times lower; float32 "
        "read as int16 is full-scale noise; base64 is a flat band of text bytes."
    ),
    new_code_cell(
        "from matplotlib.figure import Figure\n\n"
        "def as_the_server_heard(rec):\n"
        "    \"\"\"The bytes the Recording kept, read the way the server reads them: little-endian int16 at the declared rate.\"\"\"\n"
        "    sent = rec.sent_audio()\n"
        "    samples = np.frombuffer(sent.data[: len(sent.data) // 2 * 2], '<i2').astype(np.float32) / 32768\n"
        "    return vl.Clip(samples, samplerate=sent.samplerate)\n\n"
        "heard = {case: as_the_server_heard(s.recording) for case, s in streams.items()}\n"
        "fig = Figure(figsize=(9, 6.4), layout='constrained', dpi=64)\n"
        "axes = fig.subplots(len(heard), 1, sharex=True)\n"
        "for ax, (case, clip) in zip(axes, heard.items()):\n"
        "    x = clip.samples.astype(np.float64)\n"
        "    with np.errstate(divide='ignore'):  # digital silence has no log\n"
        "        ax.specgram(x, NFFT=512, Fs=clip.samplerate, noverlap=384, cmap='magma', vmin=-140, vmax=-20)\n"
        "    ax.set_ylabel('Hz'); ax.set_title(f'{case}: {clip.duration:.1f} s as 16 kHz linear16')\n"
        "axes[-1].set_xlabel('seconds of audio, as declared')\n"
        "fig"
    ),
    new_markdown_cell(
        "The same pictures with voicelab's own views: the interactive `Spectrogram` widget (zoom, play), and its "
        "static twin `vl.plot.spectrogram`, which survives in a saved notebook. Listen to the wrong-rate case with "
        "the widget's play button: slowed down and pitched down."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "import ipywidgets\n\n"
        "ipywidgets.VBox([vl.widgets.Spectrogram(heard['correct']), vl.widgets.Spectrogram(heard['wrong rate (48k as 16k)'])])"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.spectrogram(heard['wrong rate (48k as 16k)'], height=2.2)"),
    new_markdown_cell(
        "And on the timeline: the correct stream has partials (grey) settling into finals (blue); the mislabelled "
        "ones have hallucinated words or nothing at all."
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(streams['correct'].recording, height=2.6)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(streams['wrong rate (48k as 16k)'].recording, height=2.6)"),
    new_markdown_cell(
        "## 3. Name it: `vl.diagnose`\n\n"
        "`diagnose` reads a recorded session — the bytes it kept, the messages, the close codes — and names the "
        "cause, with the symptom it explains and the fix. (Every session here also gets `faster_than_real_time`, "
        "because we sent with `speed=None` on purpose.)"
    ),
    new_code_cell(
        "diagnoses = {case: vl.diagnose(s) for case, s in streams.items()}\n"
        "for case, d in diagnoses.items():\n"
        "    print(f\"{case:25} {', '.join(c for c in d.codes if c != 'faster_than_real_time') or 'nothing wrong'}\")"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\ndiagnoses['float32 as int16']"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\ndiagnoses['wrong rate (48k as 16k)']"),
    new_markdown_cell(
        "`inspect` names the same causes *before* anything is sent, from the file and the format you declare "
        "(the check `vl.stream` runs as its pre-flight):"
    ),
    new_code_cell(
        "for name in ('weather_48k_labelled_16k.raw', 'weather_float32_as_int16.raw', 'weather_base64.txt'):\n"
        "    top = vl.inspect(DATA / 'broken' / name, raw='linear16:16000:1', target='pulse').findings[0]\n"
        "    print(f'{name:32} [{top.severity}] {top.code}\\n    fix: {top.fix}')"
    ),
    new_markdown_cell(
        "## 4. The docs' own preprocessing snippet\n\n"
        "The Pulse page suggests, under *Preprocess Audio*:\n\n"
        "```python\n"
        "audio = audio / np.abs(audio).max() * 0.95  # Normalize\n"
        "audio = audio.astype(np.int16)  # Convert to int16\n"
        "```\n\n"
        "`soundfile.read` returns floats in [-1, 1]; after normalising they stay inside ±0.95, and `astype(np.int16)` "
        "*truncates* each one towards zero. Every sample becomes 0:"
    ),
    new_code_cell(
        "import soundfile as sf\n\n"
        "audio, sample_rate = sf.read(DATA / 'speech' / 's02_weather_16k.flac')\n"
        "print(audio.dtype, audio.min().round(3), audio.max().round(3))\n"
        "audio = audio / np.abs(audio).max() * 0.95  # Normalize\n"
        "audio = audio.astype(np.int16)  # Convert to int16\n"
        "print('distinct values after the snippet:', np.unique(audio))"
    ),
    new_code_cell("vl.inspect(audio, samplerate=sample_rate, target='pulse')"),
    new_markdown_cell(
        "Streamed, it is the \"no transcription received\" symptom exactly: the server takes the silence and "
        "answers nothing, and `diagnose` says why (`no_transcripts`, explained by `silent_audio`)."
    ),
    new_code_cell(
        "with warnings.catch_warnings(record=True):\n"
        "    warnings.simplefilter('always')\n"
        "    zeros = vl.stream(pieces(audio.astype('<i2').tobytes()), provider='pulse', url=server.url,\n"
        "                      api_key=server.api_key, speed=None)\n"
        "    zeros.wait(60)\n"
        "print('transcript:', repr(zeros.transcript))\n"
        "print([c for c in vl.diagnose(zeros).codes if c != 'faster_than_real_time'])"
    ),
    new_markdown_cell(
        "The correct conversion scales to the int16 range first (and clips, so a peak of exactly 1.0 does not "
        "wrap around) — or lets voicelab do it: a `Clip` is float32 with its rate, and `vl.stream` encodes "
        "`linear16` itself."
    ),
    new_code_cell(
        "audio, sample_rate = sf.read(DATA / 'speech' / 's02_weather_16k.flac', dtype='float32')\n"
        "audio = audio / np.abs(audio).max() * 0.95\n"
        "pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype(np.int16)  # scale, then convert\n"
        "print('peak:', np.abs(pcm).max(), '| ok for pulse:', vl.inspect(pcm, samplerate=sample_rate, target='pulse').ok)"
    ),
    new_markdown_cell(
        "## 5. Fix it, see it fixed\n\n"
        "Each fix is one declaration: the real rate (voicelab resamples to what the provider expects), `float32` "
        "(voicelab encodes `linear16`), base64 decoded before sending (binary frames carry raw bytes)."
    ),
    new_code_cell(
        "FIXED = {\n"
        "    'wrong rate (48k as 16k)': vl.load(DATA / 'broken' / 'weather_48k_labelled_16k.raw', raw='linear16:48000:1'),\n"
        "    'float32 as int16': vl.load(DATA / 'broken' / 'weather_float32_as_int16.raw', raw='float32:16000:1'),\n"
        "    'base64 text': vl.load(base64.b64decode((DATA / 'broken' / 'weather_base64.txt').read_bytes()),\n"
        "                           raw='linear16:16000:1'),\n"
        "    'docs snippet': vl.Clip(pcm, samplerate=sample_rate),\n"
        "}\n"
        "fixed = {case: vl.stream(clip, provider='pulse', url=server.url, api_key=server.api_key, speed=None)\n"
        "         for case, clip in FIXED.items()}\n"
        "for s in fixed.values():\n"
        "    s.wait(120)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for case, s in fixed.items():\n"
        "    print(f'{case:25} {s.transcript!r}')"
    ),
    new_code_cell(
        "for case, s in fixed.items():\n"
        "    d = vl.diagnose(s)\n"
        "    print(f\"{case:25} {', '.join(c for c in d.codes if c != 'faster_than_real_time') or 'nothing wrong'}\")"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "fig = Figure(figsize=(9, 4.8), layout='constrained', dpi=64)\n"
        "axes = fig.subplots(len(fixed), 1, sharex=True)\n"
        "for ax, (case, s) in zip(axes, fixed.items()):\n"
        "    clip = as_the_server_heard(s.recording)\n"
        "    with np.errstate(divide='ignore'):\n"
        "        ax.specgram(clip.samples.astype(np.float64), NFFT=512, Fs=clip.samplerate, noverlap=384, cmap='magma',\n"
        "                    vmin=-140, vmax=-20)\n"
        "    ax.set_ylabel('Hz'); ax.set_title(f'fixed — {case}: what the server heard')\n"
        "axes[-1].set_xlabel('seconds')\n"
        "fig"
    ),
    new_code_cell("server.close()"),
]
