#!/usr/bin/env bash
# The README's second command: set up a fresh Debian machine and run the test suite.
#
#   bash tests/run.sh [pytest arguments...]
#
# Installs what is missing (system packages, .venv with mlf_build and the test tools, CMake
# 3.20 and 4.x from PyPI for the compatibility test, Zephyr for tests/test_zephyr.py), then
# runs pytest. Zephyr: ZEPHYR_BASE when set, else ../shared/zephyr set up once into
# ~/.cache/mlf_build/zephyr-<hash> and reused (tests/zephyr_env.py, docs/zephyr.md#tests).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$("$repo/tools/bootstrap.sh" --tests)"

# Other CMake versions, for tests/test_cmake.py::test_other_cmake_versions.
cmakes=()
for spec in "3.20:cmake==3.20.*" "4:cmake>=4,<5"; do
  dir="$repo/.cache/cmake-${spec%%:*}"
  if [ ! -x "$dir/cmake/data/bin/cmake" ]; then
    "$bin/pip" install --quiet --disable-pip-version-check --target "$dir" "${spec#*:}" >&2
  fi
  cmakes+=("$dir/cmake/data/bin/cmake")
done
export MLF_TEST_CMAKES="$(IFS=:; echo "${cmakes[*]}")"

export PATH="$bin:$PATH"
cd "$repo"
# Prints where Zephyr comes from. A failed set-up stops CI here; elsewhere the Zephyr tests
# report it and the rest runs.
"$bin/python" -m tests.zephyr_env || [ -z "${CI:-}" ]
exec "$bin/python" -m pytest -q -ra "$@"
