# Run after Zephyr links zephyr.elf (extra_post_build_commands): where did each model's static
# arena end up? The configure-time message says where the section name should put it; this
# reads the linked image, so a linker script that placed it elsewhere shows.
#
#   cmake -DELF=<zephyr.elf> -DNM=<nm> -DARENAS=<file: "<target> <symbol>" lines>
#         -DRAM_BASE=<address> -DRAM_KIB=<KiB> -DFLASH_BASE=<address> -DFLASH_KIB=<KiB>
#         -P mlf_zephyr_arenas.cmake
#
# Prints "mlf_build: <target>: arena <n> bytes at <address>, in RAM" (or another memory) per
# arena, and fails when an arena lies in flash, which the model cannot write. An arena missing
# from the image is a model the application never calls: nothing references the library, so
# the linker left it out (an archive member nobody needs, or --gc-sections); that is reported,
# not an error (e.g. an application that only prints <T>_WORKSPACE_SIZE).

file(STRINGS "${ARENAS}" arenas)
if(NOT arenas OR NOT NM)
  return()
endif()
execute_process(COMMAND "${NM}" -S "${ELF}" OUTPUT_VARIABLE symbols RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "mlf_build: cannot read the symbols of ${ELF} with ${NM}")
endif()

# [base, base + KiB * 1024) of a memory, as numbers math(EXPR) compares; empty when unknown.
function(_mlf_memory out base kib)
  set(${out} "" PARENT_SCOPE)
  if(NOT base STREQUAL "" AND NOT kib STREQUAL "")
    math(EXPR end "${base} + ${kib} * 1024")
    math(EXPR base "${base}")
    set(${out} "${base};${end}" PARENT_SCOPE)
  endif()
endfunction()

function(_mlf_within out address memory)
  set(${out} FALSE PARENT_SCOPE)
  if(memory)
    list(GET memory 0 start)
    list(GET memory 1 end)
    if(address GREATER_EQUAL start AND address LESS end)
      set(${out} TRUE PARENT_SCOPE)
    endif()
  endif()
endfunction()

_mlf_memory(ram "${RAM_BASE}" "${RAM_KIB}")
_mlf_memory(flash "${FLASH_BASE}" "${FLASH_KIB}")
foreach(line IN LISTS arenas)
  separate_arguments(fields UNIX_COMMAND "${line}")
  list(GET fields 0 target)
  list(GET fields 1 symbol)
  if(NOT symbols MATCHES "(^|\n)([0-9a-fA-F]+) ([0-9a-fA-F]+) [a-zA-Z] ${symbol}(\n|$)")
    message("mlf_build: ${target}: not linked (no ${symbol} in ${ELF}): the application calls "
      "none of the model's functions, so the linker left the model out")
    continue()
  endif()
  set(hex "${CMAKE_MATCH_2}")
  math(EXPR address "0x${hex}")
  math(EXPR size "0x${CMAKE_MATCH_3}")
  _mlf_within(in_ram ${address} "${ram}")
  _mlf_within(in_flash ${address} "${flash}")
  if(in_ram)
    set(where "RAM")
  elseif(in_flash)
    message(FATAL_ERROR "mlf_build: ${target}: the arena (${size} bytes) is at 0x${hex}, in flash, "
      "which the model cannot write; place its section in RAM")
  else()
    set(where "outside RAM and flash (another memory region)")
  endif()
  message("mlf_build: ${target}: arena ${size} bytes at 0x${hex}, in ${where}")
endforeach()
