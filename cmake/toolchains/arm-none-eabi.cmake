# arm-none-eabi.cmake: CMake toolchain file for bare-metal Arm Cortex-M with the GNU Arm toolchain.
#
#   cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=<mlf_build>/cmake/toolchains/arm-none-eabi.cmake \
#         [-DMLF_ARM_CPU=cortex-m7] [-DMLF_ARM_FLOAT_ABI=soft]
#
# Cache options (inputs):
#   MLF_ARM_CPU               cortex-m0plus | cortex-m3 | cortex-m4 (default) | cortex-m7 | cortex-m33 | cortex-m55
#   MLF_ARM_FLOAT_ABI         auto (default) | soft | softfp | hard. "auto" means hard for CPUs with an FPU
#                             (m4, m7, m33, m55) and soft for m0plus/m3. hard and softfp on an FPU-less CPU
#                             are rejected. After this file runs, MLF_ARM_FLOAT_ABI holds the resolved value.
#   MLF_ARM_FPU               optional -mfpu override (advanced), e.g. fpv5-sp-d16 for a single-precision M7.
#                             Default per CPU: m4 fpv4-sp-d16; m7 fpv5-d16 (the double-precision M7 FPU, which
#                             is what QEMU's cortex-m7 models; pick fpv5-sp-d16 for an SP-only M7 such as
#                             the STM32F74x); m33 fpv5-sp-d16; m55 auto (gcc 12 takes the FPU and MVE from
#                             -mcpu=cortex-m55, and an explicit -mfpu=<name> would turn MVE off).
#   MLF_ARM_TOOLCHAIN_PREFIX  prefix of the tool names, default "arm-none-eabi-" (tools found on PATH).
#                             Give a path for another GNU Arm toolchain, e.g.
#                             /opt/arm-gnu-toolchain-13.2/bin/arm-none-eabi- ; also read from the environment.
#   MLF_QEMU_SYSTEM_ARM       QEMU binary used for CMAKE_CROSSCOMPILING_EMULATOR (default qemu-system-arm).
#
# Variables exported to the project (plain variables, visible after project()):
#   MLF_ARM_CPU, MLF_ARM_FLOAT_ABI (resolved), MLF_ARM_FPU (resolved, "" when soft),
#   MLF_ARM_CPU_FLAGS         list: -mcpu=... -mthumb [-mfpu=...] -mfloat-abi=...
#   MLF_QEMU_MACHINE          QEMU machine that runs code for this CPU (see the table below)
#   CMAKE_CROSSCOMPILING_EMULATOR (cache) qemu-system-arm -M <machine> -nographic
#                             -semihosting-config enable=on,target=native -kernel, so that
#                             add_test(NAME x COMMAND fw) runs firmware under QEMU through ctest, and QEMU's
#                             exit code is the firmware's exit code (semihosting SYS_EXIT_EXTENDED). Set it
#                             yourself (-DCMAKE_CROSSCOMPILING_EMULATOR=...) and it is left alone. Firmware
#                             must be linked for that machine: see cmake/qemu/MLFQemu.cmake (mlf::qemu_support).
#
# Flags go into CMAKE_{C,CXX,ASM}_FLAGS_INIT (CPU flags + -ffunction-sections -fdata-sections, so that
# --gc-sections can drop unused model code) and CMAKE_EXE_LINKER_FLAGS_INIT (CPU flags, which pick
# the matching newlib multilib). No --specs are added here: static libraries need none, and firmware
# gets them from mlf::qemu_support (or from your own board support package).
#
# CMake 3.20 .. 4.x. This file is read several times per configure (and again inside every
# try_compile), so it only sets things and never appends to them.

set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

# --- inputs -----------------------------------------------------------------------------------
set(_mlf_prefix "arm-none-eabi-")
if(DEFINED ENV{MLF_ARM_TOOLCHAIN_PREFIX})
  set(_mlf_prefix "$ENV{MLF_ARM_TOOLCHAIN_PREFIX}")
endif()
set(MLF_ARM_TOOLCHAIN_PREFIX "${_mlf_prefix}" CACHE STRING "Prefix of the GNU Arm tool names (may include a directory)")
set(MLF_ARM_CPU "cortex-m4" CACHE STRING "Target Cortex-M CPU")
set(MLF_ARM_FLOAT_ABI "auto" CACHE STRING "Float ABI: auto, soft, softfp or hard")
set(MLF_ARM_FPU "" CACHE STRING "Override -mfpu (empty: the default for MLF_ARM_CPU)")
set(MLF_QEMU_SYSTEM_ARM "qemu-system-arm" CACHE STRING "qemu-system-arm binary for CMAKE_CROSSCOMPILING_EMULATOR")
mark_as_advanced(MLF_ARM_TOOLCHAIN_PREFIX MLF_ARM_FPU MLF_QEMU_SYSTEM_ARM)

set(_mlf_cpus cortex-m0plus cortex-m3 cortex-m4 cortex-m7 cortex-m33 cortex-m55)
set(_mlf_abis auto soft softfp hard)
set_property(CACHE MLF_ARM_CPU PROPERTY STRINGS ${_mlf_cpus})
set_property(CACHE MLF_ARM_FLOAT_ABI PROPERTY STRINGS ${_mlf_abis})

# list(FIND) rather than IN_LIST: the latter depends on the including project's policy CMP0057.
list(FIND _mlf_cpus "${MLF_ARM_CPU}" _mlf_index)
if(_mlf_index EQUAL -1)
  string(REPLACE ";" ", " _mlf_allowed "${_mlf_cpus}")
  message(FATAL_ERROR "arm-none-eabi.cmake: MLF_ARM_CPU='${MLF_ARM_CPU}' is not supported; allowed: ${_mlf_allowed}")
endif()
list(FIND _mlf_abis "${MLF_ARM_FLOAT_ABI}" _mlf_index)
if(_mlf_index EQUAL -1)
  string(REPLACE ";" ", " _mlf_allowed "${_mlf_abis}")
  message(FATAL_ERROR "arm-none-eabi.cmake: MLF_ARM_FLOAT_ABI='${MLF_ARM_FLOAT_ABI}' is not supported; allowed: ${_mlf_allowed}")
endif()

# --- per-CPU facts: default FPU ("" = no FPU) and the QEMU machine ---------------------------------
# QEMU 7.2 machines and their memory maps are documented in cmake/qemu/MLFQemu.cmake.
if(MLF_ARM_CPU STREQUAL "cortex-m0plus")
  set(_mlf_fpu "")
  # QEMU has no Cortex-M0+ machine. ARMv6-M is a subset of ARMv7-M, so M0+ code runs unchanged on
  # the Cortex-M3 of mps2-an385 (which is more permissive: unaligned access and v7-M-only
  # instructions would not fault there, so this proves function, not ISA conformance).
  set(MLF_QEMU_MACHINE "mps2-an385")
elseif(MLF_ARM_CPU STREQUAL "cortex-m3")
  set(_mlf_fpu "")
  set(MLF_QEMU_MACHINE "mps2-an385")
elseif(MLF_ARM_CPU STREQUAL "cortex-m4")
  set(_mlf_fpu "fpv4-sp-d16")
  set(MLF_QEMU_MACHINE "mps2-an386")
elseif(MLF_ARM_CPU STREQUAL "cortex-m7")
  set(_mlf_fpu "fpv5-d16")
  set(MLF_QEMU_MACHINE "mps2-an500")
elseif(MLF_ARM_CPU STREQUAL "cortex-m33")
  set(_mlf_fpu "fpv5-sp-d16")
  # an505 (single M33, IoTKit) rather than an521 (dual M33): one CPU, and it has 16 MiB of RAM at
  # 0x80000000 for multi-MiB arenas.
  set(MLF_QEMU_MACHINE "mps2-an505")
elseif(MLF_ARM_CPU STREQUAL "cortex-m55")
  set(_mlf_fpu "auto")
  set(MLF_QEMU_MACHINE "mps3-an547")
endif()

# --- resolve the float ABI ------------------------------------------------------------------------
if(MLF_ARM_FLOAT_ABI STREQUAL "auto")
  # A plain variable shadows the "auto" cache entry; try_compile receives the resolved value.
  if(_mlf_fpu STREQUAL "")
    set(MLF_ARM_FLOAT_ABI "soft")
  else()
    set(MLF_ARM_FLOAT_ABI "hard")
  endif()
endif()
if(_mlf_fpu STREQUAL "" AND NOT MLF_ARM_FLOAT_ABI STREQUAL "soft")
  message(FATAL_ERROR "arm-none-eabi.cmake: MLF_ARM_FLOAT_ABI=${MLF_ARM_FLOAT_ABI} needs an FPU, "
    "but ${MLF_ARM_CPU} has none; use MLF_ARM_FLOAT_ABI=soft (or auto) for ${MLF_ARM_CPU}.")
endif()
if(NOT MLF_ARM_FPU STREQUAL "")
  set(_mlf_fpu "${MLF_ARM_FPU}")
endif()

set(MLF_ARM_CPU_FLAGS "-mcpu=${MLF_ARM_CPU}" "-mthumb")
if(MLF_ARM_FLOAT_ABI STREQUAL "soft")
  set(MLF_ARM_FPU "")   # soft: no FPU or MVE instructions at all (-mfpu would be ignored)
else()
  set(MLF_ARM_FPU "${_mlf_fpu}")
  list(APPEND MLF_ARM_CPU_FLAGS "-mfpu=${MLF_ARM_FPU}")
endif()
list(APPEND MLF_ARM_CPU_FLAGS "-mfloat-abi=${MLF_ARM_FLOAT_ABI}")

# CMAKE_<LANG>_FLAGS are cached from the *_INIT values on the first configure only, so a changed
# CPU or float ABI would silently keep the old flags: refuse instead.
if(DEFINED _MLF_CPU_FLAGS_USED AND NOT "${_MLF_CPU_FLAGS_USED}" STREQUAL "${MLF_ARM_CPU_FLAGS}")
  message(FATAL_ERROR "arm-none-eabi.cmake: this build directory was configured for '${_MLF_CPU_FLAGS_USED}', "
    "now '${MLF_ARM_CPU_FLAGS}' is asked for. Use a new build directory (or cmake --fresh).")
endif()
set(_MLF_CPU_FLAGS_USED "${MLF_ARM_CPU_FLAGS}" CACHE INTERNAL "CPU flags of the first configure")

# Re-run this file with the same choices inside try_compile (check_c_source_compiles etc.).
set(CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MLF_ARM_CPU MLF_ARM_FLOAT_ABI MLF_ARM_FPU MLF_ARM_TOOLCHAIN_PREFIX)
# The compiler cannot link a program without a board's startup code and specs: probe with a library.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

# --- compilers and flags --------------------------------------------------------------------------
set(CMAKE_C_COMPILER "${MLF_ARM_TOOLCHAIN_PREFIX}gcc")
set(CMAKE_CXX_COMPILER "${MLF_ARM_TOOLCHAIN_PREFIX}g++")
set(CMAKE_ASM_COMPILER "${MLF_ARM_TOOLCHAIN_PREFIX}gcc")

string(REPLACE ";" " " _mlf_flags "${MLF_ARM_CPU_FLAGS}")
set(CMAKE_C_FLAGS_INIT "${_mlf_flags} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${_mlf_flags} -ffunction-sections -fdata-sections")
set(CMAKE_ASM_FLAGS_INIT "${_mlf_flags}")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_mlf_flags}")

# GNU ar writes an archive's symbol index itself (unless given S), so CMake's default ranlib
# after `ar qc` rewrote every static library a second time, to the same bytes (binutils 2.40):
# at 64 MiB of parameters that was a quarter of a model library's build (bench/README.md).
foreach(_mlf_lang C CXX ASM)
  if(NOT DEFINED CMAKE_${_mlf_lang}_ARCHIVE_FINISH)
    set(CMAKE_${_mlf_lang}_ARCHIVE_FINISH "")
  endif()
endforeach()

# Programs (code generators, QEMU) come from the host; libraries and headers from the target.
# With CMAKE_FIND_ROOT_PATH empty (the default) ONLY behaves like a normal search. Packages: BOTH,
# because architecture-independent CMake packages (mlf_build's own config) live on the host.
foreach(_mlf_mode PROGRAM:NEVER LIBRARY:ONLY INCLUDE:ONLY PACKAGE:BOTH)
  string(REPLACE ":" ";" _mlf_mode "${_mlf_mode}")
  list(GET _mlf_mode 0 _mlf_kind)
  list(GET _mlf_mode 1 _mlf_value)
  if(NOT DEFINED CMAKE_FIND_ROOT_PATH_MODE_${_mlf_kind})
    set(CMAKE_FIND_ROOT_PATH_MODE_${_mlf_kind} ${_mlf_value})
  endif()
endforeach()

# --- QEMU as the emulator for ctest / add_custom_command ---------------------------------------------
# Keep a user-given emulator; replace one we set ourselves when the CPU (hence machine) changes.
set(_mlf_emulator "${MLF_QEMU_SYSTEM_ARM}" -M "${MLF_QEMU_MACHINE}" -nographic
    -semihosting-config "enable=on,target=native" -kernel)
if(NOT DEFINED CMAKE_CROSSCOMPILING_EMULATOR OR "${CMAKE_CROSSCOMPILING_EMULATOR}" STREQUAL "${_MLF_AUTO_EMULATOR}")
  set(CMAKE_CROSSCOMPILING_EMULATOR "${_mlf_emulator}" CACHE STRING
      "Runs target executables (firmware ELF appended last)" FORCE)
  set(_MLF_AUTO_EMULATOR "${_mlf_emulator}" CACHE INTERNAL "emulator last set by arm-none-eabi.cmake")
endif()
