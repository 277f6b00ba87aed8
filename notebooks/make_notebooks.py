"""Regenerate the tutorial notebooks from the cell sources below (outputs are produced by running them)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

INSPECT = [
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


QUICKSTART = [
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


SETUP = (
    "%matplotlib inline\n"
    "from pathlib import Path\n\n"
    "import voicelab as vl\n\n"
    "DATA = Path('..') / 'data' if Path('../data').is_dir() else Path('data')  # run from notebooks/ or the repo\n"
    "# a light emulator for drills where the words do not matter: pocketsphinx in this process, ready in ~1 s\n"
    "LIGHT = dict(engine='sphinx', announce=False, recognizer_options={'processes': 0, 'warm': 1})"
)

CONNECTION = [
    new_markdown_cell(
        "# Cannot connect\n\n"
        "*Smallest AI Pulse: \"Cannot Establish WebSocket Connection\" (connection fails immediately or times out), "
        "\"HTTP errors\" (401, 403, 429, 500), \"CORS Errors\". AssemblyAI Voice Agent: \"Firewall blocking WebSocket "
        "connection\", \"Token expired or invalid credentials\".*\n\n"
        "Every cause on those pages is reproduced here on this machine — a wrong scheme, a wrong path, a bad key, "
        "`Token` instead of `Bearer`, a refused port, a firewall black hole, a host that does not resolve, and the "
        "server's 401/403/429/500 — and `vl.doctor` names each one. `doctor` walks the connection the way a packet "
        "does and stops at the first step that fails:\n\n"
        "`url → dns → tcp → tls → upgrade → auth → session → close`\n\n"
        "No network and no API key are needed: the local emulator plays the server."
    ),
    new_code_cell(SETUP),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nserver = vl.serve(**LIGHT)\nserver"),
    new_markdown_cell(
        "## 1. A healthy connection, for reference\n\n"
        "Every step passes: the upgrade, the key in the documented form (`Authorization: Bearer <key>`), two "
        "seconds of speech with a transcript back, and a clean close (`close_stream` → last final → 1000). The key "
        "is never shown, in this checklist or anywhere else."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "healthy = vl.doctor(server.url, provider='pulse', api_key=server.api_key)\n"
        "healthy"
    ),
    new_markdown_cell(
        "## 2. Reproduce every cause\n\n"
        "Each case below is the mistake a seed page names, made on purpose against local sockets:\n\n"
        "| case | how it is made here |\n|---|---|\n"
        "| `https://` URL | the emulator's URL with `https://` |\n"
        "| `ws://` to a `wss://`-only host | `ws://api.smallest.ai` (caught before any packet is sent) |\n"
        "| `wss://` to a plain port | TLS to the emulator, which speaks plain `ws://` |\n"
        "| wrong path | `/v1/listen` (another vendor's path) |\n"
        "| no key / bad key | no `api_key`; a made-up key |\n"
        "| `Token` instead of `Bearer` | `auth_header='Token <key>'`, the header your app sends |\n"
        "| refused port | a port nothing listens on |\n"
        "| firewall black hole | a listener whose accept queue is full: the kernel drops the SYN, exactly as a "
        "firewall that drops packets does |\n"
        "| proxy holding the upgrade | a listener that accepts TCP and never answers |\n"
        "| DNS | a name under `.invalid`, which never resolves |\n"
        "| 401 / 403 / 429 / 500 | the emulator's `vl_fault=reject:N` query parameter (real APIs ignore it) |\n"
        "| agent: bad key | the Voice Agent API upgrades first, then refuses the session (`UNAUTHORIZED`, 1008) |"
    ),
    new_code_cell(
        "import socket\n\n"
        "def free_port():\n"
        "    with socket.socket() as s:\n"
        "        s.bind(('127.0.0.1', 0))\n"
        "        return s.getsockname()[1]\n\n"
        "# a black hole: accept queue of one, filled, never accepted -> the next SYN is dropped\n"
        "hole = socket.socket(); hole.bind(('127.0.0.1', 0)); hole.listen(0)\n"
        "filler = socket.create_connection(hole.getsockname(), timeout=1)\n"
        "# a proxy that holds the upgrade: TCP is accepted by the kernel, nobody answers\n"
        "silent = socket.socket(); silent.bind(('127.0.0.1', 0)); silent.listen(4)\n\n"
        "key = server.api_key  # read, never displayed\n"
        "live = server.url_for('pulse')  # ws://127.0.0.1:PORT/waves/v1/stt/live?model=pulse&language=en\n"
        "CASES = {\n"
        "    'https:// URL': dict(url=server.url.replace('ws://', 'https://'), api_key=key),\n"
        "    'ws:// to a wss-only host': dict(url='ws://api.smallest.ai', api_key=key),\n"
        "    'wss:// to a plain port': dict(url=server.url.replace('ws://', 'wss://'), api_key=key),\n"
        "    'wrong path': dict(url=server.url + '/v1/listen', api_key=key),\n"
        "    'no key': dict(url=server.url),\n"
        "    'bad key': dict(url=server.url, api_key='sk_not_my_key_0000000000'),\n"
        "    'Token instead of Bearer': dict(url=server.url, auth_header='Token ' + key),\n"
        "    'refused port': dict(url=f'ws://127.0.0.1:{free_port()}', api_key=key),\n"
        "    'firewall black hole': dict(url='ws://127.0.0.1:%d' % hole.getsockname()[1], api_key=key),\n"
        "    'proxy holds the upgrade': dict(url='ws://127.0.0.1:%d' % silent.getsockname()[1], api_key=key),\n"
        "    'DNS (.invalid)': dict(url='wss://api.smallest.invalid', api_key=key),\n"
        "    'HTTP 401': dict(url=live + '&vl_fault=reject:401', api_key=key),\n"
        "    'HTTP 403': dict(url=live + '&vl_fault=reject:403', api_key=key),\n"
        "    'HTTP 429': dict(url=live + '&vl_fault=reject:429;retry_after:2', api_key=key),\n"
        "    'HTTP 500': dict(url=live + '&vl_fault=reject:500', api_key=key),\n"
        "    'agent: bad key': dict(url=server.url, api_key='not-my-key', provider='assemblyai-agent'),\n"
        "}\n"
        "reports = {}\n"
        "for case, kw in CASES.items():\n"
        "    kw = {'provider': 'pulse', 'timeout_seconds': 1.0, **kw}\n"
        "    reports[case] = vl.doctor(kw.pop('url'), **kw)\n"
        "filler.close(); hole.close(); silent.close()\n\n"
        "for case, report in reports.items():\n"
        "    step = report.failed_step\n"
        "    print(f\"{case:26} stops at {step.name:8} {step.finding.code}\")"
    ),
    new_markdown_cell(
        "## 3. See where each one stops\n\n"
        "One row per case, one column per step: green passed, red failed (with its code), grey not reached. Causes "
        "that look the same in a browser console (\"connection failed\") stop at different steps."
    ),
    new_code_cell(
        "from matplotlib.figure import Figure\n"
        "from matplotlib.patches import Rectangle\n"
        "from voicelab.diagnosis.doctor import STEPS\n\n"
        "def where_it_stops(reports):\n"
        "    colour = {'ok': '#2e7d32', 'failed': '#c62828', 'skipped': '#e0e0e0'}\n"
        "    fig = Figure(figsize=(10, 0.34 * len(reports) + 0.9), layout='constrained', dpi=110)\n"
        "    ax = fig.subplots()\n"
        "    for i, (case, report) in enumerate(reports.items()):\n"
        "        steps = {s.name: s for s in report.steps}\n"
        "        for j, name in enumerate(STEPS):\n"
        "            status = steps[name].status if name in steps else 'skipped'\n"
        "            ax.add_patch(Rectangle((j, i), 0.96, 0.86, color=colour[status]))\n"
        "            if status == 'failed':\n"
        "                ax.text(j + 0.48, i + 0.45, steps[name].finding.code, ha='center', va='center',\n"
        "                        color='white', fontsize=6.5, fontweight='bold')\n"
        "    ax.set_xlim(0, len(STEPS)); ax.set_ylim(len(reports), 0)\n"
        "    ax.set_xticks([j + 0.48 for j in range(len(STEPS))], STEPS)\n"
        "    ax.set_yticks([i + 0.43 for i in range(len(reports))], list(reports))\n"
        "    ax.xaxis.tick_top(); ax.tick_params(length=0)\n"
        "    for side in ax.spines.values():\n"
        "        side.set_visible(False)\n"
        "    ax.set_title('vl.doctor: the step where each connection fails', pad=22)\n"
        "    return fig\n\n"
        "where_it_stops({'healthy': healthy, **reports})"
    ),
    new_markdown_cell(
        "## 4. Name it: the checklists\n\n"
        "Each report says what was seen and the fix. `Token` instead of `Bearer`: doctor sends your header as is, "
        "and when it is refused tries the same key in the documented form — so it can tell a wrong *form* from a "
        "wrong *key*:"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['Token instead of Bearer']"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['https:// URL']"),
    new_markdown_cell(
        "A firewall that drops packets and a proxy that holds the upgrade both look like \"times out\" to an "
        "application; doctor separates them (the TCP step, or the upgrade step):"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['firewall black hole']"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['proxy holds the upgrade']"),
    new_markdown_cell(
        "The server's own refusals: 429 carries `Retry-After` in the evidence, and the Voice Agent API refuses a "
        "bad key *after* the upgrade, in its first message:"
    ),
    new_code_cell(
        "for case in ('HTTP 401', 'HTTP 403', 'HTTP 429', 'HTTP 500', 'agent: bad key', 'DNS (.invalid)'):\n"
        "    f = reports[case].failed_step.finding\n"
        "    print(f'{case}: [{f.code}]\\n    fix: {f.fix}\\n')"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreports['HTTP 429']"),
    new_markdown_cell(
        "`vl.stream` says the same when it is refused, and does the right thing for each status: 400/401/403 fail "
        "at once (retrying cannot help), 429 waits for `Retry-After`, 5xx backs off with jitter."
    ),
    new_code_cell(
        "clip = vl.load(DATA / 'speech' / 's01_fox_16k.flac')\n"
        "try:\n"
        "    vl.stream(clip, provider='pulse', url=server.url, api_key='sk_not_my_key_0000000000').wait(30)\n"
        "except vl.AuthenticationError as exc:\n"
        "    print(type(exc).__name__, '-', exc)"
    ),
    new_markdown_cell(
        "## 5. Fix it, see it fixed\n\n"
        "The fixes the reports name — a `ws(s)://` URL, the provider's path, the key in `Authorization: Bearer "
        "<key>` — are what voicelab's client does by default; the same server now passes every step:"
    ),
    new_code_cell(
        "fixed = vl.doctor(server.url_for('pulse'), provider='pulse', api_key=server.api_key)\n"
        "print('all steps pass:', fixed.ok, '| failed step:', fixed.failed_step)\n"
        "agent = vl.doctor(server.url, provider='assemblyai-agent', api_key=server.api_key)\n"
        "print('agent, all steps pass:', agent.ok)"
    ),
    new_markdown_cell(
        "From a terminal the same check is `voicelab doctor URL --provider pulse --api-key-env VAR` "
        "(`--auth-scheme Token` to test your app's header form; `--json` for a support ticket); without a URL it "
        "checks the vendor's host — and on a machine with no network stops at `dns` with `dns_failure`."
    ),
    new_markdown_cell(
        "## 6. Monitoring connection state over a session\n\n"
        "*Pulse, \"Connection Drops Unexpectedly\" → \"Monitor Connection State\"; \"Debugging Tips\" → \"Enable "
        "Verbose Logging\", \"Monitor Session State\".* The seed polls `ws.readyState` every 5 s. A Recording has "
        "every connection event on one clock instead: each attempt, each upgrade, each close with its code, each "
        "gap. Here a server drops the connection (no close frame, 1006) 1.5 s into the session; the client "
        "reconnects and resends what no final covered. The event log shows every frame both ways, live."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "flaky = vl.serve(**LIGHT, faults='drop_after_seconds:1.5')\n"
        "session = vl.stream(clip, provider='pulse', url=flaky.url, api_key=flaky.api_key)\n"
        "log = vl.widgets.EventLog(session)\n"
        "log"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "session.wait(60)\n"
        "flaky.close()\n"
        "for e in session.recording.entries:\n"
        "    if e.kind in ('connect', 'handshake', 'close', 'gap'):\n"
        "        detail = {k: e.get(k) for k in ('attempt', 'status', 'code', 'reason', 'resent_chunks') if e.get(k) is not None}\n"
        "        print(f'{e.t:6.2f} s  {e.kind:9} {detail}')"
    ),
    new_code_cell(
        "stats = session.recording.stats\n"
        "print('dropped (1006) and reconnected:', stats.reconnects >= 1 and 1006 in stats.close_codes,\n"
        "      '| last close:', stats.close_codes[-1], '| finals > 0:', stats.finals > 0)"
    ),
    new_markdown_cell("The static twins, for a saved notebook or a bug report — the event log and the timeline with the gap:"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.event_log(session.recording, max_rows=16)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(session.recording)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(session)"),
    new_markdown_cell(
        "## 7. In a browser: no custom headers\n\n"
        "*Pulse, \"CORS Errors\" → \"Handle Authentication\"; \"HTTP errors\".* A browser's `WebSocket` cannot set "
        "`Authorization`, so a page cannot send `Bearer <key>`. Two ways out:\n\n"
        "1. **A query parameter**: Pulse takes the key or a short-lived access token as `?token=` / `?api_key=` "
        "(`vl.stream(..., auth='token')`); better, mint a short-lived token on your backend "
        "(`use_token=True` does that per connection: Pulse `POST /waves/v1/auth/token`, AssemblyAI "
        "`GET /v1/token`) so the page never holds the key.\n"
        "2. **A backend proxy** that adds the header: `voicelab tap --provider pulse --upstream wss://api.smallest.ai "
        "--inject-auth` is one for development (loopback only, guarded by its own local token; docs/tap.md).\n\n"
        "The Recording never holds a credential: the query value is redacted."
    ),
    new_code_cell(
        "q = vl.stream(clip, provider='pulse', url=server.url, api_key=server.api_key, auth='token', speed=None).wait(60)\n"
        "t = vl.stream(vl.load(DATA / 'speech' / 's01_fox_24k.flac'), provider='assemblyai-agent', url=server.url,\n"
        "              api_key=server.api_key, use_token=True, speed=None).wait(60)\n"
        "for s in (q, t):\n"
        "    print(s.recording.of('connect')[0]['url'].replace(server.url, '<emulator>'))\n"
        "print('key in either recording:', any(server.api_key in e.to_json() for s in (q, t) for e in s.recording.entries))"
    ),
    new_markdown_cell(
        "In a browser a refused credential has no body to read: the Voice Agent API's `UNAUTHORIZED` + 1008 shows "
        "up as **1006** in the page. Run `vl.doctor` (or `voicelab doctor`) from a terminal with the same key to see "
        "the real answer."
    ),
    new_code_cell("server.close()"),
]

KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


GARBLED = [
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
        "for w in caught[:3]:\n"
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


DROPS = [
    new_markdown_cell(
        "# Drops, reconnects and resume\n\n"
        "*Smallest AI Pulse: \"Connection Drops Unexpectedly\" (closes without sending an end signal) → "
        "\"Implement Reconnection Logic\". AssemblyAI Voice Agent: \"Session resume fails\", \"Unexpected billing after "
        "the call ended\".*\n\n"
        "The emulator drops connections on purpose (`faults='drop_after_seconds:S'`: the TCP connection is aborted, "
        "no close frame, the client sees **1006**). We watch voicelab's client reconnect with backoff, resend the "
        "audio no final covered yet and continue the audio clock across the gap; then the Voice Agent API's "
        "`session.resume`, what happens when it fails, and why every intentional hang-up must send `session.end`."
    ),
    new_code_cell(SETUP + "\n\nimport numpy as np\nfrom voicelab.client import RetryPolicy\n\n"
                  "clip = vl.load(DATA / 'speech' / 's03_meeting_16k.flac').slice(end=6.0)"),
    new_markdown_cell(
        "## 1. Reproduce: a drop with no reconnect logic\n\n"
        "This is the seed's symptom as an application without reconnection sees it: the stream fails with 1006 and "
        "the rest of the audio is never transcribed."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "flaky = vl.serve(**LIGHT, faults='drop_after_seconds:2.5')\n"
        "flaky"
    ),
    new_code_cell(
        "lost = vl.stream(clip, provider='pulse', url=flaky.url, api_key=flaky.api_key, reconnect=False)\n"
        "try:\n"
        "    lost.wait(60)\n"
        "except vl.ConnectionDropped as exc:\n"
        "    print(type(exc).__name__, '- close code', exc.close_code)\n"
        "print([f'{f.severity} {f.code}' for f in vl.diagnose(lost) if f.code == 'dropped'])"
    ),
    new_markdown_cell(
        "## 2. Reconnect, resend, and see the gap\n\n"
        "With reconnection on (the default), each drop becomes a `gap` on the Recording clock: the client backs off "
        "(exponential, with jitter; a connection that made progress resets the budget), reconnects, and resends the "
        "chunks no final covered, so no word is lost or repeated. The server here drops *every* connection after "
        "2.5 s, so a 6 s clip needs several."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "kept = vl.stream(clip, provider='pulse', url=flaky.url, api_key=flaky.api_key,\n"
        "                 retry=RetryPolicy(max_attempts=8))\n"
        "vl.widgets.Timeline(kept)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "kept.wait(90)\n"
        "for e in kept.recording.entries:\n"
        "    if e.kind in ('handshake', 'close', 'gap'):\n"
        "        info = {k: e.get(k) for k in ('code', 'audio_offset', 'resent_chunks', 'reason') if e.get(k) is not None}\n"
        "        print(f'{e.t:6.2f} s  {e.kind:9} {info}')"
    ),
    new_code_cell(
        "rec = kept.recording\n"
        "print('drops:', len(rec.of('gap')) >= 1, '| every drop 1006:', all(g['close_code'] == 1006 for g in rec.of('gap')),\n"
        "      '| chunks resent:', sum(h.get('resent_chunks') or 0 for h in rec.of('handshake')) > 0,\n"
        "      '| last close:', rec.stats.close_codes[-1])"
    ),
    new_markdown_cell("The static timeline marks each gap (orange) where the connection was down:"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(rec)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(kept)"),
    new_code_cell(
        "codes = vl.diagnose(kept).codes\n"
        "print('dropped' in codes, 'reconnected' in codes)\n"
        "flaky.close()"
    ),
    new_markdown_cell(
        "## 3. A close code instead of a drop\n\n"
        "A server can also close with a code. `vl.diagnose` (and the error the client raises) explains the provider's "
        "codes: 1011 here, an internal error; Pulse's 1008 means its concurrency limit."
    ),
    new_code_cell(
        "with vl.serve(**LIGHT, faults='close_after_chunks:8;close_code:1011') as closing:\n"
        "    s = vl.stream(clip, provider='pulse', url=closing.url, api_key=closing.api_key, reconnect=False)\n"
        "    try:\n"
        "        s.wait(60)\n"
        "    except vl.ServerClosedError as exc:\n"
        "        print(type(exc).__name__)\n"
        "f = next(f for f in vl.diagnose(s) if f.code == 'server_closed')\n"
        "print(f.message, '\\nfix:', f.fix)"
    ),
    new_markdown_cell(
        "## 4. AssemblyAI: `session.resume`\n\n"
        "The Voice Agent API keeps a dropped session for 30 s. voicelab's client reconnects and sends "
        "`session.resume {session_id}` first, with a fresh credential: the same `session_id` comes back in a new "
        "`session.ready`, with its configuration and conversation."
    ),
    new_code_cell(
        "from voicelab.protocols.events import SessionReady\n\n"
        "agent_clip = vl.load(DATA / 'speech' / 's01_fox_24k.flac')\n"
        "agent_clip = vl.Clip(np.tile(agent_clip.samples, 2), samplerate=24000)\n\n"
        "def ready_ids(s):\n"
        "    return [ev.session_id for _, ev in s.events if isinstance(ev, SessionReady)]\n\n"
        "def control_messages(s):\n"
        "    return [e['message']['type'] for e in s.recording.of('send')\n"
        "            if isinstance(e.get('message'), dict) and e['message'].get('type') != 'input.audio']\n\n"
        "with vl.serve(**LIGHT, faults='drop_after_seconds:3') as agents:\n"
        "    resumed = vl.stream(agent_clip, provider='assemblyai-agent', url=agents.url, api_key=agents.api_key,\n"
        "                        speed=1.5, retry=RetryPolicy(base=0.05)).wait(120)\n"
        "ids = ready_ids(resumed)\n"
        "print('connections:', len(ids) >= 2, '| one session throughout:', len(set(ids)) == 1)\n"
        "print('messages sent:', sorted(set(control_messages(resumed))))"
    ),
    new_markdown_cell(
        "### When resume fails\n\n"
        "`session.resume` fails with one of three codes, all meaning *start over*:\n\n"
        "| code | cause |\n|---|---|\n"
        "| `session_not_found` | unknown id, or the 30 s grace window passed |\n"
        "| `session_forbidden` | the session belongs to another account |\n"
        "| `session_expired` | the session's TTL elapsed during the grace window |\n\n"
        "voicelab starts a fresh session at once on any of them and notes it. The emulator reproduces "
        "`session_not_found` with a grace window of 0 s (`resume_grace_seconds=0`):"
    ),
    new_code_cell(
        "with vl.serve(**LIGHT, faults='drop_after_seconds:3', resume_grace_seconds=0.0) as agents:\n"
        "    fresh = vl.stream(agent_clip, provider='assemblyai-agent', url=agents.url, api_key=agents.api_key,\n"
        "                      speed=1.5, retry=RetryPolicy(base=0.05)).wait(120)\n"
        "print('errors:', sorted({ev.code for _, ev in fresh.events if ev.kind == 'error'}))\n"
        "print('sessions:', len(set(ready_ids(fresh))) >= 2)\n"
        "print([e['text'] for e in fresh.recording.of('note') if 'resume' in str(e.get('text'))][:1])\n"
        "f = next(f for f in vl.diagnose(fresh) if f.code == 'resume_failed')\n"
        "print(f.severity, f.evidence['provider_code'], 'fell back:', f.evidence['fell_back'])"
    ),
    new_markdown_cell(
        "## 5. Hanging up: `session.end` and the 30 s billing window\n\n"
        "Because a dropped session is kept 30 s for `session.resume`, a client that just closes the socket is "
        "billed for those 30 s. Here is an application's own client (a few lines of `websockets`, as in "
        "AssemblyAI's quickstart) that closes without `session.end`, next to voicelab's, which always sends it. The "
        "emulator's Sessions API (`GET /v1/sessions`) shows how each session ended."
    ),
    new_code_cell(
        "import asyncio, base64, json, time, urllib.request\n\n"
        "import websockets\n\n"
        "pcm = (np.clip(agent_clip.samples[:48000], -1, 1) * 32767).astype('<i2').tobytes()  # 2 s\n\n"
        "async def hang_up(server, rec):\n"
        "    url = server.url_for('assemblyai-agent')\n"
        "    rec.log('connect', attempt=1, url=url)\n"
        "    async with websockets.connect(url, additional_headers={'Authorization': f'Bearer {server.api_key}'}) as ws:\n"
        "        rec.log('handshake', ok=True, status=101, audio_offset=0.0)\n"
        "        for msg in [json.dumps({'type': 'session.update', 'session': {}})]:\n"
        "            rec.message_out(msg); await ws.send(msg)\n"
        "        rec.message_in(await ws.recv())  # session.ready\n"
        "        for k, i in enumerate(range(0, len(pcm), 2400)):\n"
        "            part = pcm[i:i + 2400]\n"
        "            await ws.send(json.dumps({'type': 'input.audio', 'audio': base64.b64encode(part).decode()}))\n"
        "            rec.chunk(seq=k, audio_start=i / 48000, audio_end=(i + len(part)) / 48000, nbytes=len(part),\n"
        "                      data=part, encoding='linear16', samplerate=24000)\n"
        "            await asyncio.sleep(0.05)\n"
        "        try:  # read what came back for a moment (the transcript), then hang up: no session.end\n"
        "            async with asyncio.timeout(1.5):\n"
        "                async for m in ws:\n"
        "                    rec.message_in(m)\n"
        "        except TimeoutError:\n"
        "            pass\n"
        "    rec.log('close', code=1000, reason='', by='client')\n\n"
        "def close_reasons(server):\n"
        "    req = urllib.request.Request(server.url.replace('ws://', 'http://') + '/v1/sessions',\n"
        "                                 headers={'Authorization': server.api_key})\n"
        "    return [s.get('public_close_reason') or s['status'] for s in json.load(urllib.request.urlopen(req))['sessions']]\n\n"
        "with vl.serve(**LIGHT, resume_grace_seconds=1.0) as agents:\n"
        "    app = vl.Recording(provider='assemblyai-agent', endpoint=agents.url)\n"
        "    await hang_up(agents, app)\n"
        "    ours = vl.stream(agent_clip.slice(end=2.0), provider='assemblyai-agent', url=agents.url,\n"
        "                     api_key=agents.api_key).wait(60)\n"
        "    time.sleep(1.5)  # let the dropped session's (here shortened) grace window pass\n"
        "    print('newest first:', close_reasons(agents))\n"
        "print(\"voicelab's last messages:\", control_messages(ours)[-1:])"
    ),
    new_markdown_cell(
        "`client_disconnected` is the session that was held (and billed) for the grace window; `client_end` is the "
        "one that said goodbye. `diagnose` names the first from the application's Recording alone:"
    ),
    new_code_cell(
        "f = next(f for f in vl.diagnose(app) if f.code == 'session_end_missing')\n"
        "print(f'[{f.severity}] {f.code}: {f.message}\\nfix: {f.fix}')\n"
        "print('voicelab stream:', 'session_end_missing' in vl.diagnose(ours).codes)"
    ),
]


LATENCY = [
    new_markdown_cell(
        "# High latency, and partials that never show\n\n"
        "*Smallest AI Pulse: \"High Latency\" (long delay between speaking and transcription) → \"Optimize Chunk "
        "Size\", \"Increase Streaming Rate\"; \"Partial Transcripts Not Updating\" (only final transcripts received) "
        "→ \"Handle Both Types\".*\n\n"
        "Latency depends on what the client sends and when: the chunk size, the time between chunks, and whether the "
        "send loop keeps to the audio clock. Here the docs' own advice (4096 bytes every 50 ms) is measured, a "
        "sweep of chunk sizes and intervals is named by `vl.diagnose`, a `send(); sleep()` loop's drift is set "
        "against voicelab's paced sending, and the partial/final stream is taken apart: what a handler that "
        "filters `is_final` shows, stability metrics, and `stream.finalize()`.\n\n"
        "Everything runs against the local emulator; every figure comes from the Recording's chunk send times and "
        "message arrival times."
    ),
    new_code_cell(
        SETUP + "\n\nimport asyncio, json, time\n\n"
        "import numpy as np\n"
        "import websockets\n"
        "from matplotlib.figure import Figure\n"
        "from voicelab.protocols.events import Final, Partial\n\n"
        "FOX = DATA / 'speech' / 's01_fox_16k.flac'\n"
        "fox = vl.load(FOX)  # 4.0 s, 16 kHz"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nserver = vl.serve(**LIGHT)\nserver"),
    new_markdown_cell(
        "## 1. Reproduce: 4096 bytes every 50 ms\n\n"
        "At 16 kHz `linear16` a second of audio is 32 000 bytes, so 4096 bytes hold 128 ms of audio. Sending one "
        "every 50 ms sends audio 2.56 times faster than it is spoken — fine for a file, but no microphone produces "
        "audio that fast, and every latency figure measured that way is meaningless (the transcript trails audio "
        "that was sent early). Here is the loop as an application writes it (`send`, then `sleep(0.05)`), with "
        "its chunks logged into a `vl.Recording` the way voicelab logs its own:"
    ),
    new_code_cell(
        "print('audio per 4096-byte chunk:', 4096 / 2 / 16000, 's;', 'audio seconds per wall second:', "
        "4096 / 2 / 16000 / 0.05)"
    ),
    new_code_cell(
        "PCM = (np.clip(fox.samples, -1, 1) * 32767).astype('<i2').tobytes()\n\n"
        "async def send_sleep(server, pcm, *, chunk=4096, interval=0.05):\n"
        "    \"\"\"An application's own loop: send a chunk, sleep, repeat; then close_stream and read to the last final.\"\"\"\n"
        "    rec = vl.Recording(provider='pulse', endpoint=server.url)\n"
        "    url = server.url_for('pulse') + '&encoding=linear16&sample_rate=16000'\n"
        "    rec.log('connect', attempt=1, url=url)\n"
        "    async with websockets.connect(url, additional_headers={'Authorization': f'Bearer {server.api_key}'}) as ws:\n"
        "        rec.log('handshake', ok=True, status=101, audio_offset=0.0)\n\n"
        "        async def receive():\n"
        "            async for m in ws:\n"
        "                rec.message_in(m)\n"
        "                if json.loads(m).get('is_last'):\n"
        "                    return\n\n"
        "        reader = asyncio.create_task(receive())\n"
        "        for k, i in enumerate(range(0, len(pcm), chunk)):\n"
        "            part = pcm[i:i + chunk]\n"
        "            await ws.send(part)\n"
        "            rec.chunk(seq=k, audio_start=i / 32000, audio_end=(i + len(part)) / 32000, nbytes=len(part),\n"
        "                      data=part, encoding='linear16', samplerate=16000)\n"
        "            await asyncio.sleep(interval)\n"
        "        msg = json.dumps({'type': 'close_stream'})\n"
        "        rec.message_out(msg); await ws.send(msg)\n"
        "        await asyncio.wait_for(reader, 30)\n"
        "    rec.log('close', code=1000, reason='', by='client')\n"
        "    return rec\n\n"
        "docs_way = await send_sleep(server, PCM)\n\n"
        "def real_time_ratio(rec):\n"
        "    \"\"\"Audio seconds sent per wall second, from the Recording's chunk send times.\"\"\"\n"
        "    chunks = rec.of('chunk')\n"
        "    return (chunks[-1]['audio_end'] - chunks[0]['audio_start']) / (chunks[-1].t - chunks[0].t + "
        "chunks[-1]['audio_end'] - chunks[-1]['audio_start'])"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(f'measured: {real_time_ratio(docs_way):.2f}x real time')"),
    new_markdown_cell("`diagnose` names it from the Recording alone:"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(docs_way)"),
    new_code_cell(
        "f = next(f for f in vl.diagnose(docs_way) if f.code == 'faster_than_real_time')\n"
        "print(f.severity, f.code, '| ratio above 2:', f.evidence['ratio'] > 2)\n"
        "print('fix:', f.fix)"
    ),
    new_markdown_cell(
        "## 2. The `send(); sleep()` loop drifts\n\n"
        "Sleeping for the chunk's own duration (128 ms for 4096 bytes) looks right, but each turn of the loop also "
        "spends time sending and logging, and every sleep wakes a little late: the delays add up, and the audio "
        "falls further behind the clock with every chunk. voicelab schedules chunk *k* at `t0 + audio_start_k` "
        "instead, so a late send never delays the next. Both loops run side by side on the same 12.8 s clip:"
    ),
    new_code_cell(
        "MEETING = DATA / 'speech' / 's03_meeting_16k.flac'\n"
        "meeting = vl.load(MEETING).slice(end=8.0)\n"
        "paced = vl.stream(meeting, provider='pulse', url=server.url, api_key=server.api_key)  # chunk_bytes=4096\n"
        "naive = await send_sleep(server, (np.clip(meeting.samples, -1, 1) * 32767).astype('<i2').tobytes(),\n"
        "                         interval=0.128)\n"
        "paced.wait(60)\n\n"
        "def drift_ms(rec):\n"
        "    \"\"\"How late each chunk went out against the audio clock (ms), from the chunk send times.\"\"\"\n"
        "    chunks = [c for c in rec.of('chunk')]\n"
        "    t0 = chunks[0].t - chunks[0]['audio_start']\n"
        "    return np.array([(c.t - t0 - c['audio_start']) * 1000 for c in chunks])\n\n"
        "drift = {'send(); sleep(0.128)': drift_ms(naive), 'voicelab, paced': drift_ms(paced.recording)}"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for name, d in drift.items():\n"
        "    print(f'{name:22} after {len(d)} chunks: {d[-1]:6.1f} ms late; median {np.median(d):6.1f} ms; "
        "worst {d.max():6.1f} ms')"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "fig = Figure(figsize=(9, 3.4), layout='constrained', dpi=80)\n"
        "ax = fig.subplots()\n"
        "for name, d in drift.items():\n"
        "    ax.plot(np.arange(len(d)) * 0.128, d, marker='.', label=name)\n"
        "ax.set(xlabel='audio time of the chunk (s)', ylabel='sent late by (ms)',\n"
        "       title='Drift: when each 4096-byte chunk went out, against the audio clock')\n"
        "ax.grid(True, lw=0.5); ax.legend()\n"
        "fig"
    ),
    new_code_cell(
        "print('send(); sleep() ends later than paced sending:', drift['send(); sleep(0.128)'][-1] > "
        "drift['voicelab, paced'][-1])\n"
        "print('paced sending: median lateness under 10 ms:', bool(np.median(np.abs(drift['voicelab, paced'])) < 10))"
    ),
    new_markdown_cell(
        "## 3. Chunk size × interval\n\n"
        "Five ways to send the same 4 s of speech, all at once. At real time (`speed=1.0`) the interval is the "
        "chunk's duration: 20 ms and 50 ms chunks (Pulse's and AssemblyAI's sweet spot), 128 ms (4096 bytes), "
        "250 ms (the docs' \"not 200 ms or longer\"); and the docs' 4096 bytes every 50 ms (2.56x). The live chart "
        "follows the 20 ms session."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "SWEEP = {\n"
        "    '20 ms chunks (640 B)': dict(chunk_seconds=0.02),\n"
        "    '50 ms chunks (1600 B)': dict(chunk_seconds=0.05),\n"
        "    '4096 B every 128 ms': dict(chunk_bytes=4096),\n"
        "    '250 ms chunks (8000 B)': dict(chunk_seconds=0.25),\n"
        "    '4096 B every 50 ms': dict(chunk_bytes=4096, speed=2.56),\n"
        "}\n"
        "sweep = {name: vl.stream(fox, provider='pulse', url=server.url, api_key=server.api_key, **kw)\n"
        "         for name, kw in SWEEP.items()}\n"
        "vl.widgets.LatencyChart(sweep['20 ms chunks (640 B)'])"
    ),
    new_code_cell(
        "for s in sweep.values():\n"
        "    s.wait(60)\n"
        "PACING = ('faster_than_real_time', 'chunk_interval_long', 'chunk_too_large', 'slower_than_real_time')\n"
        "for name, s in sweep.items():\n"
        "    codes = [c for c in vl.diagnose(s).codes if c in PACING]\n"
        "    print(f\"{name:24} {', '.join(codes) or 'nothing wrong with the pacing'}\")"
    ),
    new_markdown_cell(
        "The percentiles, each labelled with what starts and stops its clock (speech end from the sample's "
        "reference timings). `final_latency` is the one a user feels: from the end of a sentence's audio being sent "
        "to its final arriving. The 2.56x session's figures are not comparable (the audio went out early), which "
        "is why `diagnose` flags it."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "REF = vl.recording.find_reference(FOX)\n"
        "reports = {name: s.metrics(reference=REF) for name, s in sweep.items()}\n"
        "reports['20 ms chunks (640 B)']"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for name, r in reports.items():\n"
        "    fl, fp = r['final_latency'], r['first_partial']\n"
        "    ms = lambda v: '-' if v is None else f'{v * 1000:5.0f}'\n"
        "    print(f'{name:24} final latency p50 {ms(fl.p50)} ms  p95 {ms(fl.p95)} ms | first partial {ms(fp.p50)} ms')"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "fig = Figure(figsize=(9, 3.6), layout='constrained', dpi=80)\n"
        "ax = fig.subplots()\n"
        "names = list(reports)\n"
        "x = np.arange(len(names))\n"
        "for j, (metric, label) in enumerate([('first_partial', 'first partial (first chunk sent → first partial)'),\n"
        "                                     ('final_latency', 'final latency P50 (speech end sent → final)')]):\n"
        "    vals = [(reports[n][metric].p50 or 0) * 1000 for n in names]\n"
        "    ax.bar(x + (j - 0.5) * 0.38, vals, 0.38, label=label)\n"
        "ax.set_xticks(x, [n.replace(' (', '\\n(') for n in names], fontsize=8)\n"
        "ax.set(ylabel='ms', title='Latency by chunk size and interval (speech end: reference timings)')\n"
        "ax.legend(fontsize=8); ax.grid(True, axis='y', lw=0.5)\n"
        "fig"
    ),
    new_markdown_cell("The static twin of the live chart, for the 250 ms session — each point is one message:"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.latency(sweep['250 ms chunks (8000 B)'], reference=REF)"),
    new_markdown_cell(
        "**Fix**: send chunks of 20–100 ms at real time, scheduled from the audio clock — which is what "
        "`vl.stream` does by default (`speed=1.0`; `chunk_seconds=0.05` for 50 ms chunks). A `latency:S` fault "
        "(`vl.serve(faults='latency:1')`) adds server-side delay, which `diagnose`'s `high_latency` then attributes "
        "to the server rather than to chunking or pacing."
    ),
    new_markdown_cell(
        "## 4. Only finals arrive\n\n"
        "Pulse sends partials (`is_final: false`) that are revised until a final (`is_final: true`) replaces them. "
        "The seed's two causes are in the client: a handler that only looks at finals, or one that filters partials "
        "out. Here is what each handler would have shown, from the messages the 50 ms session received:"
    ),
    new_code_cell(
        "s = sweep['50 ms chunks (1600 B)']\n"
        "messages = [(e.t, e['message']) for e in s.recording.of('recv') if isinstance(e.get('message'), dict)\n"
        "            and 'is_final' in e['message']]\n"
        "only_finals = [m for t, m in messages if m['is_final']]          # the bug: partials filtered out\n"
        "both = [m for t, m in messages]                                # handle both types\n"
        "print('partial messages:', sum(not m['is_final'] for m in both) > 0,\n"
        "      '| a finals-only handler misses updates:', len(only_finals) < len(both))"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "last = None\n"
        "for t, m in messages:  # each change of text (the emulator repeats an unchanged partial per chunk)\n"
        "    kind = 'FINAL  ' if m['is_final'] else 'partial'\n"
        "    if (kind, m.get('transcript')) != last:\n"
        "        print(f\"{t:5.2f} s  {kind} {m.get('transcript', '')!r}\")\n"
        "    last = (kind, m.get('transcript'))"
    ),
    new_markdown_cell(
        "The timeline shows both: grey partial revisions (each from its arrival until the next message replaced "
        "it) and the blue final with its words. A finals-only client shows nothing until the blue marker."
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.widgets.Timeline(s)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(s)"),
    new_markdown_cell(
        "How stable the partials were: how many words were shown before their final, how often a shown word was "
        "rewritten, and how long a word took to settle:"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\ns.metrics().stability"),
    new_code_cell("print(sorted(s.metrics().stability))"),
    new_markdown_cell(
        "A server-side look-alike: partials really are absent when each chunk is huge — one 13-second chunk gives "
        "the recognizer no chance to send interim results. `diagnose` tells the two apart: `partials_absent` is "
        "named only when no partial came back at all (a client filtering them still *received* them, and its "
        "Recording shows them)."
    ),
    new_code_cell(
        "import warnings\n\n"
        "with warnings.catch_warnings():  # the pre-flight check warns about the chunk size before sending\n"
        "    warnings.simplefilter('ignore', vl.VoicelabWarning)\n"
        "    big = vl.stream(vl.load(MEETING), provider='pulse', url=server.url, api_key=server.api_key,\n"
        "                    chunk_seconds=13.0, speed=None).wait(60)\n"
        "print('pre-flight:', [f.code for f in big.preflight])\n"
        "f = next(f for f in vl.diagnose(big) if f.code == 'partials_absent')\n"
        "print(f.severity, f.code, '| partials:', big.recording.stats.partials)\n"
        "print('fix:', f.fix)"
    ),
    new_markdown_cell(
        "**Fix — handle both types**, the Python form of the seed's snippet: show a partial as the live line, "
        "commit a final."
    ),
    new_code_cell(
        "shown, committed = '', []\n"
        "def on_message(m):\n"
        "    global shown\n"
        "    if not m['is_final']:\n"
        "        shown = m['transcript']                # display the partial\n"
        "    else:\n"
        "        committed.append(m['transcript'])      # display the final\n"
        "        shown = ''\n"
        "updates = 0\n"
        "for t, m in messages:\n"
        "    on_message(m); updates += 1\n"
        "print('every message updates the screen:', updates == len(messages), '| finals committed:', len(committed) == len(only_finals))"
    ),
    new_markdown_cell(
        "With voicelab the same split is the event type: `Partial` or `Final` (`stream.partial` is the live line, "
        "`stream.transcript` the committed text)."
    ),
    new_code_cell(
        "kinds = [type(ev).__name__ for _, ev in s.events if isinstance(ev, (Partial, Final))]\n"
        "print('Partial' in kinds, 'Final' in kinds)"
    ),
    new_markdown_cell(
        "## 5. `stream.finalize()`: a final when your app knows the turn is over\n\n"
        "Without it a final comes when the recognizer's endpointing decides the utterance ended. An application "
        "that knows better (a push-to-talk button released, a form field left) sends `{\"type\": \"finalize\"}`: "
        "Pulse answers with a final for the audio so far, marked `from_finalize` (when `itn_normalize=true`), and "
        "the stream stays open. Here it is called 1.5 s into the meeting clip, mid-sentence:"
    ),
    new_code_cell(
        "live = vl.stream(vl.load(MEETING).slice(end=4.0), provider='pulse', url=server.url, api_key=server.api_key,\n"
        "                 params={'itn_normalize': True})\n"
        "time.sleep(1.5)\n"
        "live.finalize()\n"
        "live.wait(60)\n"
        "finals = [(t, ev) for t, ev in live.events if isinstance(ev, Final)]\n"
        "print('a final from finalize:', any(ev.from_finalize for _, ev in finals),\n"
        "      '| the stream went on after it:', finals[-1][1].is_last and not finals[-1][1].from_finalize)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for t, ev in finals:\n"
        "    print(f'{t:5.2f} s  from_finalize={ev.from_finalize!s:5}  is_last={ev.is_last!s:5}  {ev.text!r}')"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(live)"),
    new_code_cell("server.close()"),
]


AGENT = [
    new_markdown_cell(
        "# The voice agent: turns, barge-in, tools, and the agent that interrupts itself\n\n"
        "*AssemblyAI Voice Agent API: \"Agent interrupts itself (echo / feedback loop)\", \"Wrong sample rate\", "
        "\"Malformed base64 in `input.audio`\", \"Token expired or invalid credentials\".*\n\n"
        "A voice agent session is a conversation: the user speaks, the server ends the user's turn and replies with "
        "speech; the user can interrupt (barge-in), and the agent can call the application's tools. This notebook "
        "shows a healthy conversation first, then reproduces each failure on the seed page — 16 kHz audio where "
        "24 kHz is required, a WAV header and binary frames in place of base64 PCM, an expired token, and the echo "
        "loop that makes the agent interrupt itself — names each with `inspect` or `diagnose`, and fixes it.\n\n"
        "The local emulator plays the agent, with faster-whisper (tiny.en) for the user's words and espeak-ng for "
        "the agent's voice."
    ),
    new_code_cell(
        SETUP + "\n\nimport asyncio, base64, io, json, warnings\n\n"
        "import numpy as np\n"
        "import soundfile as sf\n"
        "import websockets\n"
        "from matplotlib.figure import Figure\n"
        "from voicelab.client.echo import EchoLoop\n"
        "from voicelab.protocols.events import AgentReplyDone, AgentReplyStarted, AgentTranscript, Final, ToolCall\n"
        "from voicelab.providers.assemblyai_agent.emulator import EspeakSynthesizer\n\n"
        "tts = EspeakSynthesizer(cache_size=0)\n\n"
        "def user_says(*parts, gap=0.3):\n"
        "    \"\"\"The user's side as a 24 kHz clip: text is spoken (espeak-ng, another voice than the agent's), "
        "numbers are seconds of silence.\"\"\"\n"
        "    pieces = [np.zeros(int(0.3 * 24000), np.float32)]\n"
        "    for p in parts:\n"
        "        pieces.append(np.zeros(int(p * 24000), np.float32) if isinstance(p, (int, float))\n"
        "                      else tts.synthesize(p, voice='winter').to_float())\n"
        "    return vl.Clip(np.concatenate(pieces + [np.zeros(int(0.6 * 24000), np.float32)]), samplerate=24000)\n\n"
        "def replies(s):\n"
        "    \"\"\"(start, end, interrupted, what the agent said) per reply, on the Recording's clock.\"\"\"\n"
        "    out, start, text = [], None, ''\n"
        "    for t, ev in s.events:\n"
        "        if isinstance(ev, AgentReplyStarted):\n"
        "            start, text = t, ''\n"
        "        elif isinstance(ev, AgentTranscript):\n"
        "            text = ev.text\n"
        "        elif isinstance(ev, AgentReplyDone) and start is not None:\n"
        "            out.append((start, t, ev.interrupted, text)); start = None\n"
        "    return out"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nserver = vl.serve(engine='whisper', announce=False)\nserver"),
    new_markdown_cell(
        "## 1. Turns and barge-in\n\n"
        "The user says hello, waits, and starts speaking again while the agent is still answering. The server "
        "ends each user turn with a `transcript.user` (a `Final`), answers with `reply.started` → `reply.audio` … → "
        "`transcript.agent` → `reply.done`, and when the user talks over a reply it stops the reply at once: "
        "`reply.done` with `status: interrupted` (barge-in)."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "talk = user_says('Hello, can you hear me?', 2.8, 'Stop.', 1.0)\n"
        "conversation = vl.stream(talk, provider='assemblyai-agent', url=server.url, api_key=server.api_key,\n"
        "                         final_timeout=30)\n"
        "vl.widgets.Timeline(conversation)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "conversation.wait(90)\n"
        "for t, ev in conversation.events:\n"
        "    if ev.kind in ('final', 'agent_reply_started', 'agent_transcript', 'agent_reply_done', 'speech_started'):\n"
        "        detail = getattr(ev, 'text', None) or getattr(ev, 'status', '')\n"
        "        print(f'{t:5.2f} s  {ev.kind:20} {detail}')"
    ),
    new_code_cell(
        "r = replies(conversation)\n"
        "print('user turns:', sum(isinstance(ev, Final) for _, ev in conversation.events) >= 2,\n"
        "      '| first reply interrupted by the user (barge-in):', r[0][2])"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(conversation)"),
    new_markdown_cell(
        "## 2. A tool call\n\n"
        "Tools are declared in `session.update`; when the user asks for one, the server sends `tool.call` with the "
        "arguments, says a filler line, and continues with a reply built from the application's `tool.result`. "
        "`vl.stream` shows the `ToolCall` event but does not run tools, so this is an application's own client — "
        "a few lines of `websockets`, logging into a `vl.Recording` — that answers it:"
    ),
    new_code_cell(
        "WEATHER_TOOL = {'type': 'function', 'name': 'get_weather', 'description': 'Get weather for a city.',\n"
        "                'parameters': {'type': 'object', 'properties': {'city': {'type': 'string'}}, 'required': ['city']}}\n\n"
        "def pcm16(clip):\n"
        "    return (np.clip(clip.samples, -1, 1) * 32767).astype('<i2').tobytes()\n\n"
        "async def own_agent_client(server, pcm, *, session=None, binary=False, tools=None, listen=6.0):\n"
        "    \"\"\"Stream 24 kHz PCM16 in 50 ms input.audio messages (or, with binary=True, as raw binary frames),\n"
        "    answer each tool call with tools[name](**arguments) once its filler reply is done, wait (at most\n"
        "    `listen` s) for the reply that uses the result, then send session.end.\"\"\"\n"
        "    rec = vl.Recording(provider='assemblyai-agent', endpoint=server.url)\n"
        "    url = server.url_for('assemblyai-agent')\n"
        "    rec.log('connect', attempt=1, url=url)\n"
        "    async with websockets.connect(url, additional_headers={'Authorization': f'Bearer {server.api_key}'}) as ws:\n"
        "        rec.log('handshake', ok=True, status=101, audio_offset=0.0)\n\n"
        "        async def send(msg):\n"
        "            msg = json.dumps(msg); rec.message_out(msg); await ws.send(msg)\n\n"
        "        pending, answered, finished = [], [], asyncio.Event()\n\n"
        "        async def receive():\n"
        "            async for raw in ws:\n"
        "                rec.message_in(raw)\n"
        "                msg = json.loads(raw)\n"
        "                if msg['type'] == 'tool.call':\n"
        "                    pending.append(msg)\n"
        "                elif msg['type'] == 'reply.done' and pending:  # the filler is done: send the result\n"
        "                    call = pending.pop()\n"
        "                    result = tools[call['name']](**call['arguments'])\n"
        "                    await send({'type': 'tool.result', 'call_id': call['call_id'], 'result': json.dumps(result)})\n"
        "                    answered.append(call)\n"
        "                elif msg['type'] == 'reply.done' and answered:  # the reply built from the result\n"
        "                    finished.set()\n\n"
        "        await send({'type': 'session.update', 'session': session or {}})\n"
        "        reader = asyncio.create_task(receive())\n"
        "        await asyncio.sleep(0.3)  # session.ready\n"
        "        t0 = asyncio.get_running_loop().time()\n"
        "        for k, i in enumerate(range(0, len(pcm), 2400)):\n"
        "            part = pcm[i:i + 2400]\n"
        "            await asyncio.sleep(max(0.0, t0 + i / 48000 - asyncio.get_running_loop().time()))  # paced\n"
        "            if binary:\n"
        "                await ws.send(part)  # the bug: raw bytes in a binary frame\n"
        "            else:\n"
        "                await ws.send(json.dumps({'type': 'input.audio', 'audio': base64.b64encode(part).decode()}))\n"
        "            rec.chunk(seq=k, audio_start=i / 48000, audio_end=(i + len(part)) / 48000, nbytes=len(part),\n"
        "                      data=part, encoding='linear16', samplerate=24000)\n"
        "        try:\n"
        "            await asyncio.wait_for(finished.wait(), listen)\n"
        "        except asyncio.TimeoutError:\n"
        "            pass\n"
        "        await send({'type': 'session.end'})\n"
        "        try:\n"
        "            await asyncio.wait_for(reader, 5)\n"
        "        except (asyncio.TimeoutError, websockets.ConnectionClosed):\n"
        "            pass\n"
        "    rec.log('close', code=1000, reason='', by='client')\n"
        "    return rec\n\n"
        "calls = []\n"
        "def get_weather(city):\n"
        "    calls.append(city)\n"
        "    return {'city': city, 'temp_c': 22, 'sky': 'sunny'}\n\n"
        "question = user_says('What is the weather in Paris?', 1.0)\n"
        "tooled = await own_agent_client(server, pcm16(question), session={'tools': [WEATHER_TOOL]},\n"
        "                                tools={'get_weather': get_weather}, listen=20)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "for t, ev in tooled.events():\n"
        "    if ev.kind in ('final', 'tool_call', 'agent_transcript'):\n"
        "        print(f\"{t:5.2f} s  {ev.kind:17} {getattr(ev, 'text', '') or (ev.name, dict(ev.arguments))}\")"
    ),
    new_code_cell(
        "said = [ev.text for _, ev in tooled.events() if isinstance(ev, AgentTranscript)]\n"
        "print('tool called with:', calls, '| the reply uses the result:', any('22' in text for text in said))\n"
        "print('diagnosis:', sorted(vl.diagnose(tooled).codes))"
    ),
    new_markdown_cell(
        "## 3. The 24 kHz rule\n\n"
        "The Voice Agent API takes PCM16 at exactly 24 kHz (or G.711 at 8 kHz). 16 kHz audio declared as 24 kHz "
        "plays 1.5x too fast and high: the agent mishears or hears nothing (Safari's fixed hardware rate is the "
        "browser form of this). `inspect` says so before anything is sent:"
    ),
    new_code_cell(
        "clip16 = vl.load(DATA / 'speech' / 's02_weather_16k.flac')\n"
        "report = vl.inspect(clip16, target='assemblyai-agent')\n"
        "print([(f.severity, f.code) for f in report.findings if f.severity != 'info'])\n"
        "print('fix:', next(f.fix for f in report.findings if f.severity != 'info'))"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nreport"),
    new_code_cell(
        "fixed24 = clip16.resample(24000)\n"
        "print('24 kHz, ok for the agent:', vl.inspect(fixed24, target='assemblyai-agent').ok)"
    ),
    new_markdown_cell(
        "What the mislabel sounds like to the server — the same bytes, read at 24 kHz — next to the fix. "
        "(`vl.stream` resamples a `Clip` itself; the mislabel happens when an application sends its own bytes.)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "as_heard = vl.Clip(clip16.samples, samplerate=24000)  # 16 kHz samples declared 24 kHz\n"
        "fig = Figure(figsize=(9, 3.6), layout='constrained', dpi=72)\n"
        "axes = fig.subplots(2, 1, sharex=True)\n"
        "for ax, (title, c) in zip(axes, [('16 kHz bytes declared 24 kHz: 1.5x fast, pitched up', as_heard),\n"
        "                                 ('resampled to 24 kHz (the fix)', fixed24)]):\n"
        "    with np.errstate(divide='ignore'):\n"
        "        ax.specgram(c.samples.astype(np.float64), NFFT=512, Fs=c.samplerate, noverlap=384, cmap='magma',\n"
        "                    vmin=-140, vmax=-20)\n"
        "    ax.set_ylabel('Hz'); ax.set_title(title)\n"
        "axes[-1].set_xlabel('seconds as the server hears them')\n"
        "fig"
    ),
    new_markdown_cell(
        "## 4. `invalid_audio` vs `invalid_format`\n\n"
        "Two different mistakes, two different errors from the server:\n\n"
        "* **`invalid_audio`**: the JSON is right, but what is inside `input.audio` is not raw PCM16 — typically "
        "a whole WAV file, header included, base64-encoded. The server answers `session.error` with "
        "`invalid_audio` and the session goes on.\n"
        "* **`invalid_format`**: the message itself is wrong — here raw audio bytes sent as a *binary* WebSocket "
        "frame, where the API only takes JSON text frames.\n\n"
        "First the WAV file, streamed as if it were raw PCM (the pre-flight check would warn; it is silenced here "
        "to show the server's side):"
    ),
    new_code_cell(
        "fox24 = vl.load(DATA / 'speech' / 's01_fox_24k.flac')\n"
        "buf = io.BytesIO(); sf.write(buf, fox24.slice(end=2.0).samples, 24000, format='WAV', subtype='PCM_16')\n"
        "wav = buf.getvalue()\n"
        "# the fix, run alongside (see the section's end): the same file through vl.load, which parses and drops the header\n"
        "clean = vl.stream(vl.load(io.BytesIO(wav)), provider='assemblyai-agent', url=server.url,\n"
        "                  api_key=server.api_key, speed=None)\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore', vl.VoicelabWarning)\n"
        "    with_header = vl.stream(iter([wav[i:i + 2400] for i in range(0, len(wav), 2400)]), provider='assemblyai-agent',\n"
        "                            url=server.url, api_key=server.api_key, speed=None)\n"
        "    try:\n"
        "        with_header.wait(60)\n"
        "    except vl.VoicelabError as exc:\n"
        "        print(type(exc).__name__)\n"
        "print('server errors:', sorted({ev.code for _, ev in with_header.events if ev.kind == 'error'}))\n"
        "f = next(f for f in vl.diagnose(with_header) if f.code == 'invalid_audio')\n"
        "print(f.severity, f.code, '| audio findings behind it:', f.evidence['audio_findings'])"
    ),
    new_markdown_cell("Then raw bytes in binary frames, from the application's own client above with `binary=True`:"),
    new_code_cell(
        "binary = await own_agent_client(server, pcm16(fox24.slice(end=1.0)), binary=True, listen=0.5)\n"
        "print('server errors:', sorted({ev.code for _, ev in binary.events() if ev.kind == 'error'}))\n"
        "f = next(f for f in vl.diagnose(binary) if f.code == 'invalid_format')\n"
        "print(f.severity, f.code, '\\nfix:', f.fix)"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(binary)"),
    new_markdown_cell(
        "**Fix**: `input.audio` carries base64 of headerless PCM16 mono at 24 kHz, in a JSON text frame. "
        "`vl.load(path)` parses and drops the header; `vl.stream` does the framing:"
    ),
    new_code_cell(
        "clean.wait(60)  # started next to the broken one above\n"
        "print('errors:', sorted({ev.code for _, ev in clean.events if ev.kind == 'error'}),\n"
        "      '| invalid_*:', [c for c in vl.diagnose(clean).codes if c.startswith('invalid')])"
    ),
    new_markdown_cell(
        "## 5. Token expired\n\n"
        "Browsers connect with a temporary token (`GET /v1/token`, then `?token=`). A token that expired before "
        "the connection — minted too early, cached, or reused — is refused. The emulator's `token_ttl:0` fault "
        "issues tokens that are already expired:"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "expiring = vl.serve(**LIGHT, faults='token_ttl:0')\n"
        "expiring"
    ),
    new_code_cell(
        "from voicelab.client import RetryPolicy\n\n"
        "refused = vl.stream(fox24, provider='assemblyai-agent', url=expiring.url, api_key=expiring.api_key,\n"
        "                    use_token=True, retry=RetryPolicy(base=0.05, max_attempts=2))\n"
        "try:\n"
        "    refused.wait(60)\n"
        "except vl.VoicelabError as exc:\n"
        "    print(type(exc).__name__)\n"
        "expiring.close()\n"
        "f = next(f for f in vl.diagnose(refused) if f.code == 'token_expired')\n"
        "print(f.severity, f.code, '\\nfix:', f.fix)"
    ),
    new_markdown_cell(
        "**Fix**: mint a fresh token right before each connection, and never reuse one (`use_token=True` does "
        "exactly that, also for every reconnect and `session.resume`). Against a server whose tokens live the "
        "usual time, the same call works:"
    ),
    new_code_cell(
        "ok = vl.stream(user_says('Hi.'), provider='assemblyai-agent', url=server.url, api_key=server.api_key,\n"
        "               use_token=True, speed=None).wait(60)\n"
        "print('token in the URL, redacted:', 'token=***' in ok.recording.of('connect')[0]['url'],\n"
        "      '| auth findings:', [c for c in vl.diagnose(ok).codes if c in ('token_expired', 'auth_rejected')])"
    ),
    new_markdown_cell(
        "## 6. The agent interrupts itself: the echo loop\n\n"
        "The seed's symptom: every reply stops about a second in, and the user transcript repeats the agent's own "
        "words. The reply plays through speakers, the microphone picks it up, and the server hears the agent as "
        "the user — barge-in — then answers its own echo. `echo=EchoLoop(delay_seconds=0.7, gain=0.8)` reproduces "
        "the room: the agent's `reply.audio` is mixed back into the audio sent 0.7 s after it arrives. The same "
        "question goes out twice, once through the loop and once without it (headphones):"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "hello = user_says('Hello, can you hear me?', 0.3)\n"
        "speakers = vl.stream(hello, provider='assemblyai-agent', url=server.url, api_key=server.api_key,\n"
        "                     echo=EchoLoop(delay_seconds=0.7, gain=0.8, tail_seconds=6.0), final_timeout=30)\n"
        "headphones = vl.stream(hello, provider='assemblyai-agent', url=server.url, api_key=server.api_key,\n"
        "                       final_timeout=30)  # the same question without the loop: the fix, below\n"
        "vl.widgets.Timeline(speakers)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "speakers.wait(90)\n"
        "for t, ev in speakers.events:\n"
        "    if ev.kind in ('final', 'agent_transcript', 'agent_reply_done'):\n"
        "        print(f\"{t:5.2f} s  {ev.kind:17} {getattr(ev, 'text', None) or ev.status}\")"
    ),
    new_code_cell(
        "r = replies(speakers)\n"
        "print('first reply interrupted:', r[0][2], '| replies cut off:', sum(x[2] for x in r) >= 2)\n"
        "print('kept sending the echo after the question:', speakers.recording.stats.audio_seconds_sent > hello.duration + 2)"
    ),
    new_markdown_cell(
        "Named: `diagnose` correlates the agent's audio with the audio sent and finds it again, at the loop's "
        "delay:"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(speakers)"),
    new_code_cell(
        "f = next(f for f in vl.diagnose(speakers) if f.code == 'echo_loop')\n"
        "print(f.severity, f.code, '| lag near 0.7 s:', abs(f.evidence['lag'] - 0.7) < 0.1)\n"
        "print('fix:', f.fix)"
    ),
    new_markdown_cell(
        "**Fix**: headphones, or echo cancellation on the microphone (`getUserMedia({audio: {echoCancellation: "
        "true}})`; the Recorder widget shows whether the browser turned it on). The same session without the loop "
        "(it ran next to the first one):"
    ),
    new_code_cell(
        "headphones.wait(90)  # started above, next to the loop\n"
        "r = replies(headphones)\n"
        "print('replies:', len(r), '| interrupted:', [x[2] for x in r], '| echo_loop:', 'echo_loop' in vl.diagnose(headphones).codes)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "print('agent said:', replies(headphones)[0][3])"
    ),
    new_markdown_cell("Both sessions on one figure — each reply as a bar from `reply.started` to `reply.done` (red: interrupted):"),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "fig = Figure(figsize=(9, 2.4), layout='constrained', dpi=80)\n"
        "ax = fig.subplots()\n"
        "for y, (name, s) in enumerate([('headphones', headphones), ('speakers (echo loop)', speakers)]):\n"
        "    for start, end, cut, text in replies(s):\n"
        "        ax.broken_barh([(start, end - start)], (y - 0.3, 0.6), color='#c62828' if cut else '#2e7d32')\n"
        "    for t, ev in s.events:\n"
        "        if isinstance(ev, Final):\n"
        "            ax.plot([t], [y], marker='v', color='black', ms=6)\n"
        "ax.set_yticks([0, 1], ['headphones', 'speakers (echo loop)'])\n"
        "ax.set(xlabel='session time (s)', title='Agent replies (green: complete, red: interrupted); ▼ user transcript')\n"
        "fig"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(speakers)"),
    new_code_cell("server.close()"),
]


TAP = [
    new_markdown_cell(
        "# Tap a client you did not write\n\n"
        "*Smallest AI Pulse: \"Handle Authentication\" (browsers cannot set headers: \"use a proxy server for "
        "authentication\"), \"Implement Reconnection Logic\", \"Enable Verbose Logging\", \"Monitor Session State\".*\n\n"
        "The other tutorials look at sessions made by voicelab's own client. The bug you are chasing is usually in "
        "*another* client: a browser page, a vendor SDK, a framework, a script copied from the docs. `vl.tap` is a "
        "WebSocket proxy you put in front of the API (or the emulator): the app connects to the tap instead, every "
        "frame goes on unchanged, and each connection is recorded on one clock like a voicelab session — so the "
        "timeline, event log, metrics and `diagnose` work on it. The tap can also break the app's live connection, "
        "to see what the app does then, and it can add the key for a page that cannot hold it "
        "(docs/tap.md).\n\n"
        "Everything runs offline: the emulator plays Pulse, and the app is a separate Python process."
    ),
    new_code_cell(
        SETUP + "\n\nimport asyncio, json, logging.handlers, os, subprocess, sys, tempfile\n\n"
        "import websockets\n"
        "from voicelab.protocols.events import Final"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "server = vl.serve(engine='sphinx', announce=False)   # stands in for wss://api.smallest.ai\n"
        "tap = vl.tap('pulse', server.url, announce=False)    # the app talks to the tap, the tap to the server\n"
        "tap"
    ),
    new_markdown_cell(
        "## 1. The app: a script written like the vendor's docs example\n\n"
        "Plain `websockets`, nothing from voicelab: the key from `SMALLEST_API_KEY` in an `Authorization: Bearer` "
        "header, headerless 16 kHz PCM16 sent as binary frames of 4096 B every 128 ms (real time), "
        "`{\"type\": \"close_stream\"}` at the end, finals printed until `is_last`. It is written to a temporary "
        "directory and run in its own process, the way it would run in production; the only change is the URL it "
        "is given: `tap.url_for()` instead of `wss://api.smallest.ai/waves/v1/stt/live?...`."
    ),
    new_code_cell(
        "APP = '''\\\n"
        "import asyncio, json, os, sys\n\n"
        "import websockets\n\n"
        "API_KEY = os.environ[\"SMALLEST_API_KEY\"]\n"
        "URL, AUDIO = sys.argv[1], sys.argv[2]  # the endpoint (with its query) and a 16 kHz linear16 file\n\n"
        "async def main():\n"
        "    headers = {\"Authorization\": f\"Bearer {API_KEY}\"}\n"
        "    async with websockets.connect(URL, additional_headers=headers) as ws:\n"
        "        async def send_audio():\n"
        "            with open(AUDIO, \"rb\") as f:\n"
        "                while chunk := f.read(4096):\n"
        "                    await ws.send(chunk)\n"
        "                    await asyncio.sleep(0.128)\n"
        "            await ws.send(json.dumps({\"type\": \"close_stream\"}))\n\n"
        "        sender = asyncio.create_task(send_audio())\n"
        "        async for message in ws:\n"
        "            data = json.loads(message)\n"
        "            if data.get(\"is_final\"):\n"
        "                print(\"final:\", data[\"transcript\"])\n"
        "            if data.get(\"is_last\"):\n"
        "                break\n"
        "        sender.cancel()\n"
        "    print(\"closed:\", ws.close_code)\n\n"
        "asyncio.run(main())\n"
        "'''\n\n"
        "work = Path(tempfile.mkdtemp(prefix='voicelab-tap-'))\n"
        "(work / 'app.py').write_text(APP)\n"
        "clip = vl.load(DATA / 'speech' / 's02_weather_16k.flac')\n"
        "(work / 'weather.raw').write_bytes(clip.resample(16000).to_int16().tobytes())\n"
        "app_env = {**os.environ, 'SMALLEST_API_KEY': server.api_key}  # the emulator's key; never printed\n\n"
        "def start_app(url, audio='weather.raw'):\n"
        "    return subprocess.Popen([sys.executable, str(work / 'app.py'), url, str(work / audio)], env=app_env,\n"
        "                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)\n\n"
        "print(f'{clip.duration:.1f} s of speech, {len((work / \"weather.raw\").read_bytes())} bytes')"
    ),
    new_markdown_cell(
        "Start it against the tap and watch its session live: `Timeline(tap)` and `EventLog(tap)` follow the tap's "
        "latest connection (`tap.session(timeout=…)` waits for the app to connect)."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "app = start_app(tap.url_for())\n"
        "session = tap.session(timeout=10)\n"
        "vl.widgets.Timeline(tap)"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.widgets.EventLog(tap)"),
    new_markdown_cell("What the app printed, and the same session as the tap recorded it:"),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "out, err = app.communicate(timeout=60)\n"
        "session.wait(10)\n"
        "print(out)\n"
        "session"
    ),
    new_code_cell(
        "rec = session.recording\n"
        "app_finals = [line[len('final: '):] for line in out.splitlines() if line.startswith('final: ')]\n"
        "tap_finals = [ev.text for _, ev in session.events if isinstance(ev, Final)]\n"
        "print('app exit code:', app.returncode, '| stderr empty:', not err.strip())\n"
        "print('the tap saw the finals the app printed:', bool(app_finals) and tap_finals == app_finals)\n"
        "sizes = sorted({c['bytes'] for c in rec.of('chunk')})\n"
        "print('audio frames:', rec.stats.chunks_sent, '| largest:', sizes[-1], 'B',\n"
        "      '| close code:', session.close_code)  # who closed first (app or server) varies\n"
        "print('key in the recording:', any(server.api_key in e.to_json() for e in rec))"
    ),
    new_markdown_cell(
        "The static twins of the two views, for a report or a bug ticket (`vl.tap(..., record='app.jsonl')` writes "
        "each session to a file as it happens; `vl.Recording.load` reads it back):"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(rec)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.event_log(rec)"),
    new_markdown_cell(
        "Metrics and diagnosis, exactly as for voicelab's own sessions. The times are the tap's: a chunk a little "
        "after the app sent it, an answer a little before the app got it."
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nsession.metrics()"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(session.recording)"),
    new_code_cell(
        "m = session.metrics()\n"
        "print('first response measured:', m['first_response'].n > 0,\n"
        "      '| connect time measured:', m['connect_time'].n > 0)\n"
        "print('diagnosis:', sorted(f'{f.severity} {f.code}' for f in vl.diagnose(rec) if f.severity != 'info'))"
    ),
    new_markdown_cell(
        "## 2. Break the app's live connection\n\n"
        "The seed's reconnect advice can only be checked by breaking a live connection. `tap.faults` applies the "
        "emulator's fault syntax to the next connections of *this* app: `drop_after_chunks:10` aborts both TCP "
        "connections after the 10th audio frame without a close frame (the app sees 1006), "
        "`close_after_chunks:10;close_code:1011` closes the app's side with 1011. The same script, run twice:"
    ),
    new_code_cell(
        "broken = {}\n"
        "for fault in ('drop_after_chunks:10', 'close_after_chunks:10;close_code:1011'):\n"
        "    tap.faults = fault\n"
        "    run = start_app(tap.url_for())\n"
        "    out, err = run.communicate(timeout=60)\n"
        "    s = tap.session()\n"
        "    s.wait(10)\n"
        "    broken[fault] = (run, out, err, s)\n"
        "    last = (err.strip() or out.strip()).splitlines()[-1]\n"
        "    print(f'{fault:40} app exit code {run.returncode} | last line: {last}')\n"
        "tap.faults = None"
    ),
    new_markdown_cell(
        "The script has no reconnect logic: both times it dies with a traceback and the rest of the audio is never "
        "transcribed. What the tap recorded, and what `diagnose` names from that Recording alone:"
    ),
    new_code_cell(
        "for fault, (run, out, err, s) in broken.items():\n"
        "    codes = vl.diagnose(s.recording).codes\n"
        "    print(f'{fault:40} close {s.close_code} by {s.closed_by} | frames {s.recording.stats.chunks_sent} |',\n"
        "          sorted(c for c in codes if c in ('dropped', 'server_closed')))"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.diagnose(broken['drop_after_chunks:10'][3].recording)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(broken['drop_after_chunks:10'][3].recording)"),
    new_markdown_cell(
        "**Fix**: the app's own code must catch the close, back off, reconnect and resend the audio no final "
        "covered (04-drops-reconnect-resume shows voicelab's client doing it). With the tap you can check a fix "
        "against the same drop: one connection per attempt shows up in `tap.sessions`. A single connection can "
        "also carry its own fault in its URL: `tap.url_for() + '&vl_fault=drop_after_seconds:2'`."
    ),
    new_markdown_cell(
        "## 3. A browser page: the tap adds the key\n\n"
        "A browser cannot set the `Authorization` header on a WebSocket (`new WebSocket(url)` takes no headers), "
        "and a key in the page is a key given away. The seed's advice is a proxy server for authentication; during "
        "development the tap is one: `inject_auth=True` adds the key from `SMALLEST_API_KEY` upstream as "
        "`Authorization: Bearer …`. Because anything that can reach the tap then uses the key, it listens on "
        "loopback only and serves only URLs carrying its local token (`vl_tap=…`, random, made fresh for each "
        "run; it is not the key). Here the emulator's key plays `SMALLEST_API_KEY`:"
    ),
    new_code_cell(
        "saved = os.environ.get('SMALLEST_API_KEY')\n"
        "os.environ['SMALLEST_API_KEY'] = server.api_key     # read once, when the tap starts\n"
        "browser_tap = vl.tap('pulse', server.url, inject_auth=True, announce=False)\n"
        "page_url = browser_tap.url_for()\n"
        "print('local token in the URL:', 'vl_tap=' in page_url, '| key in the URL:', server.api_key in page_url,\n"
        "      '| key in the repr:', server.api_key in repr(browser_tap))"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "print(page_url)  # what the page opens: new WebSocket(url), no key anywhere in the page"
    ),
    new_markdown_cell(
        "A client shaped like the browser snippet — no headers at all — gets its transcript through the tap; the "
        "same URL without the token is refused (403; a browser reports it as 1006):"
    ),
    new_code_cell(
        "async def like_a_browser(url, pcm):\n"
        "    finals = []\n"
        "    async with websockets.connect(url) as ws:  # no Authorization header\n"
        "        for i in range(0, len(pcm), 4096):\n"
        "            await ws.send(pcm[i:i + 4096])\n"
        "            await asyncio.sleep(0.128)\n"
        "        await ws.send(json.dumps({'type': 'close_stream'}))\n"
        "        async for message in ws:\n"
        "            data = json.loads(message)\n"
        "            finals += [data['transcript']] if data.get('is_final') else []\n"
        "            if data.get('is_last'):\n"
        "                break\n"
        "    return finals\n\n"
        "pcm = clip.slice(end=2.5).resample(16000).to_int16().tobytes()\n"
        "finals = await like_a_browser(page_url, pcm)\n"
        "handshake = browser_tap.session().recording.of('handshake')[0]\n"
        "print('with the token: finals', bool(finals), '| handshake', handshake['status'])\n"
        "tap_log = logging.handlers.BufferingHandler(100)  # the tap's warning, here instead of on stderr\n"
        "logging.getLogger('voicelab.proxy').addHandler(tap_log)\n"
        "try:\n"
        "    await like_a_browser(page_url.split('&vl_tap=')[0], pcm)\n"
        "except websockets.InvalidStatus as exc:\n"
        "    print('without it:', exc.response.status_code)\n"
        "finally:\n"
        "    logging.getLogger('voicelab.proxy').removeHandler(tap_log)\n"
        "print('tap log:', [r.getMessage().split(' from ')[0] for r in tap_log.buffer])"
    ),
    new_code_cell(
        "import shutil\n\n"
        "browser_tap.close(); tap.close(); server.close()\n"
        "shutil.rmtree(work)  # the app script and its audio\n"
        "if saved is None:\n"
        "    del os.environ['SMALLEST_API_KEY']\n"
        "else:\n"
        "    os.environ['SMALLEST_API_KEY'] = saved"
    ),
]


NEW = {
    "02-connection.ipynb": CONNECTION,
    "03-no-transcripts-garbled.ipynb": GARBLED,
    "04-drops-reconnect-resume.ipynb": DROPS,
    "05-latency.ipynb": LATENCY,
    "06-voice-agent.ipynb": AGENT,
    "07-tap.ipynb": TAP,
}


def main(argv: list[str] | None = None) -> None:
    """Write the notebooks named on the command line (file names or their number, e.g. ``02``), else all of them.

    A written notebook has no outputs: execute it afterwards (see notebooks/README.md).
    """
    import sys

    notebooks = {"00-inspect-audio.ipynb": INSPECT, "01-quickstart.ipynb": QUICKSTART, **NEW}
    wanted = sys.argv[1:] if argv is None else argv
    for name, cells in notebooks.items():
        if not wanted or any(name == w or name.startswith(w + "-") for w in wanted):
            nbformat.write(new_notebook(cells=cells, metadata=KERNEL), HERE / name)


if __name__ == "__main__":
    main()
