"""Cells of 00-inspect-audio.ipynb — What is my audio, really: loading, inspecting, broken files."""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_markdown_cell

NOTEBOOK = "00-inspect-audio.ipynb"

CELLS = [
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
        "## What each mistake looks like\n\n"
        "Each figure below sets the good recording (`s02_weather_16k.flac`, the sentence every broken file was "
        "made from) next to broken versions of it with `vl.plot.compare`: one column per clip, waveform above "
        "spectrogram. All panels share one time axis, the waveforms one full-scale amplitude axis (±1 dashed, 0 "
        "dotted), the spectrograms one frequency axis (up to the lowest Nyquist frequency, here 8 kHz) and one dB "
        "scale, so what differs is the mistake.\n\n"
        "A raw file is drawn as a server reads the bytes it was told about. `vl.load` refuses several of these "
        "declarations outright, so `as_declared` decodes them without any check: an odd trailing byte is dropped, "
        "and float32 values beyond ±1 (or NaN) are drawn clamped at full scale (or 0)."
    ),
    new_code_cell(
        "%matplotlib inline\n"
        "import numpy as np\n\n"
        "BROKEN = DATA / 'broken'\n"
        "DECLARED = {Path(e['path']).name: e['raw'] for e in manifest['files'] if e['kind'] == 'broken'}\n\n\n"
        "def as_declared(name):\n"
        "    \"\"\"The bytes of data/broken/<name> read as declared in the manifest, with no checks.\"\"\"\n"
        "    fmt = vl.audio.RawFormat.parse(DECLARED[name])\n"
        "    data = (BROKEN / name).read_bytes()\n"
        "    frame = fmt.bytes_per_sample * fmt.channels\n"
        "    x = vl.audio.decode_pcm(data[:len(data) // frame * frame], encoding=fmt.encoding, channels=fmt.channels)\n"
        "    x = np.clip(np.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)\n"
        "    return vl.Clip(x, samplerate=fmt.samplerate)\n\n\n"
        "good = clip  # s02_weather_16k.flac, loaded at the top\n"
        "{name: raw for name, raw in DECLARED.items() if raw}  # the raw files and their declared formats"
    ),
    new_markdown_cell(
        "### Wrong rate, wrong channel count\n\n"
        "48 kHz speech declared as 16 kHz plays three times too slowly: 16.6 s instead of 5.5 s, and every "
        "frequency divided by three, so speech that reached 11 kHz now stops at 3.7 kHz (`rate_mismatch`; "
        "`weather_16k_labelled_8k.raw` is the same by a factor of 2). Interleaved stereo declared as mono is "
        "twice as long, and the left/right alternation adds a mirror image of the speech in the top half of the "
        "band (`stereo_as_mono`)."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "names = ['weather_48k_labelled_16k.raw', 'weather_stereo_as_mono.raw']\n"
        "vl.plot.compare(good, *map(as_declared, names),\n"
        "                labels=['good', '48 kHz read as 16 kHz', 'stereo read as mono'])"
    ),
    new_markdown_cell(
        "### Wrong sample format\n\n"
        "float32 read as int16 turns every sample into two: twice as long, and loud broadband noise wherever the "
        "speech is (`float32_as_int16`). int16 read as float32 joins pairs of samples into one: half as long, and "
        "about a third of the values are NaN, infinite or beyond ±1 (`int16_as_float32`). Byte-swapped int16 is "
        "full-scale white noise over the speech, with the silences still silent, since 0 swapped is 0 "
        "(`byte_swapped`)."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "names = ['weather_float32_as_int16.raw', 'weather_int16_as_float32.raw', 'weather_byteswapped.raw']\n"
        "vl.plot.compare(good, *map(as_declared, names),\n"
        "                labels=['good', 'float32 read as int16', 'int16 read as float32', 'byte-swapped'])"
    ),
    new_markdown_cell(
        "### Bytes that are not audio\n\n"
        "A WAV file sent as raw PCM: its 44-byte header becomes 22 samples, a click up to 0.98 full scale at 0 s, "
        "and the audio after it is intact. That is easy to miss by eye and by ear, which is why `inspect` looks "
        "at the first bytes (`wav_header_in_raw`). Base64 or JSON text read as int16: every base64 character is a "
        "byte from `0x2B` to `0x7A`, so (apart from the JSON's punctuation at either end) every sample is "
        "positive, between 0.34 and 0.96: a loud offset buzz, flat where the text repeats (`base64_text`, "
        "`json_text`; the JSON file declares 24 kHz)."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "names = ['weather_wav_header_in_raw.raw', 'weather_base64.txt', 'weather_json.json']\n"
        "vl.plot.compare(good, *map(as_declared, names),\n"
        "                labels=['good', 'WAV header in raw', 'base64 text read as int16', 'JSON text read as int16'])"
    ),
    new_markdown_cell(
        "### Level\n\n"
        "Container files need no declaration, so these are drawn as loaded. Clipped: +18 dB, then flat tops at ±1 "
        "and distortion smeared up the spectrogram (`clipping`). Quiet: a peak at −42 dBFS is a flat line at full "
        "scale and a spectrogram about 40 dB darker (`too_quiet`). DC offset: the whole waveform sits 0.2 above the "
        "zero line, with a bright line at 0 Hz (`dc_offset`)."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "vl.plot.compare(good, *(vl.load(BROKEN / n) for n in ['clipped.wav', 'quiet.wav', 'dc_offset.wav']))"
    ),
    new_markdown_cell(
        "### Content\n\n"
        "Silent: a flat line and a black spectrogram (`silence`). Truncated: the header promises 5.53 s, the file "
        "stops mid-sentence at 3.32 s (`truncated`). Upsampled from 8 kHz to 48 kHz: nothing above 4 kHz, here the "
        "empty upper half of the shared band, and in fact everything from 4 to 24 kHz: sent at 48 kHz it costs six "
        "times the bytes of 8 kHz for the same audio (`low_bandwidth`). (`stereo_44k_float.wav` is left out: a "
        "stereo float file looks like the good one; its `stereo` finding is a conversion to make, not damage.)"
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "names = ['silent.wav', 'truncated.wav', 'upsampled_8k_in_48k.wav']\n"
        "vl.plot.compare(good, *(vl.load(BROKEN / n) for n in names))"
    ),
    new_markdown_cell(
        "## The fixes, and what they give\n\n"
        "Each raw file, read the way its finding's fix says, and inspected again for Pulse. Where the fix is "
        "exact, the samples are the good file's, bit for bit. The 48 kHz and 24 kHz files are resampled to 16 kHz "
        "(one frame longer after resampling), and the stereo mix is not identical because its right channel was "
        "delayed and 3 dB quieter:"
    ),
    new_code_cell(
        "import json\n\n"
        "def bytes_of(name):\n"
        "    return (BROKEN / name).read_bytes()\n\n\n"
        "text = (BROKEN / 'weather_base64.txt').read_text()  # b64decode ignores the newline that ends the file\n"
        "message = json.loads((BROKEN / 'weather_json.json').read_text())\n"
        "fixed = {\n"
        "    '48 kHz declared as 48 kHz': vl.load(bytes_of('weather_48k_labelled_16k.raw'), raw='linear16:48000:1')\n"
        "                                 .resample(16000),\n"
        "    'stereo declared, mixed down': vl.load(bytes_of('weather_stereo_as_mono.raw'), raw='linear16:16000:2')\n"
        "                                   .to_mono(),\n"
        "    'float32 declared as float32': vl.load(bytes_of('weather_float32_as_int16.raw'), raw='float32:16000:1'),\n"
        "    'int16 declared as int16': vl.load(bytes_of('weather_int16_as_float32.raw'), raw='linear16:16000:1'),\n"
        "    'byte-swapped, read big-endian': vl.Clip(np.frombuffer(bytes_of('weather_byteswapped.raw'), '>i2'),\n"
        "                                             samplerate=16000),\n"
        "    'WAV bytes loaded as WAV': vl.load(BROKEN / 'weather_wav_header_in_raw.raw'),  # a WAV named .raw\n"
        "    'base64 decoded': vl.load(vl.audio.b64decode(text), raw='linear16:16000:1'),\n"
        "    'JSON audio decoded': vl.load(vl.audio.b64decode(message['audio']), raw='linear16:24000:1')\n"
        "                          .resample(16000),\n"
        "}\n"
        "for name, c in fixed.items():\n"
        "    codes = [f.code for f in c.inspect(target='pulse').findings] or 'none'\n"
        "    same = c.frames == good.frames and np.array_equal(c.samples, good.samples)\n"
        "    print(f'{name:30} {c.samplerate} Hz {c.duration:.2f} s  findings: {codes}  same samples as good: {same}')"
    ),
    new_markdown_cell(
        "The pictures of the worst three, fixed: back to the good one's length, band and level."
    ),
    new_code_cell(
        "# NBVAL_IGNORE_OUTPUT\n"
        "names = ['48 kHz declared as 48 kHz', 'stereo declared, mixed down', 'byte-swapped, read big-endian']\n"
        "vl.plot.compare(good, *(fixed[n] for n in names), labels=['good', *names])"
    ),
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
