"""Cells of 07-tap.ipynb — Tapping a client voicelab did not write."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "07-tap.ipynb"

CELLS = [
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
