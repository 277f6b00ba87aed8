#!/usr/bin/env bash
# Install voicelab with its notebook and emulator extras (Debian packages and .venv-lab), then open JupyterLab
# on notebooks/ with the tutorials index, notebooks/README.md (the tutorials start the local emulator: no API key needed).
# Idempotent: re-running it reuses what is installed. Extra arguments go to jupyter lab.
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
need_apt "${APT_PACKAGES[@]}"
make_venv .venv-lab "notebook,emulator"
ROOT_FLAG=(); [ "$(id -u)" -ne 0 ] || ROOT_FLAG=(--allow-root)   # JupyterLab refuses to run as root without it
# scripts/lab-settings/overrides.json: Markdown files open rendered (the index's links work), no news or update checks
exec .venv-lab/bin/jupyter lab --notebook-dir=notebooks --LabApp.default_url=/lab/tree/README.md \
  --LabApp.app_settings_dir="$PWD/scripts/lab-settings" \
  "${ROOT_FLAG[@]}" "$@"
