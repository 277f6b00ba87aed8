#!/usr/bin/env bash
# Install what the browser tests (tests/browser/) need: Debian's chromium and, into a virtual environment,
# jupyterlab + ipywidgets + anywidget + nbclient + playwright (the Python package only).
# Idempotent: re-running it installs nothing that is already there.
#
# Usage: scripts/browser_deps.sh [VENV_DIR]     (default: .venv-test, the venv scripts/test.sh uses)
#
# Never runs `playwright install`: the tests drive /usr/bin/chromium through executable_path, so Playwright's
# own browser download (and its version pinning) is not needed.
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
VENV="${1:-.venv-test}"
PIP_PACKAGES=("jupyterlab>=4.2" "ipywidgets>=8.1" "anywidget>=0.9" "nbclient>=0.10" "playwright>=1.45" "pytest>=8")

t0=$SECONDS
need_apt chromium
[ -x "$VENV/bin/python" ] || make_venv "$VENV" "test,emulator,notebook"
if ! "$VENV/bin/python" - "${PIP_PACKAGES[@]}" <<'PY'
import sys
from importlib.metadata import PackageNotFoundError, version
from packaging.requirements import Requirement
for spec in sys.argv[1:]:
    req = Requirement(spec)
    try:
        if not req.specifier.contains(version(req.name), prereleases=True):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
  echo "voicelab: installing into $VENV: ${PIP_PACKAGES[*]}"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "${PIP_PACKAGES[@]}"
fi
echo "voicelab: browser test dependencies ready ($(/usr/bin/chromium --version 2>/dev/null | head -1);" \
     "playwright $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("playwright"))')) in $((SECONDS - t0)) s"
