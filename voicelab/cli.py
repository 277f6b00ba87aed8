"""The ``voicelab`` command line.

Subcommands: ``inspect``, ``convert``, ``stream``, ``replay``, ``metrics``, ``doctor``, ``diagnose``, ``serve``,
``tap``.

Exit status: 0 when clean, 1 when a finding of severity ``error`` exists (``doctor``: a step
failed), 2 on usage or I/O errors.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from voicelab import __version__
from voicelab.audio import codecs
from voicelab.audio.convert import normalize, resample, to_mono
from voicelab.audio.formats import RawFormat, check_samplerate
from voicelab.audio.inspection import inspect
from voicelab.audio.io import RAW_SUFFIXES, check_output_path, load, require_audio, save
from voicelab.audio.targets import TARGETS, get_target
from voicelab.errors import ConversionError, VoicelabError
from voicelab.files import atomic_path
from voicelab.providers import provider_names
from voicelab.recording.reference import find_reference

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicelab", description="See, check and convert audio for real-time voice APIs.")
    p.add_argument("--version", action="version", version=f"voicelab {__version__}")
    p.add_argument("--debug", action="store_true",
                   help="print the full traceback of an error (anywhere on the command line)")
    sub = p.add_subparsers(dest="command", required=True)

    ins = sub.add_parser("inspect", help="measure a file and report problems with fixes")
    ins.add_argument("file", help="audio file (WAV, FLAC, OGG, MP3 …) or raw PCM with --raw")
    ins.add_argument("--target", choices=sorted(TARGETS), help="check against an API's expectations")
    ins.add_argument("--raw", metavar="ENCODING:RATE:CHANNELS", help="declare headerless audio, e.g. linear16:16000:1")
    ins.add_argument("--json", action="store_true", help="print the report as JSON")

    conv = sub.add_parser("convert", help="convert a file to what an API expects (mono, rate, encoding)")
    conv.add_argument("input")
    conv.add_argument("output", help="destination: .wav/.flac (PCM_16) or .raw/.pcm (encoded bytes)")
    conv.add_argument("--target", choices=sorted(TARGETS), required=True)
    conv.add_argument("--raw", metavar="ENCODING:RATE:CHANNELS", help="declare a headerless input")
    conv.add_argument("--encoding", help="override the target's recommended encoding (raw output only)")
    conv.add_argument("--samplerate", type=int, help="override the target's recommended rate (Hz)")
    conv.add_argument("--normalize", type=float, metavar="DBFS", help="scale the peak to this level, e.g. -1")

    st = sub.add_parser("stream", help="stream a file to an API (or the local emulator) and show results live")
    st.add_argument("file")
    st.add_argument("--provider", choices=provider_names(), default="pulse")
    st.add_argument("--url", help="ws(s):// base or full URL; without it the local emulator is started")
    st.add_argument("--param", action="append", default=[], metavar="K=V", help="a provider parameter (repeatable)")
    size = st.add_mutually_exclusive_group()
    size.add_argument("--chunk-bytes", type=int)
    size.add_argument("--chunk-seconds", type=float)
    st.add_argument("--speed", type=float, default=1.0, help="audio seconds per wall second (1 = real time)")
    st.add_argument("--record", metavar="OUT.jsonl", help="write the Recording here as it happens")
    st.add_argument("--raw", metavar="ENCODING:RATE:CHANNELS", help="declare a headerless input")
    st.add_argument("--engine", choices=["whisper", "sphinx"], default="whisper", help="emulator engine")
    st.add_argument("--json", action="store_true", help="print the metrics as JSON at the end")
    st.add_argument("--echo", metavar="DELAY[:GAIN]",
                    help="mix the agent's reply audio back into the audio sent, DELAY seconds later at linear "
                         "GAIN (default 0.6), as speakers without echo cancellation do: reproduces 'the agent "
                         "interrupts itself'")
    st.add_argument("--strict", action="store_true",
                    help="refuse to connect when the pre-flight check of the first second of audio finds a problem")

    rp = sub.add_parser("replay", help="play a saved Recording back, printing its events")
    rp.add_argument("recording")
    rp.add_argument("--timing", choices=["original", "fast"], default="fast")

    mt = sub.add_parser("metrics", help="latency and stability metrics of a saved Recording")
    mt.add_argument("recording")
    mt.add_argument("--json", action="store_true")
    mt.add_argument("--reference", metavar="AUDIO", help="audio file listed in a data/manifest.json for timings")

    doc = sub.add_parser(
        "doctor", help="check a live connection step by step: URL, DNS, TCP, TLS, upgrade, auth, session, close",
        description="Check a live connection step by step and name what fails, with the fix. Without URL the "
                    "vendor's host is checked; for a local URL run `voicelab serve` in another terminal.")
    doc.add_argument("url", nargs="?", help="ws(s):// base or full URL (default: the provider's vendor host)")
    doc.add_argument("--provider", choices=provider_names(), required=True)
    doc.add_argument("--api-key-env", metavar="NAME",
                     help="read the key from this environment variable (default: the provider's, e.g. "
                          "SMALLEST_API_KEY); without a key the check stops after the upgrade")
    doc.add_argument("--auth-scheme", metavar="SCHEME",
                     help="send 'Authorization: SCHEME <key>' as your app does (e.g. Token; 'none' for a bare "
                          "key) to check it against the documented form")
    doc.add_argument("--region", help="the vendor region (its host without URL; its language rules)")
    doc.add_argument("--param", action="append", default=[], metavar="K=V", help="a provider parameter (repeatable)")
    doc.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="longest wait of each step")
    doc.add_argument("--json", action="store_true", help="print the report as JSON")

    dg = sub.add_parser("diagnose", help="name what went wrong in a recorded session (a Recording's JSONL)",
                        description="Read a Recording and report what went wrong in that session: the audio as "
                                    "sent, the outcome, pacing and latency, the connection, an agent's echo loop; "
                                    "each finding with the symptom it explains and the fix.")
    dg.add_argument("recording", help="the JSONL file written by stream(..., record=) / voicelab stream --record")
    dg.add_argument("--json", action="store_true", help="print the diagnosis as JSON")

    sv = sub.add_parser("serve", help="run the local emulator of Pulse and the AssemblyAI Voice Agent API",
                        add_help=False)
    sv.add_argument("rest", nargs=argparse.REMAINDER)

    tp = sub.add_parser("tap", help="a recording proxy between any app and the API (or the emulator)",
                        add_help=False)
    tp.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _inspect(args: argparse.Namespace) -> int:
    report = inspect(args.file, target=args.target, raw=args.raw)
    print(report.to_json() if args.json else str(report))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _write_atomic(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def _convert(args: argparse.Namespace) -> int:
    tgt = get_target(args.target)
    out = check_output_path(args.output, args.input)  # before reading: never write over the input
    if not out.parent.exists():
        raise ConversionError(f"output directory {str(out.parent)!r} does not exist; create it first")
    if out.is_dir():
        raise ConversionError(f"output {str(out)!r} is a directory; give a file name such as {str(out / 'out.wav')!r}")
    encoding = args.encoding or tgt.recommended_encoding
    rate = tgt.recommended_samplerate if args.samplerate is None else check_samplerate(args.samplerate,
                                                                                        what="--samplerate")
    fmt = RawFormat(encoding=encoding, samplerate=rate)
    if encoding not in tgt.encodings:
        raise ConversionError(f"{tgt.title} does not accept {encoding!r}; use one of {', '.join(tgt.encodings)}")
    if fmt.samplerate not in tgt.rates_for(encoding):
        raise ConversionError(f"{tgt.title} expects {encoding} at {', '.join(map(str, tgt.rates_for(encoding)))} "
                              f"Hz, not --samplerate {fmt.samplerate}")
    clip = require_audio(load(args.input, raw=args.raw), purpose="convert")
    clip = resample(to_mono(clip), fmt.samplerate)
    if args.normalize is not None:
        clip = normalize(clip, peak_dbfs=args.normalize)
    if out.suffix.lower() in RAW_SUFFIXES:
        if encoding == "opus":
            raise ConversionError("raw opus packets have no framing in a file; use --encoding ogg_opus or linear16")
        _write_atomic(out, codecs.encode(clip, encoding=encoding))
        print(f"wrote {out}: {clip.duration:.2f} s of {fmt} ({tgt.title}); load it with raw='{fmt}'")
    else:
        if args.encoding:
            raise ConversionError("--encoding applies to raw output (.raw/.pcm); container files are written as "
                                  "PCM_16")
        save(clip, out)
        print(f"wrote {out}: {clip.duration:.2f} s, {clip.samplerate} Hz mono PCM_16 ({tgt.title})")
    return EXIT_OK


def _params(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        if "=" not in pair:
            raise VoicelabError(f"--param {pair!r} must look like KEY=VALUE, e.g. --param vad_events=true")
        k, v = pair.split("=", 1)
        value: object = v
        if v.lower() in ("true", "false"):
            value = v.lower() == "true"
        elif v.lstrip("-").isdigit():
            value = int(v)
        out[k.strip()] = value
    return out


def _stream(args: argparse.Namespace) -> int:
    import contextlib
    import json

    from voicelab.client import stream
    from voicelab.client.echo import EchoLoop
    from voicelab.protocols.events import AgentTranscript, Final, Partial

    echo = EchoLoop.parse(args.echo) if args.echo is not None else None

    params = _params(args.param)
    width = 0
    tty = sys.stdout.isatty()

    def show(_t: float, ev: object) -> None:
        nonlocal width
        if isinstance(ev, Partial) and tty:  # partials overwrite each other in place on a terminal
            text = ev.text[-100:]
            sys.stdout.write("\r" + text.ljust(width))
            width = len(text)
        elif isinstance(ev, Final) and ev.text.strip():
            sys.stdout.write(("\r" + ev.text.ljust(width) if tty else ev.text) + "\n")
            width = 0
        elif isinstance(ev, AgentTranscript):
            line = f"agent: {ev.text}" + (" (interrupted)" if ev.interrupted else "")
            sys.stdout.write(("\r" + line.ljust(width) if tty else line) + "\n")
            width = 0
        sys.stdout.flush()

    with contextlib.ExitStack() as stack:
        url, key = args.url, None
        if url is None:
            from voicelab.emulator import serve

            server = stack.enter_context(serve(engine=args.engine))
            url, key = server.url, server.api_key
        session = stream(args.file, provider=args.provider, url=url, api_key=key, raw=args.raw, params=params,
                         chunk_bytes=args.chunk_bytes, chunk_seconds=args.chunk_seconds, speed=args.speed,
                         record=args.record, on_event=show, echo=echo, strict=args.strict)
        session.wait()
    ref = find_reference(args.file)
    report = session.metrics(reference=ref)
    print(json.dumps(report.to_dict(), indent=2) if args.json else f"\n{report}")
    if args.record:
        print(f"recording saved to {args.record}; replay it with: voicelab replay {args.record}")
    return EXIT_OK


def _replay(args: argparse.Namespace) -> int:
    from voicelab.client import replay

    session = replay(args.recording, timing=args.timing,
                     on_event=lambda t, ev: print(f"{t:8.3f}s  {ev.kind:<20} {getattr(ev, 'text', '') or ''}"))
    session.wait()
    print(f"{len(session.events)} events; transcript: {session.transcript}")
    return EXIT_OK


def _metrics(args: argparse.Namespace) -> int:
    import json

    from voicelab.recording import Recording
    from voicelab.recording.metrics import compute_metrics

    ref = find_reference(args.reference) if args.reference else None
    report = compute_metrics(Recording.load(args.recording), reference=ref)
    print(json.dumps(report.to_dict(), indent=2) if args.json else str(report))
    return EXIT_OK


def _doctor(args: argparse.Namespace) -> int:
    from voicelab.diagnosis import doctor
    from voicelab.diagnosis.doctor import DoctorSetupError
    from voicelab.providers import get_provider

    auth_header = None
    if args.auth_scheme is not None:
        spec = get_provider(args.provider)
        name = args.api_key_env or spec.key_env
        key = os.environ.get(name, "").strip()
        if not key:
            raise DoctorSetupError(f"--auth-scheme needs a key: set ${spec.key_env} or use --api-key-env NAME")
        scheme = args.auth_scheme.strip()
        auth_header = key if scheme.lower() in ("", "none") else f"{scheme} {key}"
    report = doctor(args.url, provider=args.provider, api_key_env=None if auth_header else args.api_key_env,
                    region=args.region, params=_params(args.param), auth_header=auth_header,
                    timeout_seconds=args.timeout)
    print(report.to_json() if args.json else str(report))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _diagnose(args: argparse.Namespace) -> int:
    from voicelab.diagnosis.recorded import diagnose

    report = diagnose(args.recording)
    print(report.to_json() if args.json else str(report))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 when clean, 1 when an error finding exists, 2 on usage or I/O errors.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # anywhere on the line: `voicelab convert a b --debug` works too
    argv = [a for a in argv if a != "--debug"]
    if argv[:1] == ["serve"]:
        from voicelab.emulator.cli import serve_command

        return int(serve_command(argv[1:]))
    if argv[:1] == ["tap"]:
        from voicelab.proxy.cli import tap_command

        return int(tap_command(argv[1:]))
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        commands = {"inspect": _inspect, "convert": _convert, "stream": _stream, "replay": _replay,
                    "metrics": _metrics, "doctor": _doctor, "diagnose": _diagnose}
        return commands[args.command](args)
    except KeyboardInterrupt:
        print(f"voicelab {args.command}: interrupted", file=sys.stderr)
        return 130
    except (VoicelabError, OSError) as exc:
        if debug:
            traceback.print_exc()
        print(f"voicelab {args.command}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a bug, or bad input nothing translated yet: one line, never a traceback
        if debug:
            traceback.print_exc()
        print(f"voicelab {args.command}: unexpected {type(exc).__name__}: {_one_line(exc)} "
              "(run with --debug for the traceback)", file=sys.stderr)
        return EXIT_USAGE


def _one_line(exc: BaseException) -> str:
    """The error's message for the terminal: OSError as 'message: path', credentials masked, at most 2000 chars."""
    from voicelab.protocols.redaction import redact, redact_url
    from voicelab.providers import get_provider

    if isinstance(exc, OSError) and not isinstance(exc, VoicelabError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename!r}" if exc.filename is not None else "")
    else:
        text = str(exc) or type(exc).__name__
    secrets: list[str] = []
    for name in provider_names():
        value = os.environ.get(get_provider(name).key_env)
        if value:
            secrets += [value, value.strip()]
    text = redact_url(redact(text, secrets))
    return text if len(text) <= 2000 else text[:2000] + " …"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
