#!/usr/bin/env bash
# Install everything the test suite needs (Debian packages and .venv-test), then lint, type-check and test.
# Idempotent: re-running it reuses what is installed. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"
need_apt "${APT_PACKAGES[@]}" chromium   # chromium: the real-browser widget tests
make_venv .venv-test "test,emulator,notebook"
V=.venv-test/bin
echo "== ruff";  $V/ruff check .
echo "== mypy";  $V/mypy
echo "== pytest"
set +e
$V/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi
exit "$rc"
