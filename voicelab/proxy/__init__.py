"""The tap: a transparent recording proxy between any app and a voice API (or the emulator).

The second I/O package next to `voicelab.client`: it forwards another client's WebSocket traffic
unchanged, records each connection in a `voicelab.Recording` on one clock, can add the API key for a
browser page (``inject_auth``) and can break the live connection with the emulator's faults::

    import voicelab as vl

    with vl.serve(engine="sphinx") as server, vl.tap("pulse", server.url) as tap:
        url = tap.url_for()            # point the app here instead of the API's host
        ...                            # the app streams
        session = tap.session()        # the latest connection: .recording, .transcript, .metrics()

See docs/tap.md.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from voicelab.tap.background import Tap, tap
from voicelab.tap.errors import NoTapSessionError, TapConfigError, TapError, TapStartError
from voicelab.tap.session import TapSession

__all__ = ["NoTapSessionError", "Tap", "TapConfigError", "TapError", "TapSession", "TapStartError", "tap"]


class _CallableModule(types.ModuleType):
    """Makes ``voicelab.tap`` both this package and the `tap` function.

    Importing the package makes Python bind ``voicelab.tap`` to it, so calling the package starts a tap.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Tap:
        return tap(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
