"""``voicelab serve``: run the emulator in the foreground until Ctrl-C.

The lead wires `serve_command` into ``voicelab/cli.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from voicelab.emulator.config import ENGINES, ServerConfig, new_api_key, redact_key
from voicelab.emulator.errors import EmulatorError, ServerConfigError
from voicelab.emulator.server import EmulatorServer

__all__ = ["KEY_ENV", "build_parser", "route_options", "serve_command"]

logger = logging.getLogger("voicelab.emulator.cli")

#: Environment variable read for the key when ``--api-key`` is not given.
KEY_ENV = "VOICELAB_EMULATOR_KEY"


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """Add the ``serve`` options to ``parser`` (or a new one) and return it."""
    p = parser or argparse.ArgumentParser(prog="voicelab serve", description="Run the local voice-API emulator.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="TCP port; 0 picks a free one (default 8765)")
    p.add_argument(
        "--api-key",
        default=None,
        help=f"the accepted key (default: ${KEY_ENV}, else a random key written to --key-file)",
    )
    p.add_argument(
        "--key-file",
        default=None,
        help="where a generated key is written, mode 0600 (default ~/.cache/voicelab/emulator_key)",
    )
    p.add_argument("--engine", choices=ENGINES, default="whisper", help="recognizer (default whisper)")
    p.add_argument("--concurrency", type=int, default=100, help="most simultaneous sessions; 0 disables (default 100)")
    p.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="inject a fault, e.g. reject:429 or drop_after_chunks:20;latency:0.2 (repeatable)",
    )
    p.add_argument(
        "--route-option",
        action="append",
        default=[],
        metavar="PROVIDER:KEY=VALUE",
        help="an option of one provider's route, e.g. pulse:region=us (repeatable; see docs/emulator.md)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log every connection")
    return p


def route_options(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """Parse ``--route-option PROVIDER:KEY=VALUE`` items into `ServerConfig.route_options`.

    Raises:
        ServerConfigError: An item is not of that form.
    """
    out: dict[str, dict[str, str]] = {}
    for item in items:
        provider, sep, rest = item.partition(":")
        key, eq, value = rest.partition("=")
        if not (sep and eq and provider.strip() and key.strip()):
            raise ServerConfigError(f"--route-option {item!r} must look like PROVIDER:KEY=VALUE, e.g. pulse:region=us")
        out.setdefault(provider.strip(), {})[key.strip()] = value.strip()
    return out


def _write_key(key: str, path: str | None) -> Path:
    target = Path(path).expanduser() if path else Path.home() / ".cache" / "voicelab" / "emulator_key"
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return target


async def _run(server: EmulatorServer, stop: asyncio.Event, *, key_note: str) -> None:
    await server.start()
    print(server.banner(key_note=key_note), flush=True)
    print("  Press Ctrl-C to stop.", flush=True)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def serve_command(argv: Sequence[str] | None = None) -> int:
    """Run ``voicelab serve [--host] [--port] [--api-key] [--engine] [--concurrency N] [--fault SPEC …]``.

    Args:
        argv: The arguments after ``serve`` (``None``: ``sys.argv[1:]``).

    Returns:
        The process exit status (0 after Ctrl-C, 2 on bad options or a failed start).
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    key = args.api_key or os.environ.get(KEY_ENV)
    key_note = "given with --api-key" if args.api_key else f"from ${KEY_ENV}"
    if not key:
        key = new_api_key()
        key_note = f"written to {_write_key(key, args.key_file)}"
    try:
        config = ServerConfig.build(
            host=args.host,
            port=args.port,
            api_key=key,
            engine=args.engine,
            concurrency_limit=args.concurrency or None,
            faults=args.fault or None,
            route_options=route_options(args.route_option),
        )
        server = EmulatorServer(config)
        asyncio.run(_run(server, asyncio.Event(), key_note=f"{redact_key(key)}  ({key_note})"))
    except EmulatorError as exc:
        print(f"voicelab serve: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
