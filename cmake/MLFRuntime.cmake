# add_mlf_runtime(): the runtime every mlf_build model library links, built once per project.
#
#   add_mlf_runtime([THREAD_LOCAL <storage-class>])
#
#   THREAD_LOCAL  storage class for the runtime's per-run state, e.g. _Thread_local or __thread,
#                 so that threads may run (different) models concurrently. Default: none (one
#                 run at a time; a nested run returns MLF_ERR_BUSY).
#
# Creates the static library target mlf_runtime and its alias mlf::runtime. add_mlf_library()
# calls add_mlf_runtime() itself when mlf::runtime does not exist yet, so call it only to pass
# options, and before the first add_mlf_library(). However many models a firmware holds, they
# share this one runtime.

include_guard(GLOBAL)

function(add_mlf_runtime)
  cmake_parse_arguments(PARSE_ARGV 0 ARG "" "THREAD_LOCAL" "")
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "add_mlf_runtime: unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(TARGET mlf_runtime)
    message(FATAL_ERROR "add_mlf_runtime: mlf::runtime exists already; call add_mlf_runtime() "
      "once, before the first add_mlf_library()")
  endif()
  if(NOT ARG_THREAD_LOCAL AND MLF_BUILD_DEFAULT_THREAD_LOCAL)  # platform default (Zephyr Kconfig)
    set(ARG_THREAD_LOCAL "${MLF_BUILD_DEFAULT_THREAD_LOCAL}")
  endif()
  set(_dir "${MLF_BUILD_RUNTIME_DIR}")
  add_library(mlf_runtime STATIC
    "${_dir}/src/mlf_arena.c" "${_dir}/src/mlf_graph.c" "${_dir}/src/mlf_tvm_abi.c"
    "${_dir}/src/mlf_tvm_backend.c")
  add_library(mlf::runtime ALIAS mlf_runtime)
  target_include_directories(mlf_runtime PUBLIC "$<BUILD_INTERFACE:${_dir}/include>")
  set_target_properties(mlf_runtime PROPERTIES C_STANDARD 99 C_STANDARD_REQUIRED ON C_EXTENSIONS ON
   )
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(mlf_runtime PRIVATE -Wall -Wextra -ffunction-sections -fdata-sections
      $<$<BOOL:${MLF_BUILD_WERROR}>:-Werror>)
  endif()
  if(MLF_BUILD_COMPILE_INTERFACE)
    target_link_libraries(mlf_runtime PRIVATE ${MLF_BUILD_COMPILE_INTERFACE})
  endif()
  if(ARG_THREAD_LOCAL)
    target_compile_definitions(mlf_runtime PRIVATE "MLF_RUNTIME_THREAD_LOCAL=${ARG_THREAD_LOCAL}")
  endif()
  # Generated operators call libm (expf, tanhf, ...); bare-metal newlib and glibc keep it apart.
  if(NOT MSVC AND NOT APPLE AND NOT MLF_NO_LIBM)
    target_link_libraries(mlf_runtime PUBLIC m)
  endif()
endfunction()
