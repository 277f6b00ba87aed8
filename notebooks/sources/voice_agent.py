"""Cells of 06-voice-agent.ipynb — Voice agent: turns, barge-in, tool calls, the echo loop."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "06-voice-agent.ipynb"

CELLS = [
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
