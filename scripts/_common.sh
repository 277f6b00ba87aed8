# Shared set-up steps for scripts/lab.sh and scripts/test.sh (sourced, not run).
# Installs Debian packages when missing, then a virtual environment with voicelab in it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

APT_PACKAGES=(espeak-ng sox libsox-fmt-all libopus0 libsndfile1)

need_apt() {
  local missing=()
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p"); done
  if ((${#missing[@]})); then
    local SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    echo "voicelab: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

make_venv() {  # make_venv DIR EXTRAS
  local dir="$1" extras="$2"
  local py="${PYTHON:-python3}"
  "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "voicelab needs Python >= 3.11 ($py is $("$py" -V))"; exit 2; }
  [ -x "$dir/bin/python" ] || "$py" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$dir/bin/python" -m pip install -q --disable-pip-version-check -e ".[${extras}]"
}
