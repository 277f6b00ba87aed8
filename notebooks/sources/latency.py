"""Cells of 05-latency.ipynb — Latency: chunk size, send interval and pacing."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "05-latency.ipynb"

CELLS = [
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
