"""The tap (`voicelab.tap`): a transparent recording proxy between any app and a voice API (or the emulator).

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

from voicelab.proxy.background import Tap, tap
from voicelab.proxy.errors import NoTapSessionError, TapConfigError, TapError, TapStartError
from voicelab.proxy.session import TapSession

__all__ = ["NoTapSessionError", "Tap", "TapConfigError", "TapError", "TapSession", "TapStartError", "tap"]
