# MLFQemu.cmake: make bare-metal firmware that runs under qemu-system-arm (QEMU 7.2 tested).
#
# Usage (configure with cmake/toolchains/arm-none-eabi.cmake as CMAKE_TOOLCHAIN_FILE):
#   project(demo LANGUAGES C)
#   include(<mlf_build>/cmake/qemu/MLFQemu.cmake)
#   add_executable(fw main.c)                         # plain int main(void); its return value is
#   target_link_libraries(fw PRIVATE mlf::qemu_support) # QEMU's exit code
#   enable_testing()
#   add_test(NAME fw COMMAND fw)                      # ctest runs it via CMAKE_CROSSCOMPILING_EMULATOR
# or by hand:  qemu-system-arm -M ${MLF_QEMU_MACHINE} -nographic \
#                -semihosting-config enable=on,target=native -kernel fw   (wrap it in `timeout`)
#
# Target mlf::qemu_support (OBJECT library mlf_qemu_support; link it straight into each executable,
# an OBJECT library's object reaches direct dependents only). It brings:
#   - startup.c: vector table at the machine's reset VTOR, Reset_Handler (FPU/MVE on, .data copy,
#     .bss zeroing, semihosting stdio, constructors, exit(main())), faults -> message + exit 99.
#   - the linker script for ${MLF_QEMU_MACHINE} (plus -L to this folder for its INCLUDE).
#   - --specs=nano.specs (compile and link: newlib-nano) and --specs=rdimon.specs (link: libgloss
#     "rdimon", i.e. semihosting for printf/stdin/files/exit/time).
#   - -Wl,--gc-sections (drop unused functions/data; the toolchain compiles with
#     -ffunction-sections -fdata-sections).
#   - -Wl,--undefined=_printf_float: newlib-nano's printf leaves out %f/%e/%g unless the symbol
#     _printf_float is pulled in; without it "%f" prints nothing. (Costs ~10 KiB of flash.)
#     scanf's %f would need _scanf_float the same way; not added.
#   - a map file <binary dir>/<target>.map, unless MLF_QEMU_MAP_FILE is OFF.
#   - LINK_DEPENDS on the linker scripts, so editing them relinks.
#
# Machines and memory maps (QEMU hw/arm/mps2.c, hw/arm/mps2-tz.c). FLASH holds the vector table,
# code, all .rodata* (so `const` weights in `.rodata.<anything>`, e.g. TVM's .rodata.tvm) and the
# .data image; RAM holds .data, all .bss* / COMMON (so arenas in `.bss.<anything>`, e.g. TVM's
# .bss.noinit.tvm), then the heap, then a 64 KiB stack at the top of RAM:
#   CPU            machine      FLASH                          RAM                      script
#   cortex-m0plus  mps2-an385   0x00000000 4 MiB SSRAM1        0x21000000 16 MiB PSRAM  mlf_qemu_mps2_an385_an386.ld
#   cortex-m3      mps2-an385   0x00000000 4 MiB SSRAM1        0x21000000 16 MiB PSRAM  mlf_qemu_mps2_an385_an386.ld
#   cortex-m4      mps2-an386   0x00000000 4 MiB SSRAM1        0x21000000 16 MiB PSRAM  mlf_qemu_mps2_an385_an386.ld
#   cortex-m7      mps2-an500   0x00000000 4 MiB SSRAM1        0x60000000 16 MiB PSRAM  mlf_qemu_mps2_an500.ld
#   cortex-m33     mps2-an505   0x10000000 4 MiB SSRAM1 (S)    0x80000000 16 MiB PSRAM  mlf_qemu_mps2_an505.ld
#   cortex-m55     mps3-an547   0x28000000 8 MiB QSPI ROM,     0x60000000 16 MiB DDR    mlf_qemu_mps3_an547.ld
#                               vectors: 0x00000000 ITCM
# (an500's PSRAM is at 0x60000000, not 0x21000000 as on an385/an386. M0+ code runs on the an385's
# Cortex-M3. The TrustZone machines start Secure with the SAU off, so all memory is Secure.)
# .bss gets its own ELF load segment (PHDRS): QEMU zero-fills it in RAM, so a 14 MiB .bss works.
# Heap: from `end` (after .bss) up to the stack's reserved 64 KiB; malloc returns NULL beyond.
#
# Variables (set before include(), or -D...):
#   MLF_QEMU_LINKER_SCRIPT  use this linker script instead of the one for MLF_QEMU_MACHINE (it may
#                           INCLUDE mlf_qemu_sections.ld after defining VECTORS/FLASH/RAM regions)
#   MLF_QEMU_MAP_FILE       ON (default) / OFF: write <target>.map
#   MLF_QEMU_STACK_SIZE     bytes reserved for the stack below the top of RAM (default 65536)
# Set by this file: MLF_QEMU_DIR (this folder), MLF_QEMU_LINKER_SCRIPT (the script in use).
#
# Semihosting notes: stdout/stderr of the firmware are QEMU's stdout/stderr; exit(N) / return N from
# main -> QEMU exits N (SYS_EXIT_EXTENDED); abort() -> 1; fault -> 99; RAM missing at the address
# the linker script gives (script for another machine) -> 98. Arguments after the ELF on QEMU's
# command line are not passed to main (argc is 1); ctest's TIMEOUT property or `timeout` guards
# against firmware that spins forever.

include_guard(GLOBAL)

if(NOT CMAKE_CROSSCOMPILING OR NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^arm" OR NOT DEFINED MLF_QEMU_MACHINE)
  message(FATAL_ERROR "MLFQemu.cmake builds Cortex-M firmware for QEMU and needs the arm-none-eabi "
    "toolchain: configure with -DCMAKE_TOOLCHAIN_FILE=${CMAKE_CURRENT_LIST_DIR}/../toolchains/arm-none-eabi.cmake "
    "(now: CMAKE_CROSSCOMPILING='${CMAKE_CROSSCOMPILING}', CMAKE_SYSTEM_PROCESSOR='${CMAKE_SYSTEM_PROCESSOR}', "
    "MLF_QEMU_MACHINE='${MLF_QEMU_MACHINE}').")
endif()
if(NOT CMAKE_C_COMPILER_LOADED)
  message(FATAL_ERROR "MLFQemu.cmake compiles startup.c: enable C first (project(<name> LANGUAGES C ...)).")
endif()

set(MLF_QEMU_DIR "${CMAKE_CURRENT_LIST_DIR}")
option(MLF_QEMU_MAP_FILE "Write <target>.map next to each firmware linked with mlf::qemu_support" ON)

if(NOT MLF_QEMU_LINKER_SCRIPT)
  if(MLF_QEMU_MACHINE STREQUAL "mps2-an385" OR MLF_QEMU_MACHINE STREQUAL "mps2-an386")
    set(MLF_QEMU_LINKER_SCRIPT "${MLF_QEMU_DIR}/mlf_qemu_mps2_an385_an386.ld")
  elseif(MLF_QEMU_MACHINE STREQUAL "mps2-an500")
    set(MLF_QEMU_LINKER_SCRIPT "${MLF_QEMU_DIR}/mlf_qemu_mps2_an500.ld")
  elseif(MLF_QEMU_MACHINE STREQUAL "mps2-an505")
    set(MLF_QEMU_LINKER_SCRIPT "${MLF_QEMU_DIR}/mlf_qemu_mps2_an505.ld")
  elseif(MLF_QEMU_MACHINE STREQUAL "mps3-an547")
    set(MLF_QEMU_LINKER_SCRIPT "${MLF_QEMU_DIR}/mlf_qemu_mps3_an547.ld")
  else()
    message(FATAL_ERROR "MLFQemu.cmake: no linker script for QEMU machine '${MLF_QEMU_MACHINE}' "
      "(known: mps2-an385, mps2-an386, mps2-an500, mps2-an505, mps3-an547); set MLF_QEMU_LINKER_SCRIPT.")
  endif()
endif()

add_library(mlf_qemu_support OBJECT "${MLF_QEMU_DIR}/startup.c")
add_library(mlf::qemu_support ALIAS mlf_qemu_support)
set_target_properties(mlf_qemu_support PROPERTIES C_STANDARD 11 C_EXTENSIONS ON)
# -O2 whatever the build type: at -O0 Reset_Handler's locals would live on the stack, which its RAM
# probe must not rely on (the stack is in the RAM being probed; at -O0 a wrong script hangs).
target_compile_options(mlf_qemu_support PRIVATE -O2 -Wall -Wextra PUBLIC --specs=nano.specs)
target_link_options(mlf_qemu_support INTERFACE
  "-T${MLF_QEMU_LINKER_SCRIPT}" "-L${MLF_QEMU_DIR}"
  --specs=nano.specs --specs=rdimon.specs
  "LINKER:--gc-sections" "LINKER:--undefined=_printf_float"
  "$<$<BOOL:${MLF_QEMU_MAP_FILE}>:-Wl,-Map=$<TARGET_PROPERTY:BINARY_DIR>/$<TARGET_PROPERTY:NAME>.map>")
if(DEFINED MLF_QEMU_STACK_SIZE)
  target_link_options(mlf_qemu_support INTERFACE "LINKER:--defsym=__mlf_stack_size=${MLF_QEMU_STACK_SIZE}")
endif()
set_property(TARGET mlf_qemu_support APPEND PROPERTY INTERFACE_LINK_DEPENDS
  "${MLF_QEMU_LINKER_SCRIPT}" "${MLF_QEMU_DIR}/mlf_qemu_sections.ld")

# mlf_qemu_place_sections(<executable> <model library>...)
#
# Places each library's WEIGHTS_SECTION in FLASH and ARENA_SECTION in RAM, as output sections of
# their own (readelf shows them), for firmware linked with mlf::qemu_support: writes this
# executable's versions of the linker script's hook files (mlf_qemu_regions.ld,
# mlf_qemu_flash_sections.ld, mlf_qemu_ram_sections.ld, empty by default) that define the
# regions <T>_WEIGHTS_REGION / <T>_ARENA_REGION and INCLUDE the libraries' fragments
# (target properties MLF_WEIGHTS_FRAGMENT / MLF_ARENA_FRAGMENT), and puts them first on the
# linker's search path.
function(mlf_qemu_place_sections exe)
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/${exe}_mlf_sections")
  set(regions "")
  set(flash "")
  set(ram "")
  foreach(lib IN LISTS ARGN)
    if(NOT TARGET ${lib})
      message(FATAL_ERROR "mlf_qemu_place_sections(${exe}): ${lib} is not a target")
    endif()
    string(MAKE_C_IDENTIFIER "${lib}" up)
    string(TOUPPER "${up}" up)
    string(APPEND regions "REGION_ALIAS(\"${up}_WEIGHTS_REGION\", FLASH);\nREGION_ALIAS(\"${up}_ARENA_REGION\", RAM);\n")
    set(w "$<TARGET_PROPERTY:${lib},MLF_WEIGHTS_FRAGMENT>")
    set(a "$<TARGET_PROPERTY:${lib},MLF_ARENA_FRAGMENT>")
    string(APPEND flash "$<$<BOOL:${w}>:INCLUDE \"${w}\"\n>")
    string(APPEND ram "$<$<BOOL:${a}>:INCLUDE \"${a}\"\n>")
    set_property(TARGET ${exe} APPEND PROPERTY LINK_DEPENDS "$<$<BOOL:${w}>:${w}>" "$<$<BOOL:${a}>:${a}>")
  endforeach()
  file(WRITE "${dir}/mlf_qemu_regions.ld" "${regions}")
  file(GENERATE OUTPUT "${dir}/mlf_qemu_flash_sections.ld" CONTENT "${flash}")
  file(GENERATE OUTPUT "${dir}/mlf_qemu_ram_sections.ld" CONTENT "${ram}")
  # Before mlf::qemu_support's -L, so these hook files win over its empty defaults.
  target_link_options(${exe} BEFORE PRIVATE "-L${dir}")
endfunction()
