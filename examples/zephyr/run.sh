#!/usr/bin/env bash
# Build examples/zephyr for qemu_cortex_m3 and mps2/an521/cpu0 (Cortex-M33) and run both under QEMU.
# Exits 0 only when every output matches the numpy reference on both boards.
#
# Needs a Zephyr environment: ZEPHYR_BASE, Zephyr's Python first on PATH, and (outside a west
# workspace) ZEPHYR_MODULES="<cmsis_6>;<picolibc>". Toolchain default: Debian's arm-none-eabi-gcc
# (ZEPHYR_TOOLCHAIN_VARIANT=gnuarmemb, GNUARMEMB_TOOLCHAIN_PATH=/usr). See docs/zephyr.md.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
: "${ZEPHYR_BASE:?set ZEPHYR_BASE to a Zephyr tree}"
export ZEPHYR_TOOLCHAIN_VARIANT="${ZEPHYR_TOOLCHAIN_VARIANT:-gnuarmemb}"
export GNUARMEMB_TOOLCHAIN_PATH="${GNUARMEMB_TOOLCHAIN_PATH:-/usr}"

for spec in qemu_cortex_m3:lm3s6965evb:cortex-m3 mps2/an521/cpu0:mps2-an521:cortex-m33; do
  IFS=: read -r board machine cpu <<<"$spec"
  build="$repo/build/zephyr-${board//\//_}"
  echo "== $board: configure and build ($build)"
  mkdir -p "$build"
  { cmake -GNinja -DBOARD="$board" -S "$repo/examples/zephyr" -B "$build" \
      ${ZEPHYR_MODULES:+"-DZEPHYR_MODULES=$ZEPHYR_MODULES"} && ninja -C "$build"; } >"$build/log.txt" 2>&1 \
    || { tail -40 "$build/log.txt"; exit 1; }
  echo "== $board: run on qemu-system-arm -M $machine"
  timeout 60 qemu-system-arm -M "$machine" -cpu "$cpu" -nographic \
    -semihosting-config enable=on,target=native -kernel "$build/zephyr/zephyr.elf" </dev/null
done
echo "== example passed on qemu_cortex_m3 and mps2/an521/cpu0"
