#!/usr/bin/env bash
# Install voicelab with its notebook extras (Debian packages and .venv-lab), then open JupyterLab on notebooks/.
# Idempotent: re-running it reuses what is installed. Extra arguments go to jupyter lab.
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
need_apt "${APT_PACKAGES[@]}"
make_venv .venv-lab "notebook,emulator"
exec .venv-lab/bin/jupyter lab --notebook-dir=notebooks "$@"
