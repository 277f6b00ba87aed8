"""``voicelab tap``: run the recording proxy in the foreground until Ctrl-C, one line per app connection."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from voicelab.errors import VoicelabError
from voicelab.providers import provider_names

__all__ = ["build_parser", "tap_command"]


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the ``tap`` options to ``parser`` (or a new one) and return it."""
    p = parser or argparse.ArgumentParser(
        prog="voicelab tap", description="Forward an app's WebSocket traffic to the API (or the emulator), "
                                         "recording every connection.")
    p.add_argument("--provider", required=True, choices=provider_names(), help="the protocol the app speaks")
    p.add_argument("--upstream", required=True, metavar="URL",
                   help="the real API (wss://…) or the emulator (ws://127.0.0.1:8765)")
    p.add_argument("--listen", default="127.0.0.1:8766", metavar="HOST:PORT",
                   help="where the app connects (default 127.0.0.1:8766; port 0 picks a free one)")
    p.add_argument("--record", default=None, metavar="OUT.jsonl",
                   help="write each connection's Recording (OUT.jsonl, OUT-2.jsonl, …, or into a directory)")
    p.add_argument("--inject-auth", action="store_true",
                   help="add the key from the provider's environment variable upstream (loopback only; the app "
                        "must use the printed URL with its local token)")
    p.add_argument("--fault", action="append", default=[], metavar="SPEC",
                   help="break the live connections, e.g. close_after_chunks:20;close_code:1011 (repeatable)")
    return p


def tap_command(argv: Sequence[str] | None = None) -> int:
    """Run ``voicelab tap --provider P --upstream URL [--listen] [--record] [--inject-auth] [--fault SPEC …]``.

    Args:
        argv: The arguments after ``tap`` (``None``: ``sys.argv[2:]``).

    Returns:
        The exit status: 0 after Ctrl-C, 2 on bad options or a failed start.
    """
    try:
        args = build_parser().parse_args(sys.argv[2:] if argv is None else argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    from voicelab.proxy.background import tap

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        running = tap(args.provider, args.upstream, listen=args.listen, record=args.record,
                      inject_auth=args.inject_auth, faults=args.fault or None, announce=False)
    except VoicelabError as exc:
        print(f"voicelab tap: {exc}", file=sys.stderr)
        return 2
    seen, reported = 0, set()

    def report() -> None:
        nonlocal seen
        sessions = running.sessions
        for s in sessions[seen:]:
            print(f"  session {s.number}: {s.client} {s.path}", flush=True)
        seen = len(sessions)
        for s in sessions:
            if s.done and s.number not in reported:
                reported.add(s.number)
                print(f"  {s!r}", flush=True)

    with running:
        print(running.banner(), flush=True)
        print("  Press Ctrl-C to stop.", flush=True)
        while not stop.wait(0.2):
            report()
    report()  # connections that ended while stopping (the tap closed them with 1001)
    return 0
