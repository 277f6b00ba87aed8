"""Cells of 04-drops-reconnect-resume.ipynb — Drops, reconnect and resume."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "04-drops-reconnect-resume.ipynb"

CELLS = [
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
