"""The ``voicelab`` command line: ``inspect`` and ``convert`` (more commands arrive with later layers).

Exit status: 0 when clean, 1 when a finding of severity ``error`` exists,
2 on usage or I/O errors.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from voicelab import __version__
from voicelab.audio import codecs
from voicelab.audio.convert import normalize, resample, to_mono
from voicelab.audio.formats import RawFormat
from voicelab.audio.inspection import inspect
from voicelab.audio.io import RAW_SUFFIXES, load, save
from voicelab.audio.targets import TARGETS, get_target
from voicelab.errors import VoicelabError

__all__ = ["main"]

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voicelab", description="See, check and convert audio for real-time voice APIs.")
    p.add_argument("--version", action="version", version=f"voicelab {__version__}")
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
    return p


def _inspect(args: argparse.Namespace) -> int:
    report = inspect(args.file, target=args.target, raw=args.raw)
    print(report.to_json() if args.json else str(report))
    return EXIT_OK if report.ok else EXIT_FINDINGS


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _convert(args: argparse.Namespace) -> int:
    tgt = get_target(args.target)
    clip = load(args.input, raw=args.raw)
    out = Path(args.output)
    if not out.parent.exists():
        raise VoicelabError(f"output directory {str(out.parent)!r} does not exist")
    encoding = args.encoding or tgt.recommended_encoding
    fmt = RawFormat(encoding=encoding, samplerate=args.samplerate or tgt.recommended_samplerate)
    if encoding not in tgt.encodings:
        raise VoicelabError(f"{tgt.title} does not accept {encoding!r}; use one of {', '.join(tgt.encodings)}")
    if fmt.samplerate not in tgt.rates_for(encoding):
        raise VoicelabError(f"{tgt.title} expects {encoding} at {', '.join(map(str, tgt.rates_for(encoding)))} Hz, "
                            f"not {fmt.samplerate}")
    clip = resample(to_mono(clip), fmt.samplerate)
    if args.normalize is not None:
        clip = normalize(clip, peak_dbfs=args.normalize)
    if out.suffix.lower() in RAW_SUFFIXES:
        if encoding == "opus":
            raise VoicelabError("raw opus packets have no framing in a file; use --encoding ogg_opus or linear16")
        _write_atomic(out, codecs.encode(clip, encoding=encoding))
        print(f"wrote {out}: {clip.duration:.2f} s of {fmt} ({tgt.title}); load it with raw='{fmt}'")
    else:
        if args.encoding:
            raise VoicelabError("--encoding applies to raw output (.raw/.pcm); container files are written as PCM_16")
        save(clip, out)
        print(f"wrote {out}: {clip.duration:.2f} s, {clip.samplerate} Hz mono PCM_16 ({tgt.title})")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv``.

    Returns:
        0 when clean, 1 when an error finding exists, 2 on usage or I/O errors.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        if args.command == "inspect":
            return _inspect(args)
        return _convert(args)
    except VoicelabError as exc:
        print(f"voicelab {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"voicelab {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
