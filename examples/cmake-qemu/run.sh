#!/usr/bin/env bash
# The README's first command: set up a fresh Debian machine, build the bundled example model
# into Cortex-M3 and Cortex-M4F firmware with CMake, and run both under QEMU. Exits 0 only when
# every output matches the numpy reference on both CPUs.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="$("$repo/tools/bootstrap.sh")"
cmakedir="$("$bin/mlf-build" --cmakedir)"

for cpu in cortex-m3:mps2-an385 cortex-m4:mps2-an386; do
  name="${cpu%%:*}"
  machine="${cpu##*:}"
  build="$repo/build/example-$name"
  echo "== $name: configure and build ($build)"
  cmake -S "$repo/examples/cmake-qemu" -B "$build" -G Ninja \
    -DCMAKE_TOOLCHAIN_FILE="$cmakedir/toolchains/arm-none-eabi.cmake" -DMLF_ARM_CPU="$name" \
    -DCMAKE_PREFIX_PATH="$cmakedir" -DCMAKE_BUILD_TYPE=MinSizeRel >/dev/null
  cmake --build "$build"
  echo "== $name: run on qemu-system-arm -M $machine"
  timeout 60 qemu-system-arm -M "$machine" -nographic -semihosting-config enable=on,target=native \
    -kernel "$build/waveform_demo.elf"
done
echo "== example passed on Cortex-M3 and Cortex-M4F"
