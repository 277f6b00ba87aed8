"""Writing a file whole or not at all: a temporary sibling, renamed over the destination when complete.

Used for every file voicelab writes at a user's request (audio, recordings' support bundles, the CLI's
outputs): a crash or an error leaves no partial file, and the result has the permissions an ordinary
``open(path, "w")`` would give it (``tempfile.mkstemp`` alone would leave it readable by its owner only).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a temporary path next to ``dest``; on success it replaces ``dest``, on an exception it is removed.

    Args:
        dest: The file to write. Its directory must exist.

    Yields:
        The temporary path to write (a ``.<name>.*.part`` file in the same directory).
    """
    target = Path(dest)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
