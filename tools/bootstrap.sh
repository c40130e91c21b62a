#!/usr/bin/env bash
# Prepares a Debian/Ubuntu machine for mlf_build and prints the venv's bin directory.
#
#   tools/bootstrap.sh [--tests]
#
# Installs the system packages that are missing (apt-get, through sudo when not root), then
# creates .venv in the repository and installs mlf_build into it (with --tests: editable, with
# the test and lint tools). Safe to run again: it only does what is not done yet.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MLF_VENV:-$repo/.venv}"
with_tests=0
[ "${1:-}" = "--tests" ] && with_tests=1

# Tool -> Debian package. Bazel, clang-format, dtc and ccache are only needed by the tests.
declare -A packages=(
  [arm-none-eabi-gcc]=gcc-arm-none-eabi
  [qemu-system-arm]=qemu-system-arm
  [ninja]=ninja-build
  [cmake]=cmake
  [gcc]=gcc
)
if [ "$with_tests" = 1 ]; then
  packages[bazel]=bazel-bootstrap
  packages[clang-format]=clang-format
  packages[dtc]=device-tree-compiler  # Zephyr's builds (tests/test_zephyr.py)
  packages[ccache]=ccache             # tests/test_team_builds.py
  packages[chromium]=chromium         # the report's browser test (tests/test_report.py),
  packages[chromedriver]=chromium-driver  # headless Chromium driven by selenium
fi
missing=()
for tool in "${!packages[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${packages[$tool]}")
done
# newlib (the C library for arm-none-eabi) has no command to look for.
[ -e /usr/lib/arm-none-eabi/lib/libc.a ] || missing+=(libnewlib-arm-none-eabi)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "bootstrap: installing ${missing[*]}" >&2
  $sudo apt-get update >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}" >&2
fi

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
fi
if [ "$with_tests" = 1 ]; then
  "$venv/bin/pip" install --quiet --disable-pip-version-check -e "$repo[test,lint]" >&2
else
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$repo" >&2
fi
echo "$venv/bin"
