"""Cells of 09-long-sessions.ipynb — Memory and long sessions: stream directly, session caps, clean-up."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

from .common import SETUP

NOTEBOOK = "09-long-sessions.ipynb"

CELLS = [
    new_markdown_cell(
        "# Memory and long sessions\n\n"
        "*Smallest AI Pulse: \"Performance Issues › Memory Issues\" (the application crashes or slows down during "
        "streaming: buffering too much audio, not cleaning up resources) → \"Stream Directly\" (\"don't buffer "
        "entire file\"), \"Clean Up Resources\".*\n\n"
        "A client that reads a whole recording into memory, converts it, cuts it into a list of chunks and logs "
        "every byte it sends holds the file several times over, and a two-hour file is then gigabytes. Here that "
        "pattern is measured against reading the file a block at a time, first on its own and then end to end "
        "through `vl.stream` to the emulator; then what a *long session* adds (a session length cap), and what a "
        "session holds until it is closed (threads, sockets, open files).\n\n"
        "Everything runs offline against the local emulator. Memory is measured in this kernel: `tracemalloc` "
        "(every Python allocation, numpy's buffers included) and the resident set size from `/proc/self/statm` "
        "(Linux)."
    ),
    new_code_cell(
        SETUP + "\n\n"
        "import gc, itertools, json, os, shutil, subprocess, sys, tempfile, threading, time, tracemalloc, warnings\n"
        "from collections import Counter\n\n"
        "import numpy as np\n"
        "import soundfile as sf\n"
        "from matplotlib.figure import Figure\n"
        "from voicelab.audio.blocks import file_chunks\n"
        "from voicelab.emulator import Limits\n"
        "from voicelab.protocols.events import Final"
    ),
    new_markdown_cell(
        "## A long file, and a way to measure memory\n\n"
        "The six 16 kHz speech files in `data/speech` (56 s in all) back to back with 2 s pauses, repeated to the "
        "length wanted and written to a temporary directory a piece at a time (so making the file holds no more "
        "than one piece either). 16 kHz mono 16-bit WAV, the format Pulse is sent, so every reader below does the "
        "same work: read, convert to `linear16`, cut into 4096-byte chunks (Pulse's recommended size)."
    ),
    new_code_cell(
        """\
WORK = Path(tempfile.mkdtemp(prefix='voicelab-09-'))  # the long files; removed at the end
SPEECH = [sf.read(p, dtype='int16')[0] for p in sorted((DATA / 'speech').glob('*_16k.flac'))]
PAUSE = np.zeros(2 * 16000, np.int16)

def make_long_file(path, minutes):
    \"\"\"The speech files with 2 s pauses, repeated to `minutes`, written piece by piece; returns the pauses (s).\"\"\"
    total, done, pauses = int(minutes * 60 * 16000), 0, []
    with sf.SoundFile(path, 'w', samplerate=16000, channels=1, subtype='PCM_16') as f:
        for piece in itertools.cycle(SPEECH):
            for is_pause, part in ((False, piece), (True, PAUSE)):
                part = part[:total - done]
                f.write(part)
                if is_pause and len(part):
                    pauses.append((done / 16000, (done + len(part)) / 16000))
                done += len(part)
                if done >= total:
                    return pauses

LONG = {minutes: WORK / f'speech_{minutes:g}min.wav' for minutes in (2.5, 5, 10, 20)}
for minutes, path in LONG.items():
    make_long_file(path, minutes)
    print(f'{minutes:>4g} min: {path.stat().st_size / 1e6:5.1f} MB')
E2E = WORK / 'speech_2min.wav'  # for the end-to-end runs (section 2)
E2E_PAUSES = make_long_file(E2E, 2)"""
    ),
    new_markdown_cell(
        "`Memory` measures a block of code: its peak above what was in use when it started (tracemalloc: exact, "
        "Python's own allocations; RSS: what the operating system sees, sampled every 20 ms, including memory the "
        "allocator freed but kept), and both over time for the figures."
    ),
    new_code_cell(
        """\
PAGE = os.sysconf('SC_PAGE_SIZE')

def rss_mb():
    \"\"\"This process's resident memory now, MB (Linux: /proc/self/statm).\"\"\"
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * PAGE / 1e6

class Memory:
    \"\"\"Peak memory of a `with` block above what was in use when it started, and samples over time.\"\"\"

    def __enter__(self):
        gc.collect()
        self.base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        self.rss0, self.t0, self.rows = rss_mb(), time.perf_counter(), []
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, name='memory-sampler')
        self._sampler.start()
        return self

    def _sample(self):
        while True:
            traced = (tracemalloc.get_traced_memory()[0] - self.base) / 1e6
            self.rows.append((time.perf_counter() - self.t0, traced, rss_mb() - self.rss0))
            if self._done.wait(0.02):
                return

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
        self.peak = (tracemalloc.get_traced_memory()[1] - self.base) / 1e6
        self._done.set()
        self._sampler.join()
        self.rss_peak = max(r[2] for r in self.rows)

tracemalloc.start()"""
    ),
    new_markdown_cell(
        "## 1. Reproduce: buffering the whole file\n\n"
        "The seed's fix is `fs.createReadStream(\"audio.wav\", { highWaterMark: 4096 })`: each 4096 bytes are "
        "sent as they are read. The pattern it replaces, in Python: `sf.read` the file (float64 unless told "
        "otherwise: 8 bytes a sample, four times the file's 16-bit PCM), scale and convert it (a float64 "
        "temporary, then the int16 copy), turn it into bytes, and keep a list of every chunk. Three readers, each "
        "taken chunk by chunk to the end as a send loop would:\n\n"
        "* **buffer it all**: the pattern above;\n"
        "* **stream directly**: `sf.blocks` reads 2048 samples (4096 bytes) at a time — the Python form of the "
        "seed's `createReadStream`;\n"
        "* **`vl.stream`'s reader**: what `vl.stream(path)` does with a file longer than a minute "
        "(`voicelab.audio.blocks.file_chunks`): 1 s blocks, mixed to mono and resampled if needed, encoded and "
        "chunked."
    ),
    new_code_cell(
        """\
def buffer_it_all(path):
    \"\"\"The whole file in memory, converted, then cut into a list of chunks.\"\"\"
    data, rate = sf.read(path)                                     # float64: 8 bytes a sample
    pcm = (data * 32767).astype(np.int16).tobytes()                # a float64 temporary, int16, then bytes
    return [pcm[i:i + 4096] for i in range(0, len(pcm), 4096)]     # and every byte again, in chunks

def stream_directly(path, start=0, stop=None):
    \"\"\"Samples `start` to `stop`, 4096 B at a time: the seed's createReadStream(..., {highWaterMark: 4096}).\"\"\"
    for block in sf.blocks(path, blocksize=2048, dtype='int16', start=start, stop=stop):
        yield block.tobytes()

def vl_stream_reader(path):
    \"\"\"The chunks vl.stream(path) sends for a file longer than a minute.\"\"\"
    return (c.data for c in file_chunks(path, encoding='linear16', samplerate=16000, target='pulse'))

READERS = {'stream directly (sf.blocks)': stream_directly, "vl.stream's reader": vl_stream_reader,
           'buffer it all': buffer_it_all}
reading = {}
for minutes, path in LONG.items():
    for name, reader in READERS.items():
        with Memory() as m:
            nbytes = sum(len(chunk) for chunk in reader(path))  # every chunk, as a send loop takes them
        assert nbytes == sf.info(path).frames * 2, (name, nbytes)
        reading[name, minutes] = m"""
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
print('peak traced memory (MB) by file length, and for 20 min: peak RSS and time')
for name in READERS:
    peaks = '  '.join(f'{reading[name, m].peak:7.1f}' for m in LONG)
    m = reading[name, 20]
    print(f'{name:28} {peaks}   | RSS {m.rss_peak:6.1f} MB, {m.seconds:4.1f} s')
print(f"{'minutes':28} " + '  '.join(f'{m:>7g}' for m in LONG))"""
    ),
    new_code_cell(
        """\
streamers = [n for n in READERS if n != 'buffer it all']
flat = all(reading[n, 20].peak < 1.5 * reading[n, 2.5].peak + 0.5 for n in streamers)
print('streaming: peak under 2 MB at every length:', all(reading[n, m].peak < 2 for n in streamers for m in LONG))
print('streaming: the same peak for 20 minutes as for 2.5:', flat)
print('buffer it all, 20 min: more than 100x the streaming peak:',
      reading['buffer it all', 20].peak > 100 * max(reading[n, 20].peak for n in streamers))
slope = np.polyfit(list(LONG), [reading['buffer it all', m].peak for m in LONG], 1)[0]
print(f'buffer it all grows by {slope:.0f} MB per minute of audio: {slope * 120 / 1000:.1f} GB for 2 hours')"""
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
fig = Figure(figsize=(9, 3.6), layout='constrained', dpi=80)
ax = fig.subplots()
minutes = list(LONG)
for name, style in zip(READERS, ('o-', 's--', '^-')):
    ax.plot(minutes, [reading[name, m].peak for m in minutes], style, label=name)
two_hours = np.polyval(np.polyfit(minutes, [reading['buffer it all', m].peak for m in minutes], 1), 120)
ax.annotate(f'2 hours: ≈ {two_hours / 1000:.1f} GB', xy=(20, reading['buffer it all', 20].peak),
            xytext=(12, reading['buffer it all', 20].peak * 0.85), arrowprops=dict(arrowstyle='->'))
ax.set(xlabel='file length (minutes of 16 kHz speech)', ylabel='peak traced memory (MB)',
       title='Reading a file into 4096-byte chunks: buffered grows with the file, streamed stays flat')
ax.grid(True, lw=0.5); ax.legend()
fig"""
    ),
    new_markdown_cell(
        "Every copy in the buffered pattern grows with the file. At its peak it holds 18 bytes for every 2-byte "
        "sample — the float64 data, a float64 temporary and the int16 result — nine times the file, and then "
        "the bytes and the list of chunks, so a two-hour file needs about 2 GB before the first chunk is sent. "
        "Reading a block at a time holds one block whatever the length. `vl.stream(path)` does that for files "
        "longer than a minute (`HEAD_SECONDS`); a shorter one is loaded whole, as any Clip.\n\n"
        "## 2. See it end to end: `vl.stream` to the emulator\n\n"
        "The same comparison through the whole client: the chunks go to the emulator, which transcribes them, "
        "and the Recording logs every chunk and message. The emulator runs in its own process here, as the real "
        "API runs on another machine, so this kernel's memory is the client's alone (and recognition gets the "
        "other core). Recognition is the slow part — the light emulator's pocketsphinx keeps up with roughly 10x "
        "real time on this 2-core machine — so the end-to-end runs use a 2-minute file rather than 20 minutes "
        "(`benchmarks/stream_memory.py` takes a 2-hour file end to end, to a recognizer that does no work; its "
        "results are in `benchmarks/README.md`).\n\n"
        "`speed=None` sends as fast as the socket takes the chunks (until 30 s of audio are in flight, below): "
        "thousands a second, more than the emulator's frame-rate limit (500 frames a second, then close 4001), "
        "which is turned off for this emulator."
    ),
    new_code_cell(
        """\
SERVE = '''
import json, sys
import voicelab as vl
from voicelab.emulator import Limits
light = dict(engine='sphinx', announce=False, recognizer_options={'processes': 0, 'warm': 1})
with vl.serve(**light, limits=Limits(max_messages_per_second=None)) as server:
    print(json.dumps({'url': server.url, 'api_key': server.api_key}), flush=True)
    sys.stdin.read()  # until the notebook closes this pipe
'''
emulator_log = (WORK / 'emulator.log').open('w')
emulator = subprocess.Popen([sys.executable, '-c', SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=emulator_log, text=True)
remote = json.loads(emulator.stdout.readline())  # its URL and key; the key is never printed
PULSE = dict(provider='pulse', url=remote['url'], api_key=remote['api_key'])
vl.stream(vl.load(DATA / 'speech' / 's01_fox_16k.flac'), speed=None, **PULSE).wait(60)  # warm-up
print('emulator process running:', emulator.poll() is None)"""
    ),
    new_markdown_cell(
        "Three runs of the 2-minute file: streamed from the path unpaced and at 10x real time, and the buffered "
        "pattern — the list of chunks from section 1, sent unpaced, with a Recording that keeps every byte it "
        "sent (`keep_audio_seconds=None`), as an app that logs all its audio does:"
    ),
    new_code_cell(
        """\
RUNS = {}
with Memory() as m:
    s = vl.stream(E2E, speed=None, final_timeout=60, **PULSE).wait(120)
RUNS['stream directly, speed=None'] = (m, s)
with Memory() as m:
    s = vl.stream(E2E, speed=10, final_timeout=60, **PULSE).wait(120)
RUNS['stream directly, 10x real time'] = (m, s)
with Memory() as m:
    chunks = buffer_it_all(E2E)
    s = vl.stream(chunks, speed=None, keep_audio_seconds=None, final_timeout=60, **PULSE).wait(120)
    del chunks
RUNS['buffer it all, speed=None'] = (m, s)"""
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
for name, (m, s) in RUNS.items():
    st = s.recording.stats
    sent_by = s.recording.of('chunk')[-1].t
    print(f'{name:31} {m.seconds:5.1f} s, all sent after {sent_by:5.2f} s | peak traced {m.peak:5.1f} MB, '
          f'RSS {m.rss_peak:5.1f} MB | {st.chunks_sent} chunks, {st.partials} partials, {st.finals} finals')"""
    ),
    new_code_cell(
        """\
peak = {name: m.peak for name, (m, s) in RUNS.items()}
print('every run sent the 120 s and got its last final:',
      all(round(s.recording.stats.audio_seconds_sent) == 120 and any(isinstance(ev, Final) and ev.is_last
          for _, ev in s.events) for m, s in RUNS.values()))
print('stream directly (speed=None) peaks below half of buffer it all:',
      peak['stream directly, speed=None'] < 0.5 * peak['buffer it all, speed=None'])"""
    ),
    new_markdown_cell(
        "Memory over each run, and below it the audio *in flight*: sent, but not yet covered by a final "
        "(the last final word's end), from the Recording's chunk send times and the events' arrival times. The "
        "client keeps the chunks in flight for a resend after a reconnect, and the server holds the same audio in "
        "its queue until it has transcribed it:"
    ),
    new_code_cell(
        """\
def in_flight(stream):
    \"\"\"(time, seconds of audio sent but not yet covered by a final) at each chunk send and each final.\"\"\"
    points = [(c.t, 'sent', c['audio_end']) for c in stream.recording.of('chunk')]
    points += [(t, 'final', ev.words[-1].end) for t, ev in stream.events if isinstance(ev, Final) and ev.words]
    sent = covered = 0.0
    rows = []
    for t, what, audio in sorted(points):
        sent, covered = (max(sent, audio), covered) if what == 'sent' else (sent, max(covered, audio))
        rows.append((t, max(0.0, sent - covered)))
    return np.array(rows)

from voicelab.client.stream_state import MAX_IN_FLIGHT_AUDIO_S

flight = {name: in_flight(s) for name, (m, s) in RUNS.items()}
most = {name: rows[:, 1].max() for name, rows in flight.items()}
print(f'speed=None: at most {MAX_IN_FLIGHT_AUDIO_S:g} s in flight (plus the last utterance), not the whole file:',
      MAX_IN_FLIGHT_AUDIO_S <= most['stream directly, speed=None'] < MAX_IN_FLIGHT_AUDIO_S + 5)
print('10x real time: never more than 20 s in flight:', most['stream directly, 10x real time'] < 20)"""
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
fig = Figure(figsize=(9, 6), layout='constrained', dpi=80)
top, bottom = fig.subplots(2, sharex=True)
for name, (m, s) in RUNS.items():
    rows = np.array(m.rows)
    line, = top.plot(rows[:, 0], rows[:, 1], label=f'{name} (peak {m.peak:.0f} MB)')
    top.axhline(m.peak, color=line.get_color(), ls=':', lw=1.2)  # the exact peak, which samples can miss
    bottom.plot(flight[name][:, 0], flight[name][:, 1], color=line.get_color(), drawstyle='steps-post')
top.set(ylabel='traced memory (MB)',
        title='The client streaming a 2-minute file to the emulator (dotted: the peak of each run)')
bottom.set(xlabel='seconds since the stream started', ylabel='audio in flight (s)',
           title='Sent but not yet covered by a final (kept for a resend)')
for ax in (top, bottom):
    ax.grid(True, lw=0.5)
top.legend(fontsize=8)
fig"""
    ),
    new_markdown_cell(
        "What the figure shows:\n\n"
        "* **buffer it all** peaks before the first chunk goes out (the whole file, several times over, for a "
        "few milliseconds: the dotted line), then holds the list of chunks and, in the Recording, a base64 copy "
        "of every chunk sent.\n"
        "* **stream directly, `speed=None`** reads a block at a time and sends far faster than the file is "
        "transcribed, until 30 s of audio are *in flight* (`MAX_IN_FLIGHT_AUDIO_S`): then it waits for finals to "
        "catch up, so the audio it keeps for a resend (and the server's queue) stays bounded, and the sends "
        "follow the recognizer's pace. Without that bound the whole file would be in flight, and held by the "
        "client until the end: streaming directly removes the copies, not the backlog, and sending faster than "
        "the server consumes moves the buffer into the socket, the server's queue and the resend buffer. The "
        "buffered run, unpaced too, is held at the same bound. (The "
        "seed's `stream.on(\"data\", (chunk) => ws.send(chunk))` has that problem: a WebSocket that cannot send "
        "as fast as the file is read queues the rest in its `bufferedAmount`.) A server that sends no finals "
        "until the end is not waited for: after `IN_FLIGHT_WAIT_WALL_S` (2 s) without one, the stream sends "
        "on.\n"
        "* Both streamed runs peak at the start, at the same height: `vl.stream` reads the file's first minute "
        "whole to check it before sending (the pre-flight check: rate, level, format), a fixed cost however "
        "long the file.\n"
        "* **10x real time** stays within what the recognizer keeps up with: a few seconds in flight. What still "
        "grows slowly is the session's log (next cell). A live source (a microphone) is paced by nature.\n\n"
        "### What the Recording keeps\n\n"
        "`keep_audio_seconds` bounds the audio bytes a Recording keeps (for `diagnose` to check what was really "
        "sent): the first 60 s by default, `None` for all of it, `0` for none. Messages are always kept:"
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
for name, (m, s) in RUNS.items():
    rec = s.recording
    jsonl = sum(len(e.to_json()) + 1 for e in rec.entries)
    print(f'{name:31} keeps {rec.sent_audio().duration:5.1f} s of audio | {len(rec)} entries, '
          f'{jsonl / 1e6:4.1f} MB as JSONL')"""
    ),
    new_code_cell(
        "print('audio kept (s):', [round(s.recording.sent_audio().duration, 1) for m, s in RUNS.values()],\n"
        "      '| complete:', [s.recording.sent_audio().complete for m, s in RUNS.values()])"
    ),
    new_markdown_cell(
        "Pulse answers every chunk with a message, and the Recording (and `stream.events`) keep each one, so a "
        "session's log grows with its length however the audio is read. How much a finished 2-minute session "
        "holds, measured by letting one go:"
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
m, s = RUNS['stream directly, 10x real time']
messages = s.recording.stats.messages_received
kept_audio = sum(len(c.get('data') or '') for c in s.recording.of('chunk')) / 1e6  # its first 60 s, base64
paced_codes = vl.diagnose(s).codes  # for section 3: the run is let go now
gc.collect()
before = tracemalloc.get_traced_memory()[0]
del s, m, RUNS['stream directly, 10x real time']
gc.collect()
freed = (before - tracemalloc.get_traced_memory()[0]) / 1e6
per_message = (freed - kept_audio) / messages * 1000
print(f'{messages} messages: the Stream, its events and its Recording held {freed:.1f} MB: {kept_audio:.1f} MB of '
      f'kept audio and about {per_message:.1f} KB per message')
print(f'a 2-hour session at one message per 4096-byte chunk (56,250 messages): ≈ '
      f'{per_message * 56.25 + kept_audio:.0f} MB')"""
    ),
    new_markdown_cell(
        "That is the part of a long session's memory that voicelab does not bound: a few kilobytes per message "
        "(the Recording's decoded copy and the event in `stream.events`), over a megabyte per minute of audio at "
        "one message per 4096-byte chunk — far less than the buffered file, but it grows with the session. "
        "`record=path` writes the same log to a JSONL file as it happens; the in-memory copy stays.\n\n"
        "## 3. Name it\n\n"
        "A Recording cannot see the client's memory, so `diagnose` has no memory finding. What it names is the "
        "pacing that turns a stream into a backlog:"
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
unpaced = RUNS['stream directly, speed=None'][1]
vl.diagnose(unpaced)"""
    ),
    new_code_cell(
        """\
f = next(f for f in vl.diagnose(unpaced) if f.code == 'faster_than_real_time')
print(f.severity, f.code)
print('fix:', f.fix)
print('the paced run too:', 'faster_than_real_time' in paced_codes)
emulator.stdin.close()
emulator.wait(30)
emulator_log.close()
print('emulator exit code:', emulator.returncode, '| its log:', (WORK / 'emulator.log').read_text() or 'empty')"""
    ),
    new_markdown_cell(
        "## 4. Long sessions end: session length caps\n\n"
        "A session that lasts hours meets a cap sooner or later (from the vendors' docs; the emulator's limits are "
        "in [docs/emulator.md](../docs/emulator.md)):\n\n"
        "| service | cap | what happens |\n"
        "|---|---|---|\n"
        "| Smallest AI Pulse | not documented | — |\n"
        "| AssemblyAI Voice Agent API | `max_session_duration_seconds`, 60–10800 s, default 10800 (3 h), set "
        "through the token | `session.error` `session_expired` (no warning beforehand), `session.ended`, close 1008 |\n"
        "| AssemblyAI Universal Streaming | 3 h (or the token's cap) | close 3008 |\n"
        "| voicelab's emulator | `Limits.max_session_seconds`, 10800 s by default | an error frame, close 4002 |\n\n"
        "Here the emulator's cap is 3 s of wall time, and 40 s of the file is sent at 10x real time (4 s), read "
        "a block at a time by the `stream_directly` generator of section 1:"
    ),
    new_code_cell(
        """\
# NBVAL_IGNORE_OUTPUT
capped = vl.serve(**LIGHT, limits=Limits(max_session_seconds=3))
CAPPED = dict(provider='pulse', url=capped.url, api_key=capped.api_key, speed=10)
capped"""
    ),
    new_code_cell(
        """\
one = vl.stream(stream_directly(E2E, 0, 40 * 16000), **CAPPED)
try:
    one.wait(60)
except vl.SessionError as exc:
    print(type(exc).__name__, '-', str(exc).split(';')[0])
print('close codes:', one.recording.stats.close_codes, '| all 40 s sent:', one.recording.stats.audio_seconds_sent >= 40,
      '| reconnects:', one.recording.stats.reconnects)"""
    ),
    new_code_cell(
        """\
f = next(f for f in vl.diagnose(one) if f.code == 'server_closed')
print(f.severity, f.code)
print(f.message.split(' — ')[1])
print('fix:', f.fix)"""
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nvl.plot.timeline(one)"),
    new_markdown_cell(
        "voicelab does not reconnect after a cap (the server said why it closed; a new connection is a new "
        "session), so the stream ends with a `SessionError`, and the audio after the cap is never heard. "
        "**Fix**: split a session that can outlast the cap into sessions shorter than it, each cut at a pause so "
        "no word is split between two. The file's pauses are known here (its maker returned them); a real "
        "application cuts where its own voice activity detection finds silence. Each piece is read from the file a "
        "block at a time, as before:"
    ),
    new_code_cell(
        """\
cuts = [0.0]
at_pauses = [end - 0.3 for start, end in E2E_PAUSES if end - 0.3 < 40]  # 0.3 s before the next speech
for cut, following in zip(at_pauses, at_pauses[1:] + [40.0]):
    if following - cuts[-1] > 20:  # pieces of at most 20 s of audio (2 s at 10x)
        cuts.append(cut)
pieces = list(zip(cuts, cuts[1:] + [40.0]))
sessions = [vl.stream(stream_directly(E2E, int(a * 16000), int(b * 16000)), **CAPPED).wait(60) for a, b in pieces]
for (a, b), s in zip(pieces, sessions):
    print(f'{a:4.1f}–{b:4.1f} s: close codes {s.recording.stats.close_codes}, finals: {s.recording.stats.finals > 0}')
print(len(pieces), 'sessions | all 40 s sent:',
      round(sum(s.recording.stats.audio_seconds_sent for s in sessions), 1) == 40.0)
print('errors diagnosed per session:', [[f.code for f in vl.diagnose(s) if f.severity == 'error'] for s in sessions])
capped.close()"""
    ),
    new_markdown_cell(
        "## 5. Clean up resources\n\n"
        "The seed's second fix: when the connection closes, release what the session held (its audio context, "
        "its read stream). A voicelab session holds a socket, its audio source (an open file, for a path), the "
        "Recording's JSONL file (with `record=`); the emulator adds its threads and its listening socket. "
        "Counting this process's threads and open file descriptors (`/proc/self/fd`) shows what is held while "
        "sessions run and that it is all released after. The baseline already has voicelab's client thread: one "
        "event-loop thread for every stream of the process, started by the first stream and kept."
    ),
    new_code_cell(
        """\
def held():
    \"\"\"This process's threads (by name, numbers dropped) and open file descriptors (by kind).\"\"\"
    threads = Counter(t.name.rstrip('0123456789_') for t in threading.enumerate())
    fds = Counter()
    for fd in os.listdir('/proc/self/fd'):
        try:
            target = os.readlink(f'/proc/self/fd/{fd}')
        except OSError:  # the listing's own descriptor, gone by now
            continue
        fds[target.split(':')[0] if not target.startswith('/') else Path(target).suffix or 'file'] += 1
    return threads, fds

def changed(now, base):
    \"\"\"What `now` holds beyond `base`.\"\"\"
    return {k: v for part in (0, 1) for k, v in (now[part] - base[part]).items()}

def settled(base, kinds=None, timeout=5.0):
    \"\"\"held() once none of `kinds` (default: anything) is held beyond `base`, or after `timeout` s: a finished
    stream's source is closed on the client thread just after the stream ends.\"\"\"
    deadline = time.monotonic() + timeout
    while True:
        now = held()
        extra = set(changed(now, base))
        if not (extra & set(kinds) if kinds else extra) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)

baseline = held()
print('voicelab client thread in the baseline:', baseline[0]['voicelab-client'] == 1)"""
    ),
    new_markdown_cell(
        "A long file streamed at real time with a JSONL log, and a source that never ends, like a microphone "
        "(the 2-minute file over and over). `with vl.serve(...)` closes the server; `with vl.stream(...) as s:` "
        "stops the stream when the block is left (the end message, the last final, close 1000) and waits for its "
        "end, so an exception in the block does not leave it running (that exception goes on; the stream's own "
        "error, if any, is raised on leaving only when there is none):"
    ),
    new_code_cell(
        """\
def microphone():
    \"\"\"A source that never ends, 4096 bytes at a time.\"\"\"
    while True:
        yield from stream_directly(E2E)

with vl.serve(**LIGHT) as server:
    here = dict(provider='pulse', url=server.url, api_key=server.api_key)
    with (vl.stream(LONG[20], record=WORK / 'long.jsonl', **here) as long_one,  # 20 minutes at real time
          vl.stream(microphone(), **here) as mic):
        time.sleep(2)
        during = held()
        print('sessions open:', server.sessions)
    print('both ended on leaving the block:', long_one.done and mic.done)
    stopped = settled(baseline, kinds={'.wav', '.jsonl'})
after = settled(baseline)"""
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "print('baseline: threads', sum(baseline[0].values()), 'fds', sum(baseline[1].values()),\n"
        "      '| after: threads', sum(after[0].values()), 'fds', sum(after[1].values()))\n"
        "print('while running, beyond the baseline:', changed(during, baseline))"
    ),
    new_code_cell(
        """\
print('while running: the .wav and .jsonl files open:', {'.wav', '.jsonl'} <= set(changed(during, baseline)))
print('stopped: the audio file and the JSONL log closed:', not {'.wav', '.jsonl'} & set(changed(stopped, baseline)))
print('closes:', [s.recording.stats.close_codes for s in (long_one, mic)])
print('nothing left beyond the baseline:', changed(after, baseline) == {})"""
    ),
    new_markdown_cell(
        "### A stream nobody stops\n\n"
        "Without `with`, `vl.stream` returns at once and the session runs on the client thread, so a cell that "
        "moves on leaves it running, and nothing says so: no warning (a running stream is referenced by the "
        "client's event loop until it ends, so it is never garbage-collected, and there is no moment at which a "
        "`ResourceWarning` could fire). A source that ends (a file) ends the session by itself; a live one keeps "
        "it open until `stop()` or until the server closes it. Here the server closes it (with "
        "`reconnect=False`; with the default the client first tries to reconnect, about 12 s of attempts here), "
        "and the error waits in `stream.error` for whoever asks:"
    ),
    new_code_cell(
        """\
server = vl.serve(**LIGHT)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    forgotten = vl.stream(microphone(), provider='pulse', url=server.url, api_key=server.api_key, reconnect=False)
    time.sleep(2)
print('2 s later: sessions open', server.sessions, '| stream done:', forgotten.done, '| warnings:', len(caught))
server.close()  # the server goes away under the running stream
try:
    forgotten.wait(30)
except vl.VoicelabError as exc:
    print('ended by the server:', type(exc).__name__, '| in stream.error:', forgotten.error is exc)
left_open = changed(settled(baseline), baseline)
print("after the error, with the Stream still referenced: the microphone's file closed:", '.wav' not in left_open,
      '| its reader thread ended:', 'voicelab-source' not in left_open)"""
    ),
    new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint('held beyond the baseline:', left_open)"
    ),
    new_markdown_cell(
        "The error kept in `stream.error` carries its traceback, whose frames reference the source (here the "
        "microphone generator and its open file). voicelab closes the source when the stream ends, whatever the "
        "outcome — the generator is closed, so its `with` closes the file, and the thread that read it ends — so "
        "nothing is held until the `Stream` is dropped. Dropping it frees only its events and Recording:"
    ),
    new_code_cell(
        """\
del forgotten
gc.collect()
print('after del forgotten, beyond the baseline:', changed(settled(baseline), baseline) or 'nothing')"""
    ),
    new_markdown_cell(
        "**Fix**: end every session you start — `with vl.stream(...) as s:`, or `stream.stop()` then "
        "`stream.wait()` in a `finally` (or when your app's own close event fires, as in the seed's "
        "`ws.onclose`), and `with vl.serve(...)` for the emulator: voicelab then closes the socket, the audio "
        "source and the JSONL log itself, also after an error.\n\n"
        "## Clean up"
    ),
    new_code_cell(
        "tracemalloc.stop()\n"
        "shutil.rmtree(WORK)  # the long files and logs\n"
        "print('temporary files removed:', not WORK.exists())"
    ),
]
