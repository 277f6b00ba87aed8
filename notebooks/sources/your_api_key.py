"""Cells of 10-your-api-key.ipynb — Your own API key: the real service, the cassette, the support bundle."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "10-your-api-key.ipynb"

CELLS = [
    new_markdown_cell(
        "# Your own API key, a cassette, and what to send support\n\n"
        "*Smallest AI Pulse: \"Getting Help\" (note down the session ID, error messages, code snippets sanitized of "
        "API keys, network conditions). AssemblyAI Voice Agent API: \"Before you contact support\" (log the "
        "`session_id` from `session.ready`, the WebSocket close code and reason, the timestamp at session start, "
        "and whether you connected to the US or EU endpoint).*\n\n"
        "Every other tutorial runs against voicelab's local emulator. This one runs the same checks against the "
        "real service when your key is in the environment — `vl.doctor` step by step, a short stream, "
        "`vl.diagnose`, and the session saved as your own cassette — and shows what to send support when something "
        "goes wrong: a support bundle with every key redacted, and a message filled from it.\n\n"
        "Without a key (as in CI, which has neither keys nor a network path to the vendors) each live cell says it "
        "skipped and why, and the notebook continues with a cassette: a recorded session shipped in "
        "`data/cassettes/`. Those cassettes were recorded against voicelab's emulator, not the vendors, by "
        "`data/make_cassettes.py`."
    ),
    new_code_cell(
        SETUP + "\n\nimport json, os, secrets, shutil, tempfile, zipfile\n\n"
        "from voicelab.protocols.redaction import redact_log_text\n\n"
        "PROVIDERS = ('pulse', 'assemblyai-agent')\n"
        "SPEC = {p: vl.providers.get_provider(p) for p in PROVIDERS}  # title, key variable, vendor hosts\n"
        "SPEECH = {'pulse': DATA / 'speech' / 's01_fox_16k.flac',             # 4 s; Pulse: 16 kHz linear16\n"
        "          'assemblyai-agent': DATA / 'speech' / 's01_fox_24k.flac'}  # the agent: 24 kHz\n"
        "CASSETTE = {'pulse': 'pulse_fox.jsonl', 'assemblyai-agent': 'agent_fox.jsonl'}\n"
        "SHIPPED = DATA / 'cassettes'   # recorded against voicelab's emulator (data/make_cassettes.py)\n"
        "MINE = Path('my-cassettes')    # where your own sessions are saved, next to this notebook\n"
        "WORK = Path(tempfile.mkdtemp(prefix='voicelab-10-'))  # support bundles; removed at the end\n\n"
        "# None = the vendors' own hosts. Anything else is a ws:// URL to check instead (the tests point it at\n"
        "# a local emulator to run the live cells); it is not meant for everyday use.\n"
        "TARGET = os.environ.get('VOICELAB_TARGET_URL') or None"
    ),
    new_markdown_cell(
        "Set the key in the environment before starting Jupyter (`export SMALLEST_API_KEY=...`, "
        "`export ASSEMBLYAI_API_KEY=...`), not in a cell: a notebook keeps its cells' text and outputs, and a key "
        "typed into one is saved with it. This notebook reads the variables and never prints them:"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n# (the output depends on your environment)\n"
        "for p in PROVIDERS:\n"
        "    print(f'{SPEC[p].key_env:20} {\"set (not shown)\" if os.environ.get(SPEC[p].key_env) else \"not set\"}')\n"
        "print('target:', TARGET or \"the vendors' own hosts\")"
    ),
    new_markdown_cell(
        "## 1. Your key against the real service\n\n"
        "For each provider whose key is set: `vl.doctor` walks URL → DNS → TCP → TLS → upgrade → auth → a 2 s "
        "session → close and names the first step that fails; then a 4 s sentence is streamed at real time "
        "(about 6 s of audio per provider, billed as usual), shown on a timeline, diagnosed, and saved to "
        "`my-cassettes/` as your own cassette. Without the key the cell prints one line and sends nothing."
    ),
    new_code_cell(
        "LIVE, CHECKED = {}, {}  # provider -> the Stream of your own session, doctor's report\n\n"
        "def live_check(provider):\n"
        "    \"\"\"doctor, a short stream, its timeline and diagnosis, saved as your cassette: only with your key.\"\"\"\n"
        "    spec = SPEC[provider]\n"
        "    key = os.environ.get(spec.key_env)\n"
        "    if not key:\n"
        "        print(f'skipped: {spec.key_env} is not set, so nothing was sent to {spec.title}; '\n"
        "              f'§2 uses the shipped cassette {CASSETTE[provider]} instead')\n"
        "        return\n"
        "    report = CHECKED[provider] = vl.doctor(TARGET, provider=provider, api_key=key)\n"
        "    display(report)\n"
        "    if not report.ok:\n"
        "        print('doctor found a problem: the finding above names it and the fix; no session streamed')\n"
        "        return\n"
        "    MINE.mkdir(exist_ok=True)\n"
        "    own = MINE / CASSETTE[provider]\n"
        "    s = vl.stream(SPEECH[provider], provider=provider, url=TARGET, api_key=key, record=own, final_timeout=30)\n"
        "    s.wait(120)\n"
        "    s.recording.close()\n"
        "    LIVE[provider] = s\n"
        "    print('transcript:', s.transcript)\n"
        "    display(vl.plot.timeline(s))\n"
        "    display(vl.diagnose(s))\n"
        "    print(f'saved your own cassette: {own} (vl.Recording.load it; every cell of §2 works on it)')"
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\n# (the output depends on your environment)\nlive_check('pulse')"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\n# (the output depends on your environment)\nlive_check('assemblyai-agent')"),
    new_markdown_cell(
        "## 2. A cassette: the same checks, no network, no key\n\n"
        "A cassette is a `vl.Recording` saved as JSONL: every chunk sent and every message received, on one "
        "clock. These two were recorded by `data/make_cassettes.py` against voicelab's emulator — faster-whisper "
        "(tiny.en) playing the recognizer and espeak-ng the agent's voice — so their endpoint is `127.0.0.1`, "
        "their session ids are the emulator's and the words are whisper's, not the vendors'. Record your own the "
        "same way: §1 above, `vl.stream(..., record='mine.jsonl')`, `voicelab stream FILE --record mine.jsonl`, "
        "or `voicelab tap` in front of your own app (tutorial 07)."
    ),
    new_code_cell(
        "pulse = vl.Recording.load(SHIPPED / CASSETTE['pulse'])\n"
        "agent = vl.Recording.load(SHIPPED / CASSETTE['assemblyai-agent'])\n"
        "for rec in (pulse, agent):\n"
        "    h = rec.header\n"
        "    print(f\"{rec!r}\\n  recorded at {h['endpoint']} on {h['started_at']} by voicelab {h['voicelab']}; \"\n"
        "          f\"audio kept: {'all' if h['keep_audio_seconds'] is None else h['keep_audio_seconds']}\")"
    ),
    new_markdown_cell(
        "`vl.replay` plays a cassette back through the same event API as a live stream, here at its original pace, "
        "so the live timeline fills in as it did during the session; `vl.plot.timeline` is its static twin."
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.widgets.Timeline(vl.replay(pulse, timing='original'))"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(pulse)"),
    new_code_cell(
        "replayed = vl.replay(pulse).wait(30)\n"
        "print('replay gives the recorded events:', [ev for _, ev in replayed.events] == [ev for _, ev in "
        "pulse.events()])\n"
        "print('transcript:', replayed.transcript)"
    ),
    new_markdown_cell(
        "`vl.diagnose` reads a cassette as it reads a live session. Its header already lists what both support "
        "pages ask for — session ids, close codes, start time, endpoint — and the Pulse cassette kept the audio as "
        "sent, so the audio is checked too:"
    ),
    new_code_cell("vl.diagnose(pulse)"),
    new_markdown_cell(
        "The agent cassette holds a whole conversation turn: the user's sentence, the agent's spoken reply "
        "(`reply.audio`, kept too) and its transcript:"
    ),
    new_code_cell(
        "for t, ev in agent.events():\n"
        "    if ev.kind in ('session_ready', 'final', 'agent_reply_started', 'agent_transcript', 'agent_reply_done'):\n"
        "        print(f\"{t:5.2f} s  {ev.kind:20} {getattr(ev, 'text', '') or getattr(ev, 'session_id', '') or ''}\")"
    ),
    new_code_cell("vl.diagnose(agent)"),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(agent)"),
    new_markdown_cell(
        "## 3. The support bundle, with every key redacted\n\n"
        "`Recording.support_bundle(path, doctor=report)` writes a zip for a vendor's support team: the recording "
        "(every string redacted before it was written), `summary.json` (the fields both support pages ask for), "
        "`environment.json` (Python, platform, package versions) and, given a `vl.doctor` report, `doctor.json`: "
        "each connection step with its timing, for the \"network conditions\" Pulse asks about.\n\n"
        "A cassette holds no key, so searching one for a key proves nothing. Here a session is streamed to a local "
        "emulator whose key is a made-up *canary*: a string that appears nowhere else, so finding it anywhere in "
        "the bundle would be a leak. The canary travels in the URL (`auth='token'`, Pulse's `?token=`), where a "
        "key is easiest to log by accident, and the emulator closes each connection 2.5 s in with 1011 (Pulse's "
        "\"internal error\"; the `vl_fault` query parameter, which real APIs ignore): the client reconnects and "
        "finishes on a second connection, a session worth writing to support about."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "CANARY = 'sk_canary_' + secrets.token_hex(12)  # made up: if it shows up anywhere, redaction failed\n"
        "server = vl.serve(**LIGHT, api_key=CANARY)\n"
        "server"
    ),
    new_code_cell(
        "trouble = vl.stream(SPEECH['pulse'], provider='pulse', api_key=CANARY, auth='token', record=WORK / 'trouble.jsonl',\n"
        "                    url=server.url_for('pulse') + '&vl_fault=close_after_seconds:2.5;close_code:1011')\n"
        "trouble.wait(60)\n"
        "report = vl.doctor(server.url, provider='pulse', api_key=CANARY)  # network conditions, step by step\n"
        "summary = trouble.recording.summary()\n"
        "codes = [c['code'] for c in summary['closes']]\n"
        "print('the server accepted the canary:', trouble.recording.of('handshake')[0]['status'] == 101,\n"
        "      '| first close 1011:', codes[0] == 1011, '| last close 1000:', codes[-1] == 1000,\n"
        "      '| one session id per connection:', len(summary['session_ids']) == len(trouble.recording.of('connect')) > 1)\n"
        "print('doctor:', report.summary)"
    ),
    new_markdown_cell("The bundle, with doctor's report:"),
    new_code_cell(
        "bundle = trouble.recording.support_bundle(WORK / 'bundle.zip', doctor=report)\n"
        "with zipfile.ZipFile(bundle) as z:\n"
        "    members = {name: z.read(name) for name in z.namelist()}\n"
        "print('members:', ', '.join(members))"
    ),
    new_markdown_cell(
        "`summary.json` holds the fields both pages ask for, and `environment.json` the versions. Its `endpoint` is "
        "the `url=` the stream was given, here the emulator (with `url=None`, the vendor's host URL, such as "
        "`wss://agents.eu.assemblyai.com/v1/ws`) and its `region` the region used (here none: a URL was given). "
        "`connected_to` lists each URL actually connected to, query and masked credential included, as the "
        "`connect` entries of the recording hold them:"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n# (session ids and times change every run)\n"
        "shown = json.loads(members['summary.json'])\n"
        "env = json.loads(members['environment.json'])\n"
        "for field in ('provider', 'endpoint', 'region', 'connected_to', 'started_at', 'session_ids', 'closes'):\n"
        "    print(f'{field:12}', shown[field])\n"
        "print(f\"{'versions':12} voicelab {env['packages']['voicelab']}, websockets {env['packages']['websockets']}, \"\n"
        "      f\"Python {env['python']}, {env['platform']}\")"
    ),
    new_markdown_cell(
        "The canary, searched for in every member (decompressed: the zip's own bytes are deflated), in the "
        "recording file on disk and in doctor's report as printed; what stands in its place is `***`:"
    ),
    new_code_cell(
        "places = {**{f'bundle: {name}': data for name, data in members.items()},\n"
        "          'trouble.jsonl on disk': (WORK / 'trouble.jsonl').read_bytes(),\n"
        "          'str(report)': str(report).encode(), 'repr(trouble)': repr(trouble).encode()}\n"
        "for where, data in places.items():\n"
        "    print(f'{where:30} canary: {CANARY.encode() in data}')\n"
        "print('in the recording, the URL reads ...', 'token=***' in trouble.recording.of('connect')[0]['url'])"
    ),
    new_markdown_cell(
        "Pulse also asks for *code snippets sanitized of API keys*. Read the key from the environment and a "
        "snippet never holds it; to clean one that does, give `redact_log_text` the key itself, so every occurrence "
        "is masked whatever its spelling:"
    ),
    new_code_cell(
        "snippet = f'''API_KEY = \"{CANARY}\"\n"
        "URL = \"wss://api.smallest.ai/waves/v1/stt/live?language=en&encoding=linear16&sample_rate=16000\"\n"
        "async with websockets.connect(URL, additional_headers={{\"Authorization\": \"Bearer {CANARY}\"}}) as ws:\n"
        "    ...'''\n"
        "clean = redact_log_text(snippet, [CANARY])\n"
        "print(clean)\n"
        "print('canary left:', CANARY in clean)"
    ),
    new_markdown_cell(
        "With a key set, your own sessions from §1 are bundled the same way and searched for your real key:"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n# (the output depends on your environment)\n"
        "if not LIVE:\n"
        "    print('skipped: no key is set, so §1 recorded no session of yours to bundle; the canary session stands in')\n"
        "for provider, s in LIVE.items():\n"
        "    own = s.recording.support_bundle(WORK / f'{provider}-bundle.zip', doctor=CHECKED[provider])\n"
        "    key = os.environ[SPEC[provider].key_env].encode()\n"
        "    with zipfile.ZipFile(own) as z:\n"
        "        leaked = [name for name in z.namelist() if key in z.read(name)]\n"
        "    print(f'{own.name}: your key in it: {bool(leaked)}; in your cassette: {key in s.recording.path.read_bytes()}')"
    ),
    new_markdown_cell(
        "## 4. What to send support\n\n"
        "`Recording.support_message(doctor=None, bundle=None)` fills both pages' lists from a Recording's "
        "`summary()`: the session ids (AssemblyAI's come from `session.ready`; a reconnect starts a new session, "
        "so there is one per connection), the start time, the URLs connected to and the region their host serves "
        "(read from the provider's vendor hosts: US or EU for AssemblyAI), each close code with its reason and "
        "time, the errors (a refused upgrade with its HTTP status), doctor's verdict and step timings as the "
        "network conditions, the versions and the bundle's members. The `To:` line is the address the "
        "vendor's troubleshooting page gives. No key goes into it: the summary is already masked, and the message "
        "is masked once more. The lines in `<...>` are yours to fill."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n# (session ids, times and versions change)\n"
        "message = trouble.recording.support_message(doctor=report, bundle=bundle)\n"
        "print(message)"
    ),
    new_code_cell(
        "print('session ids in it:', all(sid in message for sid in summary['session_ids']),\n"
        "      '| close codes in it:', all(str(c) in message for c in codes), '| canary in it:', CANARY in message)"
    ),
    new_markdown_cell(
        "The region is read from the host connected to, with the hosts each provider's spec lists; "
        "`vl.recording.region_of` does it on the vendors' own URLs without connecting:"
    ),
    new_code_cell(
        "for p in PROVIDERS:\n"
        "    for region, host in SPEC[p].hosts.items():\n"
        "        print(f'{SPEC[p].url(host):72} -> {vl.recording.region_of(SPEC[p].url(host), p)}')"
    ),
    new_markdown_cell(
        "And for the agent cassette, without a doctor report or a bundle: its endpoint is the emulator, so the "
        "region line says so; from the real service it reads `us (agents.assemblyai.com)` or "
        "`eu (agents.eu.assemblyai.com)`:"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n# (the Client line shows this machine's versions)\n"
        "print(agent.support_message())"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n# (the output depends on your environment)\n"
        "if not LIVE:\n"
        "    print('skipped: no key is set, so there is no session of yours to report')\n"
        "for provider, s in LIVE.items():\n"
        "    print(s.recording.support_message(doctor=CHECKED[provider], bundle=WORK / f'{provider}-bundle.zip'),\n"
        "          end='\\n\\n')"
    ),
    new_markdown_cell("## 5. Clean up\n\nThe emulator and the bundles go; your own cassettes in `my-cassettes/` stay."),
    new_code_cell(
        "server.close()\n"
        "shutil.rmtree(WORK)\n"
        "print('emulator closed, bundles removed:', not WORK.exists())"
    ),
]
