#!/usr/bin/env bash
# The project's lint, type and format gates; .ci/run fails when any of them fails.
#
#   tools/lint.sh     (expects ruff, mypy on PATH — tests/run.sh's venv has them — and
#                      clang-format; fetches buildifier from the npm registry when missing)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
status=0
gate() {
  echo "== $*"
  "$@" || { echo "FAILED: $*" >&2; status=1; }
}

gate ruff check .
gate ruff format --check .
gate mypy --strict mlf_build

# The project's own C; generated files (the example's reference values, the goldens of
# tests/golden, which hold the generator's output byte for byte) are excluded.
mapfile -t c_files < <(git ls-files '*.c' '*.h' | grep -v -e '^examples/model/waveform_cases.h$' -e '^tests/golden/')
gate clang-format --dry-run -Werror "${c_files[@]}"

mapfile -t bazel_files < <(git ls-files 'BUILD' 'BUILD.bazel' 'WORKSPACE' 'WORKSPACE.bazel' 'MODULE.bazel' '*.bzl' \
  '**/BUILD' '**/BUILD.bazel' '**/WORKSPACE' '**/*.bzl')
if [ ${#bazel_files[@]} -gt 0 ]; then
  buildifier="$(command -v buildifier || true)"
  if [ -z "$buildifier" ]; then
    npm install --silent --no-audit --no-fund --prefix .cache/buildifier @bazel/buildifier >/dev/null
    buildifier=.cache/buildifier/node_modules/.bin/buildifier
  fi
  gate "$buildifier" -lint=warn -mode=check "${bazel_files[@]}"
fi
exit $status
