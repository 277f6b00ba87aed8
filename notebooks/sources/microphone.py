"""Cells of 08-microphone.ipynb — The browser's microphone: permission, secure contexts, the rate, echo cancellation."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "08-microphone.ipynb"


def _shot(name: str, caption: str) -> str:
    return f"![{caption}](images/08-recorder-{name}.png)\n\n*{caption}*"


CAPTURED = ("captured from headless Chromium by `scripts/mic_screenshots.py`: the widget's own ESM, worklet and CSS on "
            "a plain page (no JupyterLab around it), chromium's fake microphone playing `s02_weather`")

CELLS = [
    new_markdown_cell(
        "# The microphone in the browser: permission, secure contexts, the rate it chose, echo cancellation\n\n"
        "*Smallest AI Pulse: \"Browser-Specific Issues › Microphone Access Denied\" with its \"Request Permissions\" "
        "and \"Handle HTTPS Requirement\". AssemblyAI Voice Agent: \"Microphone permission denied\" and \"Wrong sample "
        "rate\" (Safari's fixed hardware rate, the 24 kHz rule).*\n\n"
        "The kernel has no microphone; the browser does. voicelab's `Recorder` widget asks the browser for it "
        "(`getUserMedia`), captures at whatever rate the browser's AudioContext runs, resamples to `target_rate` "
        "inside an AudioWorklet and sends int16 chunks to the kernel — where they can be streamed live to the API.\n\n"
        "**What runs here and what does not.** This notebook is executed in CI with no browser attached, so nothing "
        "can be recorded in it. What the browser does — the widget while it records, the errors a user sees, the "
        "rates and track settings Chromium really reported — was captured from real headless Chromium by "
        "`scripts/mic_screenshots.py` and is shown as screenshots and a JSON of facts (regenerate both with "
        "`.venv-test/bin/python scripts/mic_screenshots.py`). Everything after the browser — the translation of its "
        "errors, the streams, the emulator, `inspect` and `diagnose` — runs for real below. In JupyterLab with a "
        "microphone, the widgets here record for real too."
    ),
    new_code_cell(
        SETUP + "\n\n"
        "import json\n"
        "import threading\n"
        "import time\n"
        "import warnings\n\n"
        "import numpy as np\n"
        "from matplotlib.figure import Figure\n"
        "from voicelab.widgets.recorder import MicrophoneError, microphone_error\n\n"
        "IMAGES = Path('images') if Path('images').is_dir() else Path('notebooks') / 'images'\n"
        "FACTS = json.loads((IMAGES / '08-chromium-facts.json').read_text())  # what chromium reported\n"
        "speech = vl.load(DATA / 'speech' / 's02_weather_16k.flac')\n"
        "print('reference:', vl.recording.find_reference(DATA / 'speech' / 's02_weather_16k.flac')['transcript'])\n"
        "print('facts from chromium', FACTS['chromium'])"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nserver = vl.serve(announce=False)  # whisper (tiny.en): the words matter here\n"
                  "server"),
    new_markdown_cell(
        "## 1. The Recorder\n\n"
        "Press **Record**, speak, press **Stop** (in JupyterLab, on `http://localhost`, `http://127.0.0.1` or "
        "`https://`). The widget shows what the browser negotiated, not what was asked for:\n\n"
        "* **AudioContext** — the rate the browser chose for its audio graph (44.1 or 48 kHz on most machines);\n"
        "* **Sent to kernel** — int16 little-endian mono at `target_rate`, in 0.1 s chunks, *resampled from the "
        "AudioContext's rate inside the AudioWorklet*;\n"
        "* **Track** — the settings the browser applied to the microphone track (`MediaTrackSettings`): echo "
        "cancellation, automatic gain control, noise suppression, the track's own rate and channels.\n\n"
        "Errors appear in the widget itself, with what to do (section 2)."
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nrec = vl.widgets.Recorder(target_rate=16000)\nrec"),
    new_markdown_cell(
        "Until the browser starts a recording, the kernel knows only what it asked for: `context_rate` is 0 and "
        "`track_settings` empty."
    ),
    new_code_cell("print(repr(rec))\nprint('context_rate:', rec.context_rate, '| track_settings:', rec.track_settings)"),
    new_markdown_cell(
        "The same widget while it records:\n\n"
        + _shot("recording", f"The Recorder while it records, 2.3 s in — {CAPTURED}.") + "\n\n"
        "When recording starts, the widget sends the kernel a `start` message with the facts it negotiated; these "
        "are the ones Chromium sent for that take (from `images/08-chromium-facts.json`):"
    ),
    new_code_cell(
        "take = FACTS['recording']\n"
        "start = take['start']\n"
        "print('AudioContext rate (the browser chose):', start['context_rate'], 'Hz')\n"
        "print('rate sent to the kernel:', start['target_rate'], 'Hz,', start['dtype'], start['byteorder'] + '-endian,',\n"
        "      start['channels'], 'channel,', start['chunk_frames'], 'frames per chunk')\n"
        "print('track settings:', start['track_settings'])\n"
        "print('device:', start['label'], '|', take['chunks'], 'chunks,', take['done']['frames'], 'frames, ended by',\n"
        "      repr(take['done']['reason']))"
    ),
    new_markdown_cell(
        "Headless Chromium has no audio output device, so its AudioContext runs at 44.1 kHz; the track itself runs "
        "at 48 kHz with echo cancellation on. Neither is 16 kHz, and neither matters: the worklet resampled "
        "44.1 kHz to 16 kHz before anything reached the kernel. The PCM of that take is saved next to the "
        "screenshots; `inspect` finds it is what Pulse expects:"
    ),
    new_code_cell(
        "chromium_take = vl.load(IMAGES / '08-chromium-take-16k.flac')\n"
        "report = chromium_take.inspect(target='pulse')\n"
        "print(f'{chromium_take.duration:.1f} s at {chromium_take.samplerate} Hz | ok for pulse: {report.ok} |',\n"
        "      'findings:', [f.code for f in report.findings if f.severity != 'info'])"
    ),
    new_markdown_cell(
        "## 2. Microphone access denied — as the user sees it\n\n"
        "The Pulse page's *Request Permissions* snippet is `navigator.mediaDevices.getUserMedia({ audio: true })` "
        "with a `.catch` that should \"show user instructions\". The Recorder does exactly that when **Record** is "
        "pressed: the browser asks the user; if it fails, the widget shows a title, the fix and the browser's own "
        "message, and sends `{type: \"error\", name, message}` to the kernel, where `rec.clip`, `rec.wait()` and "
        "iterating `rec.chunks()` raise a `MicrophoneError` subclass. Three failures, captured from real Chromium:\n\n"
        + _shot("permission-denied", "Permission denied: the user clicked Block (chromium launched with "
                "`--deny-permission-prompts`) — " + CAPTURED + ".") + "\n\n"
        + _shot("insecure-context", "Not a secure context: the same page served from `http://192.168.1.20:8888`, "
                "as when JupyterLab is opened on a LAN address over plain http — " + CAPTURED + ".") + "\n\n"
        + _shot("no-microphone", "No microphone: chromium without its fake capture device, on a machine without a "
                "sound card — " + CAPTURED + ".")
    ),
    new_markdown_cell(
        "In the kernel, `voicelab.widgets.recorder.microphone_error(name, message)` is the translation the widget "
        "applies to the browser's error: the exception class (permission errors are also Python `PermissionError`s) "
        "and a message that says what happened and the fix, with the browser's own words at the end. The first "
        "three below are the errors Chromium really sent above; `SecurityError` (media capture blocked by the "
        "page's security settings) and `NotReadableError` (another application holds the device, or the operating "
        "system blocked it) were not reproduced here, so they carry no browser message. (The widget sends older "
        "and alias names under the standard one — `SecurityError` and `PermissionDeniedError` arrive as "
        "`NotAllowedError`, `DevicesNotFoundError` as `NotFoundError`, `TrackStartError` as `NotReadableError` — "
        "and `microphone_error` accepts the raw names too.)"
    ),
    new_code_cell(
        "BROWSER_ERRORS = [\n"
        "    FACTS['permission_denied']['error'],   # the user clicked Block\n"
        "    FACTS['insecure_context']['error'],    # http:// on a non-local address\n"
        "    FACTS['no_microphone']['error'],       # no capture device\n"
        "    {'name': 'SecurityError', 'message': ''},\n"
        "    {'name': 'NotReadableError', 'message': ''},\n"
        "]\n"
        "for e in BROWSER_ERRORS:\n"
        "    err = microphone_error(e['name'], e['message'])\n"
        "    kind = type(err).__name__ + (' (a PermissionError)' if isinstance(err, PermissionError) else '')\n"
        "    print(f\"{e['name']} -> {kind}\\n    {err}\\n\")"
    ),
    new_markdown_cell(
        "These are `VoicelabError`s, so one `except` catches them all. With no browser attached, the Recorder above "
        "has nothing yet, and says so instead of waiting forever (a cell cannot wait for the browser: the kernel "
        "receives its messages only between cells):"
    ),
    new_code_cell(
        "try:\n"
        "    rec.clip\n"
        "except MicrophoneError as exc:  # what a failed recording raises\n"
        "    print('microphone:', exc)\n"
        "except vl.VoicelabError as exc:\n"
        "    print(type(exc).__name__ + ':', exc)"
    ),
    new_markdown_cell(
        "### Handle HTTPS requirement\n\n"
        "Browsers give `getUserMedia` only to *secure contexts*. On any other page `navigator.mediaDevices` is "
        "simply `undefined` — there is no prompt and no `NotAllowedError`, which is why the Recorder checks "
        "`window.isSecureContext` first and names the cause (`InsecureContextError`):\n\n"
        "| page opened at | secure context | microphone |\n|---|---|---|\n"
        "| `https://…` | yes | after the user allows it |\n"
        "| `http://localhost:8888`, `http://127.0.0.1:8888` | yes | after the user allows it |\n"
        "| `http://192.168.1.20:8888`, `http://myserver:8888` | **no** | never: `navigator.mediaDevices` is undefined |\n\n"
        "Fixes, for JupyterLab on another machine: serve it over HTTPS (`jupyter lab --certfile=cert.pem "
        "--keyfile=key.pem`), or forward the port and open it as localhost (`ssh -L 8888:127.0.0.1:8888 myserver`, "
        "then `http://127.0.0.1:8888`). For a test machine only, Chromium's "
        "`--unsafely-treat-insecure-origin-as-secure=http://myserver:8888` makes one origin count as secure.\n\n"
        "When permission is denied on a secure page, the fix is in the browser (the microphone icon in the address "
        "bar, or the site settings) — and one level down in the operating system: on macOS, *System Settings → "
        "Privacy & Security → Microphone* must allow the browser; on Linux the user needs access to the sound "
        "device (`ls -la /dev/snd/`, the `audio` group). A browser that sees no device reports `NotFoundError`, as "
        "above."
    ),
    new_markdown_cell(
        "## 3. The rate the browser chose, and Safari\n\n"
        "A web page does not choose the microphone's rate: the AudioContext runs at the browser's rate. Chromium "
        "honours a requested rate — asked for 16 or 24 kHz, it resamples for you. These are the rates it really "
        "gave:"
    ),
    new_code_cell(
        "rates = FACTS['audiocontext_rates']\n"
        "print('new AudioContext()                       ->', rates['default'], 'Hz')\n"
        "print('new AudioContext({sampleRate: 16000})    ->', rates['asked_16000'], 'Hz')\n"
        "print('new AudioContext({sampleRate: 24000})    ->', rates['asked_24000'], 'Hz')"
    ),
    new_markdown_cell(
        "**Safari ignores the `sampleRate` option** and runs at the hardware rate, typically 48 kHz (the AssemblyAI "
        "page's *Wrong sample rate*). The quickstart pattern — ask for 16 kHz (Pulse) or 24 kHz (the Voice Agent), "
        "convert the worklet's Float32 frames to Int16, send them — then sends 48 kHz samples under a 16 or 24 kHz "
        "label, silently. There is no Safari here, so this is reproduced from the audio side: the sentence at "
        "48 kHz, as Safari's worklet hands it over, sent as the app would — Pulse with `sample_rate=16000` in the "
        "URL (voicelab's default), the agent as 24 kHz `input.audio`. (Pacing does not matter for this, so it goes "
        "out as fast as possible: `speed=None`.)"
    ),
    new_code_cell(
        "safari_frames = speech.resample(48000)  # what the worklet gets at Safari's 48 kHz\n"
        "pcm48 = (np.clip(safari_frames.samples, -1, 1) * 32767).astype('<i2').tobytes()  # Float32 -> Int16, as the app does\n\n"
        "def pieces(data, n):\n"
        "    return iter([data[i:i + n] for i in range(0, len(data), n)])\n\n"
        "with warnings.catch_warnings(record=True) as caught:  # the pre-flight check may warn before the first byte\n"
        "    warnings.simplefilter('always')\n"
        "    safari = {\n"
        "        'pulse (labelled 16 kHz)': vl.stream(pieces(pcm48, 3200), provider='pulse', url=server.url,\n"
        "                                             api_key=server.api_key, speed=None, final_timeout=60),\n"
        "        'agent (labelled 24 kHz)': vl.stream(pieces(pcm48, 2400), provider='assemblyai-agent', url=server.url,\n"
        "                                             api_key=server.api_key, speed=None, final_timeout=60),\n"
        "    }\n"
        "    for s in safari.values():\n"
        "        s.wait(120)\n"
        "print(len(pcm48), 'bytes of 48 kHz int16 per stream;', len(caught), 'pre-flight warnings')"
    ),
    new_markdown_cell("What came back: garbled words, not the sentence."),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for case, s in safari.items():\n"
        "    print(f'{case:25} {s.transcript!r}')"
    ),
    new_markdown_cell(
        "What the servers heard: the bytes each Recording kept, read at the declared rate. The sentence lasts 5.5 s; "
        "at a 16 kHz label it lasts three times as long, three times lower; at 24 kHz, twice."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "def as_the_server_heard(s):\n"
        "    sent = s.recording.sent_audio()\n"
        "    x = np.frombuffer(sent.data[: len(sent.data) // 2 * 2], '<i2').astype(np.float32) / 32768\n"
        "    return vl.Clip(x, samplerate=sent.samplerate)\n\n"
        "heard = {'the sentence (16 kHz, correctly labelled)': speech}\n"
        "heard.update({f'{case}: as the server heard it': as_the_server_heard(s) for case, s in safari.items()})\n"
        "fig = Figure(figsize=(9, 5.4), layout='constrained', dpi=64)\n"
        "axes = fig.subplots(len(heard), 1, sharex=True)\n"
        "for ax, (title, c) in zip(axes, heard.items()):\n"
        "    with np.errstate(divide='ignore'):\n"
        "        ax.specgram(c.samples.astype(np.float64), NFFT=512, Fs=c.samplerate, noverlap=384, cmap='magma',\n"
        "                    vmin=-140, vmax=-20)\n"
        "    ax.set_ylim(0, 8000); ax.set_ylabel('Hz'); ax.set_title(f'{title} — {c.duration:.1f} s')\n"
        "axes[-1].set_xlabel('seconds, at the declared rate')\n"
        "fig"
    ),
    new_markdown_cell(
        "Named: `diagnose` reads the bytes each session kept and finds speech that does not fit its label "
        "(`rate_mismatch`, with the rate it was really recorded at; when the server heard no words at all it adds "
        "`no_transcripts`, explained by it). `inspect` says the same before anything is sent, from the bytes and "
        "the declared format:"
    ),
    new_code_cell(
        "for case, s in safari.items():\n"
        "    d = vl.diagnose(s)\n"
        "    f = next(f for f in d if f.code == 'rate_mismatch')\n"
        "    print(f\"{case:25} {f.code} ({f.severity}): recorded at about {f.evidence['likely_samplerate']} Hz\")\n"
        "for raw, target in (('linear16:16000:1', 'pulse'), ('linear16:24000:1', 'assemblyai-agent')):\n"
        "    top = vl.inspect(pcm48, raw=raw, target=target).findings[0]\n"
        "    print(f'inspect as {raw} for {target}: [{top.severity}] {top.code}')"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(safari['pulse (labelled 16 kHz)'])  # the whole report: "
                  "faster_than_real_time too, as we sent fast on purpose"),
    new_markdown_cell(
        "**Fix**, as the AssemblyAI page says for Safari: let the browser keep its rate and resample *inside the "
        "worklet* to what the API expects. The Recorder does exactly that (`Recorder(target_rate=16000)` for "
        "Pulse, `target_rate=24000` for the agent), so the rate the browser chose never reaches the wire — section "
        "1's Chromium take went from 44.1 kHz to 16 kHz that way. For bytes already captured, declare their real "
        "rate and let voicelab resample: `vl.load(pcm48, raw='linear16:48000:1')`. The same two sessions, fixed:"
    ),
    new_code_cell(
        "mic48 = vl.load(pcm48, raw='linear16:48000:1')  # the real rate; vl.stream resamples to 16 / 24 kHz\n"
        "fixed = {\n"
        "    'pulse (16 kHz)': vl.stream(mic48, provider='pulse', url=server.url, api_key=server.api_key, speed=None),\n"
        "    'agent (24 kHz)': vl.stream(mic48, provider='assemblyai-agent', url=server.url, api_key=server.api_key,\n"
        "                                speed=None, final_timeout=30),\n"
        "}\n"
        "for case, s in fixed.items():\n"
        "    s.wait(120)\n"
        "    codes = [c for c in vl.diagnose(s).codes if c != 'faster_than_real_time']\n"
        "    print(f\"{case:15} sent as {s.recording.sent_audio().samplerate} Hz | 'weather' heard: \"\n"
        "          f\"{'weather' in s.transcript.lower()} | {codes or 'nothing wrong'}\")"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for case, s in fixed.items():\n"
        "    print(f'{case:15} {s.transcript!r}')"
    ),
    new_markdown_cell(
        "The 24 kHz rule holds for the Recorder too: a Recorder resampling to 16 kHz cannot feed the Voice Agent, "
        "and `stream_to` says so before connecting:"
    ),
    new_code_cell(
        "from voicelab.client.front import StreamSetupError\n\n"
        "try:\n"
        "    vl.widgets.Recorder(target_rate=16000).stream_to(provider='assemblyai-agent', url=server.url,\n"
        "                                                     api_key=server.api_key)\n"
        "except StreamSetupError as exc:\n"
        "    print('StreamSetupError:', exc)\n"
        "print(repr(vl.widgets.Recorder(target_rate=24000)))  # the agent's recorder"
    ),
    new_markdown_cell(
        "## 4. Echo cancellation on or off\n\n"
        "`Recorder(echo_cancellation=True)` (the default) asks `getUserMedia` for echo cancellation, automatic gain "
        "control and noise suppression together; `echo_cancellation=False` turns all three off, so the samples are "
        "the microphone's own. The **Track** row and `rec.track_settings` show what the browser applied — a "
        "browser may refuse a constraint, so read it rather than assume it. The same recording with "
        "`echo_cancellation=False`:\n\n"
        + _shot("ec-off", "`Recorder(echo_cancellation=False)` after a 5.6 s take — " + CAPTURED + ".")
    ),
    new_code_cell(
        "print(f\"{'':14} {'echoCancellation':>16} {'autoGainControl':>15} {'noiseSuppression':>16} {'track rate':>10} \"\n"
        "      f\"{'channels':>8} {'level':>10} {'peak':>5} {'r vs file':>9}\")\n"
        "for name, label in (('recording', 'EC on'), ('ec_off', 'EC off')):\n"
        "    ts, pcm = FACTS[name]['start']['track_settings'], FACTS[name]['pcm']\n"
        "    print(f\"{label:14} {str(ts['echoCancellation']):>16} {str(ts['autoGainControl']):>15} \"\n"
        "          f\"{str(ts['noiseSuppression']):>16} {ts['sampleRate']:>10} {ts['channelCount']:>8} \"\n"
        "          f\"{pcm['rms_dbfs']:>6} dBFS {pcm['peak']:>5} {pcm['correlation_with_file']:>9}\")\n"
        "print(f\"the file itself: {FACTS['ec_off']['pcm']['reference_rms_dbfs']} dBFS\")"
    ),
    new_markdown_cell(
        "With the processing on, Chromium ran the track at 48 kHz, raised the level (automatic gain) and reshaped "
        "the waveform: it no longer correlates fully with the file. With it off, the PCM that reached the kernel "
        "*is* the file (the track had two channels; the audio graph mixes them to mono on the way into the worklet). "
        "For speech recognition either works (section 5 transcribes the EC-on take).\n\n"
        "**Why it matters for the Voice Agent**: with speakers and no echo cancellation, the agent's reply comes "
        "back through the microphone; the server hears the agent as the user, stops the reply (barge-in) and "
        "answers its own echo. [06-voice-agent §6](06-voice-agent.ipynb) reproduces that loop, `diagnose` names it "
        "`echo_loop`, and the fix is headphones or echo cancellation on. So: keep `echo_cancellation=True` for a "
        "conversation on speakers, and check `rec.track_settings['echoCancellation']` after the take; turn it off "
        "to measure or keep the microphone's exact samples (as voicelab's browser tests do)."
    ),
    new_markdown_cell(
        "## 5. Streaming the microphone live\n\n"
        "`rec.stream_to(provider=..., url=..., api_key=...)` streams the current (or next) take *while it is "
        "recorded*: it is `vl.stream(rec.chunks(), ..., speed=None)`, paced by the microphone itself, with Pulse's "
        "`encoding`/`sample_rate` declared from the Recorder. Call it before pressing Record.\n\n"
        "The next cell runs only when a browser with a microphone is attached — when you recorded with the widget "
        "in section 1. It then opens a second Recorder that streams to the emulator: press **Record** on it and "
        "speak; the Timeline fills in as you talk, and the cell after it shows what came back."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "mic = mic_stream = None\n"
        "if rec.state == 'done':  # you recorded in section 1, so this browser has a working microphone\n"
        "    mic = vl.widgets.Recorder(target_rate=16000, max_seconds=10)\n"
        "    mic_stream = mic.stream_to(provider='pulse', url=server.url, api_key=server.api_key)\n"
        "    display(mic, vl.widgets.Timeline(mic_stream))  # press Record on this one and speak\n"
        "else:\n"
        "    print('skipped: no recording from section 1 in this kernel (no browser attached, as in CI).')\n"
        "    print('In JupyterLab: record in section 1, then run this cell again.')"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "if mic is not None and mic.state == 'done':\n"
        "    mic_stream.wait(60)\n"
        "    print('you said:', repr(mic_stream.transcript))\n"
        "    display(vl.diagnose(mic_stream))\n"
        "else:\n"
        "    print('nothing streamed from a microphone in this kernel; below, the same path runs from the Chromium take')"
    ),
    new_markdown_cell(
        "**The same path, offline.** Each take of the Recorder lives in a `vl.widgets.LiveAudioSource` "
        "(`rec.source`): the widget's comm handler pushes every chunk message into it as it arrives, and "
        "`rec.chunks()` reads it. Here a thread plays the browser's part: it pushes the PCM Chromium's worklet "
        "produced in section 1 (EC on, 16 kHz) in the same 0.1 s chunks, at the pace a microphone delivers them, "
        "and `vl.stream` reads the source live — live source → `vl.stream` → emulator → transcripts."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "source = vl.widgets.LiveAudioSource(name='the Chromium take', max_seconds=None)\n\n"
        "def microphone(clip, source, chunk_seconds=0.1):\n"
        "    \"\"\"Push `clip` into `source` chunk by chunk, each when a microphone would have finished recording it.\"\"\"\n"
        "    pcm = (np.clip(clip.samples, -1, 1) * 32767).astype('<i2')\n"
        "    n, t0 = round(chunk_seconds * clip.samplerate), time.monotonic()\n"
        "    for i in range(0, len(pcm), n):\n"
        "        time.sleep(max(0.0, t0 + (i + n) / clip.samplerate - time.monotonic()))\n"
        "        source.push(pcm[i:i + n], samplerate=clip.samplerate)\n"
        "    source.close()  # end of the take: the client sends Pulse's end message\n\n"
        "threading.Thread(target=microphone, args=(chromium_take, source), daemon=True).start()\n"
        "live = vl.stream(source, provider='pulse', url=server.url, api_key=server.api_key, speed=None)\n"
        "vl.widgets.Timeline(live)"
    ),
    new_code_cell(
        "live.wait(60)\n"
        "d = vl.diagnose(live)\n"
        "print(f'{source.chunk_count} chunks pushed, {source.duration:.1f} s of audio |',\n"
        "      f'chunks sent: {len(live.recording.of(\"chunk\"))}')\n"
        "print(\"'weather today is sunny' heard:\", 'weather today is sunny' in live.transcript.lower())\n"
        "print('errors:', [f.code for f in d if f.severity == 'error'] or 'none', '| paced like a microphone:',\n"
        "      not {'faster_than_real_time', 'slower_than_real_time'} & set(d.codes))"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(repr(live.transcript), '| diagnosis:', d.codes or 'nothing wrong')\n"
                  "vl.plot.timeline(live.recording, height=2.6)"),
    new_code_cell(
        "if mic is not None:  # a take still going (or never started) ends, so its stream ends too\n"
        "    mic.stop()\n"
        "    mic.source.close()\n"
        "server.close()"
    ),
]
