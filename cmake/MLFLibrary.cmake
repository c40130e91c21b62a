# add_mlf_library(): a TVM Model Library Format archive as an ordinary static library.
#
#   add_mlf_library(<target> <model>
#       [MODULE <name> | ALL_MODULES]
#       [RUNTIME builtin|tvm_crt]
#       [WORKSPACE static|caller]
#       [ALIGN <bytes>]
#       [WEIGHTS_SECTION <section>]
#       [ARENA_SECTION <section>]
#       [MAX_RAM <bytes>]
#       [MAX_FLASH <bytes>]
#       [HIDE_SYMBOLS ON|OFF]
#       [IO_SHAPES <name>=<dims>[:<dtype>]...]
#       [AOT_API packed|unpacked]
#       [CMSIS_NN <folder>|<target>]
#       [DEVICES <device>=<driver target>...]
#       [LINK_LIBRARIES <item>...]
#       [OUTPUT_DIR <dir>]
#       [TEST])
#
#   <target>         name of the STATIC library to create (also available as mlf::<target>).
#                    Its C form is the API prefix: #include "<target>.h", <target>_run(), ...
#   <model>          MLF tarball (.tar, .tar.gz, .tgz) or extracted MLF directory; relative
#                    paths are relative to CMAKE_CURRENT_SOURCE_DIR. Format versions 1-7.
#   MODULE           module to build from a multi-module (version 7) archive. Default: the
#                    only module.
#   ALL_MODULES      build every module of the archive into this library, with one API per
#                    module: <target>_<module>_run(), <target>_<module>.h, all included by
#                    <target>.h.
#   RUNTIME          builtin (default): mlf_build's own runtime (mlf::runtime), shared by all
#                    models. tvm_crt: TVM's CRT bundled in the MLF's runtime/ folder.
#   WORKSPACE        static (default): the library owns an arena of <T>_WORKSPACE_SIZE bytes and
#                    offers <t>_run(). caller: no arena; call <t>_run_with_workspace() with
#                    yours (both modes offer <t>_run_with_workspace()).
#   ALIGN            alignment of parameter data and of the arena (power of two, default 16;
#                    the arena is never aligned to less than 16, which TVM's code assumes).
#   WEIGHTS_SECTION  linker section for parameter data (default .rodata.<t>.params).
#   ARENA_SECTION    linker section for the static arena (default .bss.<t>.arena); it is NOBITS.
#   MAX_RAM          fail the build when the static arena exceeds this many bytes, and after
#                    compiling, when the library's RAM (arena + data + bss) does.
#   MAX_FLASH        fail the build when the library's flash (code + read-only data + data
#                    image) exceeds this many bytes. Both take a byte count of any size with an
#                    optional K, M or G (binary); 0 is a budget of zero bytes.
#   HIDE_SYMBOLS     ON (default where objcopy exists): after compiling, the model's code is
#                    linked into one relocatable object whose only global symbols are the public
#                    API, so any number of models (all named "default" by TVM) coexist. The
#                    parameters and arena (<t>_data.c) are archived beside it as compiled, under
#                    hidden <t>__* symbols.
#   IO_SHAPES        shapes of inputs/outputs the MLF does not record (AOT exports of TVM 0.8-0.10
#                    with several outputs), e.g. IO_SHAPES logits=1x4 probs=1x4:float32.
#   AOT_API          calling convention of an AOT entry point TVM compiled to an object (LLVM
#                    target), which the MLF does not record: packed (TVM's default) or unpacked.
#   CMSIS_NN         CMSIS-NN for models compiled with TVM's cmsis-nn target (they call arm_*_s8):
#                    a CMake target providing it, or a CMSIS-NN source folder (Include/, Source/),
#                    compiled once per project into mlf_cmsis_nn. Such a model without CMSIS_NN
#                    fails the configuration with one line naming the functions it calls.
#   DEVICES          the drivers of the devices an AOT model runs operators on (its header's
#                    struct tvmgen_<m>_devices), e.g. DEVICES ethos_u=ethosu_core_driver: each
#                    driver target is compiled against and linked; for ethos_u mlf_build adds its
#                    TVMEthosULaunch() and hooks (runtime/devices/ethos_u), other devices' TVM
#                    functions come from their target. The handles are <t>_devices[] (header.md).
#                    A model using a device not listed fails the configuration with one line.
#   LINK_LIBRARIES   other libraries the generated code needs, compiled against and linked.
#   OUTPUT_DIR       where generated files go (default ${CMAKE_CURRENT_BINARY_DIR}/mlf/<target>):
#                    a folder of its own, not one holding other files (a source folder), nor
#                    nested in another library's, nor used by another build tree.
#   TEST             also build <target>_smoke, which runs the model once on deterministic
#                    inputs and checks the arena contract, and register it with add_test():
#                    natively on the host, under QEMU (mlf::qemu_support) when cross-compiling
#                    with cmake/toolchains/arm-none-eabi.cmake. Call enable_testing() (or
#                    include(CTest)) in the top-level CMakeLists.txt for ctest to see it.
#
# Every keyword but the flags (TEST, ALL_MODULES) and the lists (LINK_LIBRARIES, IO_SHAPES,
# DEVICES) takes exactly one value, given once; a CMake list (a value holding ';') is refused,
# naming the keyword. An empty value means the default.
#
# Target properties set on <target>: MLF_WORKSPACE_SIZE, MLF_PARAMS_SIZE, MLF_FORMAT_VERSION,
# MLF_EXECUTOR, MLF_HEADER, MLF_REPORT (<t>_report.html, the HTML page of mlf-build report; one
# per module with ALL_MODULES), MLF_PREFIXES (the C prefix of each API: one, or one per module
# with ALL_MODULES), MLF_OUTPUT_DIR, MLF_MODEL, MLF_WORKSPACE (static|caller), and the
# RUNTIME, ARENA_SECTION and WEIGHTS_SECTION in effect as MLF_RUNTIME, MLF_ARENA_SECTION and
# MLF_WEIGHTS_SECTION (empty: the default), MLF_CMSIS_NN_FUNCTIONS and MLF_DEVICES (the arm_*
# functions the model calls, its devices); with those sections, MLF_WEIGHTS_FRAGMENT and
# MLF_ARENA_FRAGMENT name GNU ld fragments that place them (INCLUDE them inside your linker
# script's SECTIONS; mlf_qemu_place_sections() does it for QEMU firmware).
#
# Platform integrations (zephyr/CMakeLists.txt) may set, as global (cache) variables:
# MLF_BUILD_DEFAULT_RUNTIME, MLF_BUILD_DEFAULT_ARENA_SECTION, MLF_BUILD_DEFAULT_WEIGHTS_SECTION,
# MLF_BUILD_DEFAULT_CMSIS_NN (defaults of the arguments), MLF_BUILD_COMPILE_INTERFACE (targets
# linked PRIVATE into what compiles model code, for their compile flags) and
# MLF_BUILD_LIBRARY_HOOKS (functions called with <target> at the end of add_mlf_library()).
#
# The generator runs at build time, as a custom command that depends on the model's content (a
# digest file that mlf_check_models rewrites only when the model's bytes change, see
# mlf_model_check.cmake) and on the generator itself, with every output declared. At configure
# time a quick query (cached by that digest) learns that list of outputs and the sizes above; the
# digest is a configure dependency, so that a model of a different shape reconfigures, in the
# same build.

include_guard(GLOBAL)

include("${CMAKE_CURRENT_LIST_DIR}/mlf_model_check.cmake")

# Control characters end lines in build files and messages: refused in every value and path.
function(_mlf_refuse_control target what value)
  string(ASCII 1 first)
  string(ASCII 31 last)
  string(ASCII 127 del)
  if(value MATCHES "[${first}-${last}${del}]")
    message(FATAL_ERROR "add_mlf_library(${target}): ${what} holds a control character (newline, tab, "
      "...), which the build files cannot carry")
  endif()
endfunction()

# A path the build cannot carry, with the character. CMake reads '\' as a path separator
# (refused except on Windows, where it is one). The output folder (its path is in CMake lists,
# Ninja and Make rules, generator expressions) cannot hold: ';' (splits CMake lists), an '[' or
# ']' (joins them), '<' and '>' (generator-expression syntax, refused in custom command
# outputs), '|' (Ninja has no escape for it); with Ninja '$' (CMake writes it unescaped into the
# depfile paths of build.ninja, which then names other files), with Make ':' (written unescaped
# into rules) or '"' (CMake's dependency scanner fails on it), and before CMake 3.30 '#'
# (refused in custom command outputs). Spaces, quotes, parentheses and the like are quoted
# correctly. The model's path the generator checks itself (mlf_build/validate.py), since only
# the command line and its --cmake-info file carry it.
function(_mlf_check_path target what path)
  _mlf_refuse_control("${target}" "${what}" "${path}")
  set(chars "")
  if(what STREQUAL "OUTPUT_DIR")
    set(chars "];[<>|")
    if(CMAKE_GENERATOR MATCHES "Ninja")
      string(APPEND chars "$")
    elseif(CMAKE_GENERATOR MATCHES "Makefiles")
      string(APPEND chars ":\"")
    endif()
    if(CMAKE_VERSION VERSION_LESS 3.30)
      string(APPEND chars "#")
    endif()
  endif()
  if(NOT CMAKE_HOST_WIN32)
    string(APPEND chars "\\")
  endif()
  if(NOT chars STREQUAL "" AND path MATCHES "([${chars}])")
    message(FATAL_ERROR "add_mlf_library(${target}): ${what} ${path} holds '${CMAKE_MATCH_1}', which a "
      "${CMAKE_GENERATOR} build (CMake ${CMAKE_VERSION}) cannot carry in a path; rename or move it")
  endif()
endfunction()

# Target names as CMake allows them (policy CMP0037), checked before they name any file; and
# none that stands for something else: a C or toolchain library (m, dl, ...), one of
# mlf_build's own targets, another library's build file in mlf/, or a file name too long.
function(_mlf_check_target_name target)
  if(NOT target MATCHES "^[A-Za-z0-9_.+-]+$")
    string(REGEX MATCH "[^A-Za-z0-9_.+-]" bad "${target}")
    message(FATAL_ERROR "add_mlf_library(${target}): the target name holds '${bad}'; use letters, "
      "digits and _ . + - (a lower-case C identifier is best: it is the API's prefix)")
  endif()
  if(target STREQUAL "m")
    message(FATAL_ERROR "add_mlf_library(m): a target named m would stand for the C math library "
      "(libm) that mlf::runtime links, a dependency cycle; choose another name")
  endif()
  # target_link_libraries(<x> dl) links a target named dl before the system's libdl, so a model
  # named like a C or toolchain library would silently replace it (${CMAKE_DL_LIBS} is "dl").
  if(target MATCHES "^(c|dl|rt|pthread|util|resolv|crypt|atomic|gcc|gcc_s|stdc\\+\\+|supc\\+\\+|nosys|rdimon|g|c_nano|g_nano|semihost)$")
    message(FATAL_ERROR "add_mlf_library(${target}): a target named ${target} would take the place of the "
      "system library lib${target} wherever the project links ${target}; choose another name")
  endif()
  if(target MATCHES "^(runtime|qemu_support)$")
    message(FATAL_ERROR "add_mlf_library(${target}): mlf::${target} is mlf_build's own target; choose "
      "another name")
  endif()
  # Each library keeps <name>.info.cmake, <name>.model-digest[.build] and <name>_model[-<config>].o
  # in ${CMAKE_CURRENT_BINARY_DIR}/mlf beside its default output folder mlf/<name>: a target named
  # like one of those files would make its folder there.
  if(target MATCHES "(\\.info\\.cmake|\\.model-digest(\\.build)?|_model(-[A-Za-z0-9_]+)?\\.(o|obj)(\\.partial|\\.tmp)?)$")
    message(FATAL_ERROR "add_mlf_library(${target}): the target name ends in '${CMAKE_MATCH_1}', the "
      "name of another library's build file in mlf/; choose another name")
  endif()
  string(LENGTH "${target}" length)
  if(length GREATER 200)
    message(FATAL_ERROR "add_mlf_library(${target}): the target name has ${length} characters; its files' "
      "names must fit the file system's 255 bytes, so use at most 200")
  endif()
endfunction()

# What cmake_parse_arguments() lets pass silently: a one-value keyword given twice (the last
# wins), without a value, or followed by two values. The arguments after <one_value> (the
# one-value keywords) are the call's arguments, each a keyword or "-" for a value.
function(_mlf_check_call_shape target one_value)
  set(shape "${ARGN}")
  list(LENGTH shape count)
  set(i 0)
  while(i LESS count)
    list(GET shape ${i} key)
    math(EXPR i "${i} + 1")
    if(NOT key IN_LIST one_value)
      continue()
    endif()
    if(seen_${key})
      message(FATAL_ERROR "add_mlf_library(${target}): ${key} is given twice; give it once")
    endif()
    set(seen_${key} TRUE)
    set(values 0)
    while(i LESS count)
      list(GET shape ${i} next)
      if(NOT next STREQUAL "-")
        break()
      endif()
      math(EXPR values "${values} + 1")
      math(EXPR i "${i} + 1")
    endwhile()
    if(values EQUAL 0)
      message(FATAL_ERROR "add_mlf_library(${target}): ${key} needs a value")
    elseif(values GREATER 1)
      message(FATAL_ERROR "add_mlf_library(${target}): ${key} takes one value, but ${values} follow it "
        "(quote a value that holds spaces)")
    endif()
  endwhile()
endfunction()

# One one-value argument: a single value (no CMake list), of the kind <key> takes. Sections,
# modules and the like are checked by the generator, which gets each value as one argument.
function(_mlf_check_value target key value)
  if(value MATCHES ";")
    message(FATAL_ERROR "add_mlf_library(${target}): ${key} must be one value, not the list '${value}'")
  endif()
  _mlf_refuse_control("${target}" "${key}" "${value}")
  set(choices_RUNTIME builtin tvm_crt)
  set(choices_WORKSPACE static caller)
  set(choices_AOT_API packed unpacked)
  set(choices_HIDE_SYMBOLS ON OFF TRUE FALSE YES NO Y N 1 0)
  if(DEFINED choices_${key})
    string(TOUPPER "${value}" upper)
    if(NOT (value IN_LIST choices_${key} OR (key STREQUAL "HIDE_SYMBOLS" AND upper IN_LIST choices_${key})))
      string(REPLACE ";" ", " choices "${choices_${key}}")
      message(FATAL_ERROR "add_mlf_library(${target}): ${key} must be one of ${choices}, not '${value}'")
    endif()
  elseif(key STREQUAL "ALIGN" AND NOT value MATCHES "^[0-9]+$")
    message(FATAL_ERROR "add_mlf_library(${target}): ALIGN must be a number of bytes (a power of two), "
      "not '${value}'")
  elseif(key MATCHES "^MAX_(RAM|FLASH)$" AND NOT value MATCHES "^[0-9]+[KkMmGg]?$")
    # Passed on as written: the generator reads any size (math(EXPR) would wrap at 2^63).
    message(FATAL_ERROR "add_mlf_library(${target}): ${key} must be a byte count such as 65536, 64K or "
      "2M, not '${value}'")
  endif()
endfunction()

# Whether <path> is <dir> or inside it.
function(_mlf_path_within out path dir)
  string(FIND "${path}/" "${dir}/" at)
  if(at EQUAL 0)
    set(${out} TRUE PARENT_SCOPE)
  else()
    set(${out} FALSE PARENT_SCOPE)
  endif()
endfunction()

# <path> with its symbolic links resolved, also when its last components do not exist yet.
function(_mlf_resolve out path)
  set(tail "")
  while(NOT EXISTS "${path}" AND NOT IS_SYMLINK "${path}")
    get_filename_component(parent "${path}" DIRECTORY)
    if(parent STREQUAL path OR parent STREQUAL "")
      break()
    endif()
    get_filename_component(name "${path}" NAME)
    set(tail "/${name}${tail}")
    set(path "${parent}")
  endwhile()
  file(REAL_PATH "${path}" real)
  set(${out} "${real}${tail}" PARENT_SCOPE)
endfunction()

# The generator owns its output folder: it replaces what it wrote there, so the folder must
# belong to this one library of this one build tree. Refused here: a folder that is or contains
# the source or build folder, one nested in (or holding) another library's, and one that another
# build tree uses. (An output folder holding or inside the model, the generator refuses itself;
# then _mlf_mark_output_dir() refuses an existing folder holding files that no generation wrote,
# such as a source folder, and marks the folder as this build tree's, <dir>/.mlf-owner.)
# Folders are compared with every symbolic link resolved: a link to another library's folder is
# that folder.
function(_mlf_claim_output_dir target out)
  _mlf_resolve(out "${out}")
  set(bookkeeping "${CMAKE_CURRENT_BINARY_DIR}/mlf")
  foreach(dir "${CMAKE_SOURCE_DIR}" "${CMAKE_BINARY_DIR}" "${CMAKE_CURRENT_SOURCE_DIR}"
      "${CMAKE_CURRENT_BINARY_DIR}" "${bookkeeping}")
    _mlf_resolve(dir "${dir}")
    _mlf_path_within(inside "${dir}" "${out}")
    if(inside)
      message(FATAL_ERROR "add_mlf_library(${target}): OUTPUT_DIR ${out} holds ${dir}; the generator "
        "replaces what is in its folder, so give it a folder of its own")
    endif()
  endforeach()
  _mlf_resolve(cmakefiles "${CMAKE_BINARY_DIR}/CMakeFiles")
  _mlf_path_within(inside "${out}" "${cmakefiles}")
  if(inside)
    message(FATAL_ERROR "add_mlf_library(${target}): OUTPUT_DIR ${out} is inside ${CMAKE_BINARY_DIR}/"
      "CMakeFiles, CMake's own folder; give the library a folder of its own")
  endif()

  # Libraries of this project.
  get_property(claimed GLOBAL PROPERTY _MLF_OUTPUT_DIRS)
  foreach(dir IN LISTS claimed)
    get_property(owner GLOBAL PROPERTY "_MLF_OUTPUT_DIR_OWNER:${dir}")
    if(dir STREQUAL out)
      message(FATAL_ERROR "add_mlf_library(${target}): OUTPUT_DIR ${out} is already the output folder of "
        "${owner}; give each library its own")
    endif()
    _mlf_path_within(inner "${out}" "${dir}")
    _mlf_path_within(outer "${dir}" "${out}")
    if(inner OR outer)
      message(FATAL_ERROR "add_mlf_library(${target}): OUTPUT_DIR ${out} and ${dir}, the output folder of "
        "${owner}, are nested; give each library a folder of its own, side by side")
    endif()
  endforeach()
  set_property(GLOBAL APPEND PROPERTY _MLF_OUTPUT_DIRS "${out}")
  set_property(GLOBAL PROPERTY "_MLF_OUTPUT_DIR_OWNER:${out}" "${target}")

  # Other build trees, through the mark each leaves in the folders it uses (this tree's own marks
  # are checked above, from this configuration). A tree that no longer exists gives its folders up.
  set(dir "${out}")
  while(TRUE)
    if(EXISTS "${dir}/.mlf-owner")
      file(STRINGS "${dir}/.mlf-owner" mark LIMIT_COUNT 2)
      list(APPEND mark "?" "?")  # a damaged mark still names something
      list(GET mark 0 tree)
      list(GET mark 1 owner)
      if(tree STREQUAL CMAKE_BINARY_DIR OR NOT EXISTS "${tree}/CMakeCache.txt")
        # this tree's, or a gone tree's
      elseif(NOT dir STREQUAL out)
        message(FATAL_ERROR "add_mlf_library(${target}): OUTPUT_DIR ${out} is inside ${dir}, the output "
          "folder of ${owner} in the build tree ${tree}; give each library a folder of its own")
      else()
        message(FATAL_ERROR "add_mlf_library(${target}): OUTPUT_DIR ${out} is the output folder of "
          "${owner} in the build tree ${tree}; give each build tree its own (e.g. the default, in the "
          "build tree)")
      endif()
    endif()
    get_filename_component(parent "${dir}" DIRECTORY)
    if(parent STREQUAL dir OR parent STREQUAL "")
      break()
    endif()
    set(dir "${parent}")
  endwhile()

endfunction()

# Marks <out> as the output folder of <target> in this build tree, once the generator accepted
# the model and the folder (it refuses an --out that holds or lies in the model itself).
function(_mlf_mark_output_dir target out)
  # A folder first used now may hold only what a generation wrote (say, by an older mlf_build).
  if(IS_DIRECTORY "${out}" AND NOT EXISTS "${out}/.mlf-owner")
    file(GLOB_RECURSE present LIST_DIRECTORIES false RELATIVE "${out}" "${out}/*")
    file(GLOB manifests "${out}/*_manifest.json")
    set(written "")
    foreach(m IN LISTS manifests)
      file(READ "${m}" json)
      string(JSON n ERROR_VARIABLE bad LENGTH "${json}" files)
      if(NOT bad AND n GREATER 0)
        math(EXPR last "${n} - 1")
        foreach(k RANGE ${last})
          string(JSON f GET "${json}" files ${k})
          list(APPEND written "${f}")
        endforeach()
      endif()
    endforeach()
    foreach(f IN LISTS present)
      get_filename_component(name "${f}" NAME)
      # The generator's bookkeeping: its lock, staging folder, stamps and records of what it wrote.
      if(NOT f IN_LIST written AND NOT name MATCHES "^(\\.mlf-lock|\\.mlf-owned-.*\\.json|.*\\.stamp)$"
          AND NOT f MATCHES "^\\.mlf-tmp/")
        message(FATAL_ERROR "add_mlf_library(${target}): OUTPUT_DIR ${out} already holds ${f}, which "
          "mlf_build did not write; give the library a new or empty folder")
      endif()
    endforeach()
  endif()
  file(MAKE_DIRECTORY "${out}")
  _mlf_write_if_changed("${out}/.mlf-owner" "${CMAKE_BINARY_DIR}\n${target}\n")
endfunction()

# The C names of a library belong to it alone in the project: two libraries with one prefix (Net
# and net) or one public symbol would give a program one header and the other's model.
# <prefixes> and <symbols> are lists (the library's and its modules' prefixes, its API).
function(_mlf_claim_names target prefixes symbols)
  foreach(kind prefix symbol)
    if(kind STREQUAL "prefix")
      set(names ${prefixes})
    else()
      set(names ${symbols})
    endif()
    list(REMOVE_DUPLICATES names)
    foreach(name IN LISTS names)
      get_property(owner GLOBAL PROPERTY "_MLF_C_${kind}:${name}")
      if(owner AND NOT owner STREQUAL target)
        message(FATAL_ERROR "add_mlf_library(${target}): the C ${kind} ${name} is already that of the "
          "library ${owner}; give one of them another name (its C form is the API's prefix)")
      endif()
      set_property(GLOBAL PROPERTY "_MLF_C_${kind}:${name}" "${target}")
    endforeach()
  endforeach()
endfunction()

# Compile a trivial object with the project's C compiler and flags, for the ABI check of MLFs
# that carry LLVM objects (codegen/host/lib/*.o).
function(_mlf_abi_probe out)
  get_property(probe GLOBAL PROPERTY _MLF_ABI_PROBE)
  if(probe AND EXISTS "${probe}")
    set(${out} "${probe}" PARENT_SCOPE)
    return()
  endif()
  set(dir "${CMAKE_BINARY_DIR}/CMakeFiles/mlf_abi_probe")
  set(probe "${dir}/probe.bin")
  # The source is shared with Bazel's //bazel:abi_probe.
  try_compile(ok "${dir}/build" "${MLF_BUILD_CMAKE_DIR}/mlf_abi_probe.c" COPY_FILE "${probe}"
    OUTPUT_VARIABLE log)
  if(NOT ok)
    message(FATAL_ERROR "add_mlf_library: cannot compile a probe object with ${CMAKE_C_COMPILER}:\n${log}")
  endif()
  set_property(GLOBAL PROPERTY _MLF_ABI_PROBE "${probe}")
  set(${out} "${probe}" PARENT_SCOPE)
endfunction()

# <value> as a CMake bracket argument: enough '=' that no "]=...=]" in it closes the bracket.
function(_mlf_bracket out value)
  set(eq "")
  while(TRUE)
    string(FIND "${value}]" "]${eq}]" at)
    if(at EQUAL -1)
      break()
    endif()
    string(APPEND eq "=")
  endwhile()
  set(${out} "[${eq}[${value}]${eq}]" PARENT_SCOPE)
endfunction()

# Registers <target>'s model with mlf_check_models, the one target that checks every model's
# content before each build (mlf_model_check.cmake), created once all libraries are known.
function(_mlf_check_model target model digest_file out info)
  get_property(count GLOBAL PROPERTY _MLF_CHECK_COUNT)
  if(NOT count)
    set(count 0)
    cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _mlf_add_check_models)
  endif()
  math(EXPR count "${count} + 1")
  set_property(GLOBAL PROPERTY _MLF_CHECK_COUNT ${count})
  set(entry "list(APPEND MLF_CHECK_LIBRARIES ${count})  # ${target}\n")
  foreach(kv MODEL:model DIGEST:digest_file OUT:out INFO:info)
    string(REPLACE ":" ";" kv "${kv}")
    list(GET kv 0 key)
    list(GET kv 1 var)
    _mlf_bracket(quoted "${${var}}")
    string(APPEND entry "set(MLF_CHECK_${count}_${key} ${quoted})\n")
  endforeach()
  set_property(GLOBAL APPEND_STRING PROPERTY _MLF_CHECK_LIST "${entry}")
  set_property(GLOBAL APPEND PROPERTY _MLF_CHECK_DIGESTS "${digest_file}")
endfunction()

function(_mlf_add_check_models)
  set(list "${CMAKE_BINARY_DIR}/CMakeFiles/mlf_check_models.cmake")
  get_property(text GLOBAL PROPERTY _MLF_CHECK_LIST)
  _mlf_write_if_changed("${list}" "# Generated by add_mlf_library(): the models mlf_check_models checks.\n${text}")
  get_property(digests GLOBAL PROPERTY _MLF_CHECK_DIGESTS)
  set(args "-DMODELS=${list}")
  if(CMAKE_GENERATOR MATCHES "Makefiles")
    list(APPEND args "-DREGENERATE=${CMAKE_BINARY_DIR}" "-DREGENERATE_SOURCE=${CMAKE_SOURCE_DIR}")
  endif()
  add_custom_target(mlf_check_models
    COMMAND "${CMAKE_COMMAND}" ${args} -P "${MLF_BUILD_CMAKE_DIR}/mlf_model_check.cmake"
    BYPRODUCTS ${digests}
    COMMENT "mlf_build: checking the models"
    VERBATIM)
endfunction()

# add_mlf_library()'s steps, in the order it calls them. Each is a function: it reads the
# caller's variables it names (ARG_* are the parsed arguments, MLF_INFO_* the query's facts)
# and returns its results through PARENT_SCOPE.

# Options: the platform's defaults (MLF_BUILD_DEFAULT_<KEY>) for what the call left empty, then
# each one-value argument checked; an empty value means the default (ARG_<KEY> unset).
function(_mlf_finish_options target one_value)
  # Defaults a platform integration may set (the Zephyr module sets them from Kconfig).
  foreach(key RUNTIME ARENA_SECTION WEIGHTS_SECTION CMSIS_NN)
    if((NOT DEFINED ARG_${key} OR ARG_${key} STREQUAL "") AND NOT "${MLF_BUILD_DEFAULT_${key}}" STREQUAL "")
      set(ARG_${key} "${MLF_BUILD_DEFAULT_${key}}")
    endif()
  endforeach()
  foreach(key IN LISTS one_value)
    if(DEFINED ARG_${key} AND NOT ARG_${key} STREQUAL "")
      _mlf_check_value("${target}" ${key} "${ARG_${key}}")
      set(ARG_${key} "${ARG_${key}}" PARENT_SCOPE)
    else()
      unset(ARG_${key} PARENT_SCOPE)
    endif()
  endforeach()
  if(NOT CMAKE_C_COMPILER_LOADED)
    message(FATAL_ERROR "add_mlf_library(${target}): enable the C language first (project(<name> C))")
  endif()
  if(NOT TARGET mlf::runtime)
    add_mlf_runtime()
  endif()
endfunction()

# The model as an absolute path (<model_var>), and the output folder (<out_var>: OUTPUT_DIR or
# the default), checked and claimed for <target>.
function(_mlf_locate target model_var out_var)
  set(model "${${model_var}}")
  # Only what would change before the generator sees it (which checks the rest): '\' and controls.
  _mlf_check_path("${target}" "the model" "${model}")
  get_filename_component(model "${model}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${model}")
    message(FATAL_ERROR "add_mlf_library(${target}): model ${model} does not exist")
  endif()
  set(dir "${CMAKE_CURRENT_BINARY_DIR}/mlf/${target}")
  if(DEFINED ARG_OUTPUT_DIR)
    set(dir "${ARG_OUTPUT_DIR}")
  endif()
  _mlf_check_path("${target}" OUTPUT_DIR "${dir}")
  get_filename_component(out "${dir}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_BINARY_DIR}")
  _mlf_check_path("${target}" OUTPUT_DIR "${out}")
  _mlf_claim_output_dir("${target}" "${out}")
  set(${model_var} "${model}" PARENT_SCOPE)
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# "<flag>=<value>" (<out>) for each <KEY>:<flag> that follows whose argument ARG_<KEY> is set.
function(_mlf_glued_options out)
  set(opts "")
  foreach(kv IN LISTS ARGN)
    string(REPLACE ":" ";" kv "${kv}")
    list(GET kv 0 key)
    list(GET kv 1 flag)
    if(DEFINED ARG_${key})
      list(APPEND opts "${flag}=${ARG_${key}}")
    endif()
  endforeach()
  set(${out} "${opts}" PARENT_SCOPE)
endfunction()

# The generator's options (<opts_var>), identical at configure and build time; each value is one
# argument, glued to its option, so no value is ever read as an option. CMSIS_NN and the DEVICES'
# drivers are added to ARG_LINK_LIBRARIES: compiled against and linked like LINK_LIBRARIES.
function(_mlf_generator_options target opts_var)
  _mlf_glued_options(opts MODULE:--module RUNTIME:--runtime WORKSPACE:--workspace ALIGN:--align
    WEIGHTS_SECTION:--weights-section ARENA_SECTION:--arena-section AOT_API:--aot-api
    MAX_RAM:--max-ram MAX_FLASH:--max-flash)
  list(PREPEND opts "--name=${target}")
  if(ARG_ALL_MODULES)
    list(APPEND opts --all-modules)
  endif()
  foreach(spec IN LISTS ARG_IO_SHAPES)
    _mlf_refuse_control("${target}" IO_SHAPES "${spec}")
    list(APPEND opts "--io-shape=${spec}")
  endforeach()
  # CMSIS-NN: the generator refuses a model calling arm_*_s8 unless told the build provides them.
  if(DEFINED ARG_CMSIS_NN)
    _mlf_cmsis_nn_target(cmsis_nn "${target}" "${ARG_CMSIS_NN}")
    list(APPEND opts --cmsis-nn)
    list(APPEND ARG_LINK_LIBRARIES ${cmsis_nn})
  endif()
  # DEVICES: each device named to the generator (which checks them against the model's devices
  # struct), each driver target linked.
  foreach(item IN LISTS ARG_DEVICES)
    if(NOT item MATCHES "^([A-Za-z_][A-Za-z0-9_]*)=(.+)$")
      message(FATAL_ERROR "add_mlf_library(${target}): DEVICES ${item} is not <device>=<driver target>, "
        "e.g. ethos_u=ethosu_core_driver")
    endif()
    set(driver "${CMAKE_MATCH_2}")
    list(APPEND opts "--device=${CMAKE_MATCH_1}")
    if(NOT TARGET "${driver}")
      message(FATAL_ERROR "add_mlf_library(${target}): DEVICES ${item}: ${driver} is not a target; "
        "define the driver's library before add_mlf_library()")
    endif()
    list(APPEND ARG_LINK_LIBRARIES ${driver})
  endforeach()
  set(${opts_var} "${opts}" PARENT_SCOPE)
  set(ARG_LINK_LIBRARIES "${ARG_LINK_LIBRARIES}" PARENT_SCOPE)
endfunction()

# Configure-time query: <info> (the outputs and sizes, as CMake) written by the generator,
# cached by the model's content (<digest_file>, rewritten when the model changed) and the
# options. A model carrying objects is queried again with the ABI probe (checked against it),
# which then joins <opts_var> for the build.
function(_mlf_query_cached target model out info digest_file opts_var)
  set(opts "${${opts_var}}")
  _mlf_model_digest(digest "${model}")
  # A manual re-run of CMake after the model changed regenerates it too.
  _mlf_update_digest(changed "${digest_file}" "${digest}")
  set(key "${model};${digest};${opts};${MLF_BUILD_VERSION};${CMAKE_C_COMPILER};${CMAKE_C_FLAGS}")
  # A changed generator (a checkout pulled between builds) may name its outputs differently.
  set(stale FALSE)
  foreach(f IN LISTS _MLF_GENERATOR_FILES)
    if("${f}" IS_NEWER_THAN "${info}")
      set(stale TRUE)
      break()
    endif()
  endforeach()
  if(NOT "${_MLF_INFO_KEY_${target}}" STREQUAL "${key}")
    set(stale TRUE)
  endif()
  if(stale)
    _mlf_query("${target}" "${model}" "${out}" "${info}" "${opts}")
  endif()
  include("${info}")
  if(MLF_INFO_HAS_OBJECTS)
    _mlf_abi_probe(probe)
    list(APPEND opts "--abi-probe=${probe}")
    if(stale)
      _mlf_query("${target}" "${model}" "${out}" "${info}" "${opts}")
    endif()
  endif()
  if(stale)
    set(_MLF_INFO_KEY_${target} "${key}" CACHE INTERNAL "")
  endif()
  set(${opts_var} "${opts}" PARENT_SCOPE)
endfunction()

# What the query learnt, made the project's: the generator's warnings, the library's C names and
# output folder claimed, and the model's content a configure and build input.
function(_mlf_register target model out info digest_file)
  _mlf_show_warnings()
  _mlf_claim_names("${target}" "${MLF_INFO_NAME};${MLF_INFO_UNIT_PREFIXES}" "${MLF_INFO_PUBLIC_SYMBOLS}")
  _mlf_mark_output_dir("${target}" "${out}")
  # The model's content (the digest, which mlf_check_models keeps current before Ninja loads
  # the build) and the generator (whose new version may name other outputs) re-run the query.
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${digest_file}" ${_MLF_GENERATOR_FILES})
  _mlf_check_model("${target}" "${model}" "${digest_file}" "${out}" "${info}")
endfunction()

# Build-time generation. Only <t>.stamp, which the generator always touches, is the command's
# output; the generated files are byproducts, which it leaves untouched when their bytes did
# not change: Ninja (restat) and Make then recompile only what changed.
function(_mlf_add_generation target model out opts digest_file)
  set(outputs "")
  foreach(f IN LISTS MLF_INFO_OUTPUTS)
    list(APPEND outputs "${out}/${f}")
  endforeach()
  get_filename_component(model_name "${model}" NAME)
  add_custom_command(
    OUTPUT "${out}/${MLF_INFO_NAME}.stamp"
    BYPRODUCTS ${outputs}
    COMMAND ${_MLF_GENERATOR} generate "${model}" "--out=${out}" ${opts} --no-warnings
    DEPENDS "${digest_file}.build" ${_MLF_GENERATOR_FILES}
    COMMENT "mlf_build: generating ${target} from ${model_name}"
    VERBATIM)
endfunction()

# The files to compile (<sources_var>), TVM's objects (<objects_var>) and the private include
# folders (<includes_var>) of the generated library in <out>, with each source's properties.
function(_mlf_model_sources out sources_var objects_var includes_var)
  set(sources "")
  set(objects "")
  set(includes "")
  foreach(kind sources:SOURCES objects:OBJECTS includes:INCLUDE_DIRS)
    string(REPLACE ":" ";" kind "${kind}")
    list(GET kind 0 var)
    list(GET kind 1 key)
    foreach(f IN LISTS MLF_INFO_${key})
      list(APPEND ${var} "${out}/${f}")
    endforeach()
  endforeach()
  # mlf_build's glue for the devices (TVMEthosULaunch, ...): runtime sources built into the model.
  foreach(f IN LISTS MLF_INFO_DEVICE_SOURCES)
    list(APPEND sources "${MLF_BUILD_RUNTIME_DIR}/${f}")
  endforeach()
  foreach(f IN LISTS MLF_INFO_DEVICE_INCLUDE_DIRS)
    list(APPEND includes "${MLF_BUILD_RUNTIME_DIR}/${f}")
  endforeach()
  foreach(f IN LISTS MLF_INFO_SOURCES)
    _mlf_source_properties("${out}" "${f}")
  endforeach()
  set(${sources_var} "${sources}" PARENT_SCOPE)
  set(${objects_var} "${objects}" PARENT_SCOPE)
  set(${includes_var} "${includes}" PARENT_SCOPE)
endfunction()

# The compile options and dependencies of one generated source <f> (relative to <out>).
function(_mlf_source_properties out f)
  # .incbin data is invisible to the compiler's dependency scan.
  # Two ifs: ${CMAKE_MATCH_1} in the same condition would expand before MATCHES sets it.
  if(f MATCHES "^(.*)_data\\.c$")
    set(bin "${CMAKE_MATCH_1}_params.bin")
    if(bin IN_LIST MLF_INFO_OUTPUTS)
      set_source_files_properties("${out}/${f}" PROPERTIES OBJECT_DEPENDS "${out}/${bin}")
    endif()
  endif()
  # TVM's quantized code left-shifts negative values on purpose (GCC and Clang define it), which
  # -fsanitize=shift reports; spare only TVM's translation units, so sanitized builds of an
  # application stay usable. A no-op without -fsanitize.
  if(f MATCHES "^(codegen|crt)/${MLF_INFO_NAME}__[^/]+\\.c$" AND CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    set_property(SOURCE "${out}/${f}" APPEND PROPERTY COMPILE_OPTIONS -fno-sanitize=shift-base)
  endif()
  # Not LTO, also when the project asks for it (add_compile_options, CMAKE_C_FLAGS, Zephyr's
  # CONFIG_LTO): the .incbin of the parameters resolves only when this object is assembled, and
  # the partial link and objcopy need real code, not compiler IR. The rest of the program still
  # gets LTO. A source's options come last on the command line, after every target's (Zephyr
  # opts its offsets.c out the same way).
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    set_property(SOURCE "${out}/${f}" APPEND PROPERTY COMPILE_OPTIONS -fno-lto)
  endif()
endfunction()

# HIDE_SYMBOLS in effect (<out_var>): ON unless turned off, or without objcopy (then said).
function(_mlf_hide_symbols target out_var)
  set(hide ON)
  if(DEFINED ARG_HIDE_SYMBOLS)
    set(hide "${ARG_HIDE_SYMBOLS}")
  endif()
  if(hide AND (NOT CMAKE_OBJCOPY OR NOT CMAKE_C_COMPILER_ID MATCHES "GNU|Clang"))
    message(WARNING "add_mlf_library(${target}): no objcopy for this toolchain; the model's internal "
      "symbols stay global (two models exported with the same module name will clash)")
    set(hide OFF)
  endif()
  set(${out_var} ${hide} PARENT_SCOPE)
endfunction()

# The target compiling the model's sources (<compiled>: <target>_mlf_objects, an OBJECT library
# merged later, with HIDE_SYMBOLS; else <target> itself, a STATIC library with TVM's objects).
# <t>.stamp among the sources attaches the generation to the target that compiles its files.
function(_mlf_compile target hide out sources objects includes)
  if(hide)
    # <unit>_data.c first: Ninja starts the compiles that are ready in the order of build.ninja,
    # and with large parameters this one takes longest.
    set(data_sources "")
    foreach(unit IN LISTS MLF_INFO_UNIT_PREFIXES)
      list(APPEND data_sources "${out}/${unit}_data.c")
    endforeach()
    list(REMOVE_ITEM sources ${data_sources})
    add_library(${target}_mlf_objects OBJECT ${data_sources} ${sources} "${out}/${MLF_INFO_NAME}.stamp")
    set(compiled "${target}_mlf_objects")
  else()
    add_library(${target} STATIC ${sources} ${objects} "${out}/${MLF_INFO_NAME}.stamp")
    set(compiled "${target}")
  endif()
  target_include_directories(${compiled} PRIVATE ${includes})
  target_link_libraries(${compiled} PRIVATE mlf::runtime ${ARG_LINK_LIBRARIES})
  if(CMAKE_GENERATOR MATCHES "Makefiles")
    add_dependencies(${compiled} mlf_check_models)  # see mlf_model_check.cmake
  endif()
  set_target_properties(${compiled} PROPERTIES C_STANDARD 99 C_EXTENSIONS ON
    INTERPROCEDURAL_OPTIMIZATION OFF)
  if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${compiled} PRIVATE -Wall -Wextra -ffunction-sections -fdata-sections
      $<$<BOOL:${MLF_BUILD_WERROR}>:-Werror>)
  endif()
  # Platform integrations (the Zephyr module) name targets carrying their compile flags here.
  if(MLF_BUILD_COMPILE_INTERFACE)
    target_link_libraries(${compiled} PRIVATE ${MLF_BUILD_COMPILE_INTERFACE})
  endif()
endfunction()

# HIDE_SYMBOLS: <target>, a STATIC library of one relocatable object (the code of
# <target>_mlf_objects and TVM's <objects>, partially linked, with objcopy's options of
# <t>.objcopy in <out>) and the objects of the parameters and arena.
function(_mlf_localize_symbols target objects out)
  set(objlib "${target}_mlf_objects")
  set(prefix "${MLF_INFO_NAME}")
  # The objects of <unit>_data.c (the parameters and the arena, mlf_build/emit/data.py) stay out
  # of the partial link and objcopy, which would copy every parameter byte twice more: they go
  # into the archive as compiled, and their symbols are already the library's own (hidden,
  # <unit>__*). Told apart by name, as CMake names objects: <source>.o, .obj or <stem>.o.
  set(data_re "")
  foreach(unit IN LISTS MLF_INFO_UNIT_PREFIXES)
    list(APPEND data_re "/${unit}_data(\\.c)?\\.[^/]*$")
  endforeach()
  list(JOIN data_re "|" data_re)
  set(code_objects "$<FILTER:$<TARGET_OBJECTS:${objlib}>,EXCLUDE,${data_re}>")
  set(data_objects "$<FILTER:$<TARGET_OBJECTS:${objlib}>,INCLUDE,${data_re}>")
  # One relocatable object of the code whose only globals are the API: the model's own
  # symbols (TVM names them tvmgen_default_* in every model) become local and cannot clash. One
  # per configuration (multi-config generators build each from that configuration's objects).
  # Each step writes a new file and the last renames it into place, so an interrupted build
  # never leaves a half-made object that looks up to date.
  set(merged "${CMAKE_CURRENT_BINARY_DIR}/mlf/${target}_model${CMAKE_C_OUTPUT_EXTENSION}")
  get_property(multi_config GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
  if(multi_config)
    set(merged "${CMAKE_CURRENT_BINARY_DIR}/mlf/${target}_model-$<CONFIG>${CMAKE_C_OUTPUT_EXTENSION}")
  endif()
  separate_arguments(cflags NATIVE_COMMAND "${CMAKE_C_FLAGS}")
  add_custom_command(
    OUTPUT "${merged}"
    COMMAND "${CMAKE_C_COMPILER}" ${cflags} -fno-lto -r -nostdlib -o "${merged}.partial"
      "${code_objects}" ${objects}
    COMMAND "${CMAKE_OBJCOPY}" "@${prefix}.objcopy" "${merged}.partial" "${merged}.tmp"
    COMMAND "${CMAKE_COMMAND}" -E rename "${merged}.tmp" "${merged}"
    BYPRODUCTS "${merged}.partial"
    WORKING_DIRECTORY "${out}"
    DEPENDS "${code_objects}" ${objects} "${out}/${prefix}.syms" "${out}/${prefix}.objcopy"
    COMMENT "mlf_build: linking ${target} into one object with only its API global"
    COMMAND_EXPAND_LISTS VERBATIM)
  add_library(${target} STATIC "${merged}" "${data_objects}")
  # The merge reads the objects of ${objlib}: Make must build them first.
  add_dependencies(${target} ${objlib})
  set_target_properties(${target} PROPERTIES LINKER_LANGUAGE C)
  # In one call: target_link_libraries()'s own keywords (debug A optimized B) stay together.
  target_link_libraries(${target} PUBLIC ${ARG_LINK_LIBRARIES})
endfunction()

# What a program linking <target> gets: the header's folder, the runtime, LINK_LIBRARIES (linked
# by the merged object's library itself with HIDE_SYMBOLS), and the alias mlf::<target>.
function(_mlf_public_interface target hide out)
  add_library(mlf::${target} ALIAS ${target})
  target_include_directories(${target} PUBLIC "$<BUILD_INTERFACE:${out}>")
  target_link_libraries(${target} PUBLIC mlf::runtime)
  if(NOT hide)
    target_link_libraries(${target} PUBLIC ${ARG_LINK_LIBRARIES})
  endif()
endfunction()

# The target properties of add_mlf_library (docs/cmake.md#target-properties), from the query.
function(_mlf_set_properties target model out)
  set(workspace static)
  if(ARG_WORKSPACE STREQUAL "caller")
    set(workspace caller)
  endif()
  set_target_properties(${target} PROPERTIES
    MLF_WORKSPACE_SIZE "${MLF_INFO_WORKSPACE_SIZE}"
    MLF_PARAMS_SIZE "${MLF_INFO_PARAMS_SIZE}"
    MLF_FORMAT_VERSION "${MLF_INFO_FORMAT_VERSION}"
    MLF_EXECUTOR "${MLF_INFO_EXECUTOR}"
    MLF_HEADER "${out}/${MLF_INFO_NAME}.h"
    MLF_PREFIXES "${MLF_INFO_UNIT_PREFIXES}"
    MLF_OUTPUT_DIR "${out}"
    MLF_MODEL "${model}"
    MLF_WORKSPACE "${workspace}"
    MLF_RUNTIME "${ARG_RUNTIME}"
    MLF_ARENA_SECTION "${ARG_ARENA_SECTION}"
    MLF_WEIGHTS_SECTION "${ARG_WEIGHTS_SECTION}"
    MLF_CMSIS_NN_FUNCTIONS "${MLF_INFO_CMSIS_NN_FUNCTIONS}"
    MLF_DEVICES "${MLF_INFO_DEVICES}")
  # mlf-build report's page per module (one per module with ALL_MODULES), next to its header.
  set(reports "")
  foreach(unit IN LISTS MLF_INFO_UNIT_PREFIXES)
    list(APPEND reports "${out}/${unit}_report.html")
  endforeach()
  set_target_properties(${target} PROPERTIES MLF_REPORT "${reports}")
  # Linker-script fragments placing WEIGHTS_SECTION / ARENA_SECTION (mlf_build/emit/sections.py).
  foreach(kind WEIGHTS ARENA)
    if(MLF_INFO_${kind}_FRAGMENT)
      set_target_properties(${target} PROPERTIES MLF_${kind}_FRAGMENT "${out}/${MLF_INFO_${kind}_FRAGMENT}")
    endif()
  endforeach()
endfunction()

# MAX_RAM / MAX_FLASH after compiling: mlf-build check-size on the library. A budget of 0 is a
# budget (as for the generator and Bazel), not "no budget".
function(_mlf_check_budgets target)
  if(NOT DEFINED ARG_MAX_RAM AND NOT DEFINED ARG_MAX_FLASH)
    return()
  endif()
  _mlf_glued_options(budget MAX_RAM:--max-ram MAX_FLASH:--max-flash)
  add_custom_command(TARGET ${target} POST_BUILD
    COMMAND ${_MLF_GENERATOR} check-size "$<TARGET_FILE:${target}>" "--name=${target}" ${budget}
    VERBATIM)
endfunction()

# TEST: <target>_smoke, or with ALL_MODULES one smoke test per module API (as Bazel's
# <name>_<module>_smoke).
function(_mlf_add_smoke_tests target)
  list(LENGTH MLF_INFO_UNIT_PREFIXES units)
  if(units EQUAL 1)
    _mlf_add_smoke_test("${target}" "${target}_smoke" "${MLF_INFO_NAME}" "${ARG_WORKSPACE}")
    return()
  endif()
  foreach(module unit IN ZIP_LISTS MLF_INFO_UNIT_MODULES MLF_INFO_UNIT_PREFIXES)
    string(MAKE_C_IDENTIFIER "${module}" module)
    _mlf_add_smoke_test("${target}" "${target}_${module}_smoke" "${unit}" "${ARG_WORKSPACE}")
  endforeach()
endfunction()

function(add_mlf_library target model)
  # ---- options ----------------------------------------------------------------------------
  set(flags TEST ALL_MODULES)
  set(one_value MODULE RUNTIME WORKSPACE ALIGN WEIGHTS_SECTION ARENA_SECTION MAX_RAM MAX_FLASH
    HIDE_SYMBOLS OUTPUT_DIR AOT_API CMSIS_NN)
  set(multi_value LINK_LIBRARIES IO_SHAPES DEVICES)
  cmake_parse_arguments(PARSE_ARGV 2 ARG "${flags}" "${one_value}" "${multi_value}")
  _mlf_check_target_name("${target}")
  set(shape "")  # the call's arguments (empty ones too): each a keyword, or "-" for a value
  if(ARGC GREATER 2)
    math(EXPR last "${ARGC} - 1")
    foreach(i RANGE 2 ${last})
      set(arg "${ARGV${i}}")
      if(arg IN_LIST flags OR arg IN_LIST one_value OR arg IN_LIST multi_value)
        list(APPEND shape "${arg}")
      else()
        list(APPEND shape "-")
      endif()
    endforeach()
  endif()
  _mlf_check_call_shape("${target}" "${one_value}" ${shape})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "add_mlf_library(${target}): unknown arguments: ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  _mlf_finish_options("${target}" "${one_value}")
  _mlf_locate("${target}" model out)
  _mlf_generator_options("${target}" opts)

  # ---- query (with the ABI probe when the model carries objects) --------------------------
  set(info "${CMAKE_CURRENT_BINARY_DIR}/mlf/${target}.info.cmake")
  set(digest_file "${CMAKE_CURRENT_BINARY_DIR}/mlf/${target}.model-digest")
  _mlf_query_cached("${target}" "${model}" "${out}" "${info}" "${digest_file}" opts)
  include("${info}")  # MLF_INFO_*: the outputs, sizes, C names, warnings
  _mlf_register("${target}" "${model}" "${out}" "${info}" "${digest_file}")

  # ---- generate and compile ----------------------------------------------------------------
  _mlf_add_generation("${target}" "${model}" "${out}" "${opts}" "${digest_file}")
  _mlf_model_sources("${out}" sources objects includes)
  _mlf_hide_symbols("${target}" hide)
  _mlf_compile("${target}" ${hide} "${out}" "${sources}" "${objects}" "${includes}")

  # ---- localize symbols: one object whose only globals are the API -------------------------
  if(hide)
    _mlf_localize_symbols("${target}" "${objects}" "${out}")
  endif()

  # ---- properties, budgets, tests, hooks ----------------------------------------------------
  _mlf_public_interface("${target}" ${hide} "${out}")
  _mlf_set_properties("${target}" "${model}" "${out}")
  _mlf_check_budgets("${target}")
  if(ARG_TEST)
    _mlf_add_smoke_tests("${target}")
  endif()
  # Platform integrations check and place each library (the Zephyr module: RAM check, linker
  # fragments); each hook is a function called with the target's name.
  foreach(hook IN LISTS MLF_BUILD_LIBRARY_HOOKS)
    cmake_language(CALL "${hook}" "${target}")
  endforeach()
endfunction()

# CMSIS_NN <target>: that target. CMSIS_NN <folder>: a static library of the folder's Source/**.c
# with Include/ public, one per folder however many models use it (mlf_cmsis_nn, then
# mlf_cmsis_nn_2, ...). It gets the project's flags, so each CPU gets its own kernels (C, DSP or
# MVE, chosen by CMSIS-NN from the compiler's __ARM_FEATURE_* macros).
function(_mlf_cmsis_nn_target out target value)
  if(TARGET "${value}")
    set(${out} "${value}" PARENT_SCOPE)
    return()
  endif()
  get_filename_component(dir "${value}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  if(NOT EXISTS "${dir}/Include/arm_nnfunctions.h" OR NOT IS_DIRECTORY "${dir}/Source")
    message(FATAL_ERROR "add_mlf_library(${target}): CMSIS_NN ${value} is neither a CMake target "
      "nor a CMSIS-NN folder (with Include/arm_nnfunctions.h and Source/)")
  endif()
  get_property(lib GLOBAL PROPERTY "_MLF_CMSIS_NN_LIBRARY:${dir}")
  if(NOT lib)
    get_property(count GLOBAL PROPERTY _MLF_CMSIS_NN_COUNT)
    if(NOT count)
      set(count 0)
    endif()
    math(EXPR count "${count} + 1")
    set_property(GLOBAL PROPERTY _MLF_CMSIS_NN_COUNT ${count})
    set(lib mlf_cmsis_nn)
    if(count GREATER 1)
      set(lib mlf_cmsis_nn_${count})
    endif()
    file(GLOB_RECURSE sources CONFIGURE_DEPENDS "${dir}/Source/*.c")
    add_library(${lib} STATIC ${sources})
    target_include_directories(${lib} PUBLIC "${dir}/Include")
    set_target_properties(${lib} PROPERTIES C_STANDARD 99 C_EXTENSIONS ON)
    if(CMAKE_C_COMPILER_ID MATCHES "GNU|Clang")
      # CMSIS-NN 4.x's Internal/arm_nn_compiler.h uses uint8_t/uint32_t relying on <arm_acle.h>
      # to have included <stdint.h>, which only holds when compiling for Arm: host builds (the
      # C kernels, for tests on the build machine) need it included first.
      target_compile_options(${lib} PRIVATE -include stdint.h)
    endif()
    if(MLF_BUILD_COMPILE_INTERFACE)
      target_link_libraries(${lib} PRIVATE ${MLF_BUILD_COMPILE_INTERFACE})
    endif()
    set_property(GLOBAL PROPERTY "_MLF_CMSIS_NN_LIBRARY:${dir}" ${lib})
  endif()
  set(${out} ${lib} PARENT_SCOPE)
endfunction()

# The query's warnings (MLF_INFO_WARNING_<i> of the included info file), each shown once per
# configure run however many libraries read the same archive; the build's generation, from the
# same archive and options, does not repeat them (--no-warnings). One variable per warning: free
# text is never split or merged as a CMake list would be; a global property per text (by hash)
# remembers what this run showed.
function(_mlf_show_warnings)
  if(NOT MLF_INFO_WARNING_COUNT GREATER 0)
    return()
  endif()
  math(EXPR last "${MLF_INFO_WARNING_COUNT} - 1")
  foreach(i RANGE ${last})
    set(w "${MLF_INFO_WARNING_${i}}")
    string(SHA1 key "${w}")
    get_property(shown GLOBAL PROPERTY "_MLF_WARNING_SHOWN_${key}")
    if(NOT shown)
      set_property(GLOBAL PROPERTY "_MLF_WARNING_SHOWN_${key}" TRUE)
      message(WARNING "mlf-build: ${w}")
    endif()
  endforeach()
endfunction()

function(_mlf_query target model out info opts)
  execute_process(
    COMMAND ${_MLF_GENERATOR} generate "${model}" "--out=${out}" ${opts} --list "--cmake-info=${info}"
    RESULT_VARIABLE rc OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    string(STRIP "${err}" err)
    message(FATAL_ERROR "add_mlf_library(${target}): ${err}")
  endif()
endfunction()

function(_mlf_add_smoke_test target exe prefix workspace)
  add_executable(${exe} "${MLF_BUILD_RUNTIME_DIR}/smoke/mlf_smoke.c")
  string(TOUPPER "${prefix}" upper)
  target_compile_definitions(${exe} PRIVATE "MLF_SMOKE_HEADER=\"${prefix}.h\"" "MLF_SMOKE_NAME=${prefix}"
    "MLF_SMOKE_UPPER=${upper}")
  if(NOT workspace STREQUAL "caller")
    target_compile_definitions(${exe} PRIVATE MLF_SMOKE_STATIC_RUN)
  endif()
  set_target_properties(${exe} PROPERTIES C_STANDARD 99 C_EXTENSIONS ON)
  target_link_libraries(${exe} PRIVATE ${target})
  if(CMAKE_CROSSCOMPILING)
    if(NOT MLF_QEMU_MACHINE)
      message(FATAL_ERROR "add_mlf_library(${target} ... TEST): cross-compiled smoke tests run under "
        "QEMU and need cmake/toolchains/arm-none-eabi.cmake (MLF_QEMU_MACHINE is not set)")
    endif()
    include("${MLF_BUILD_CMAKE_DIR}/qemu/MLFQemu.cmake")
    target_link_libraries(${exe} PRIVATE mlf::qemu_support)
    set_target_properties(${exe} PROPERTIES SUFFIX ".elf")
    # A WEIGHTS_SECTION / ARENA_SECTION library only links when its fragments are placed.
    get_target_property(weights ${target} MLF_WEIGHTS_FRAGMENT)
    get_target_property(arena ${target} MLF_ARENA_FRAGMENT)
    if(weights OR arena)
      mlf_qemu_place_sections(${exe} ${target})
    endif()
  endif()
  add_test(NAME ${exe} COMMAND ${exe})
  set_tests_properties(${exe} PROPERTIES TIMEOUT 300 PASS_REGULAR_EXPRESSION "mlf-smoke: PASS"
    FAIL_REGULAR_EXPRESSION "mlf-smoke: FAIL")
endfunction()
