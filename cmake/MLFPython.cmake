# Finds the Python that runs the mlf_build generator and defines the command to run it.
#
# Sets MLF_BUILD_PYTHON (cache), _MLF_GENERATOR (internal: python launcher pythonpath) and
# _MLF_GENERATOR_FILES (internal: the generator's sources, so libraries rebuild when it changes).

include_guard(GLOBAL)

if(NOT MLF_BUILD_PYTHON)
  if(_MLF_PYTHONPATH MATCHES "[/\\\\](site|dist)-packages$")
    # Installed wheel: the interpreter of the environment it was installed into
    # (<prefix>/lib/pythonX.Y/site-packages -> <prefix>/bin/python3).
    set(_mlf_candidates
      "${_MLF_PYTHONPATH}/../../../bin/python3"
      "${_MLF_PYTHONPATH}/../../python.exe")
  else()
    # Source checkout: the virtualenv tools/bootstrap.sh creates there.
    set(_mlf_candidates "${_MLF_PYTHONPATH}/.venv/bin/python3" "${_MLF_PYTHONPATH}/.venv/Scripts/python.exe")
  endif()
  foreach(_mlf_py IN LISTS _mlf_candidates)
    if(EXISTS "${_mlf_py}")
      get_filename_component(_mlf_py "${_mlf_py}" ABSOLUTE)
      set(MLF_BUILD_PYTHON "${_mlf_py}")
      break()
    endif()
  endforeach()
  if(NOT MLF_BUILD_PYTHON)
    find_package(Python3 3.10 COMPONENTS Interpreter)
    if(Python3_FOUND)
      set(MLF_BUILD_PYTHON "${Python3_EXECUTABLE}")
    endif()
  endif()
  if(NOT MLF_BUILD_PYTHON)
    message(FATAL_ERROR "mlf_build: no Python 3 interpreter found; set MLF_BUILD_PYTHON")
  endif()
  set(MLF_BUILD_PYTHON "${MLF_BUILD_PYTHON}" CACHE FILEPATH "Python 3.10+ that runs the mlf_build generator")
endif()

# The generator's bytecode is cached in the build tree (see mlf_build_run.py).
set(_MLF_GENERATOR "${MLF_BUILD_PYTHON}" -X "pycache_prefix=${CMAKE_BINARY_DIR}/CMakeFiles/mlf_build_pycache"
  "${CMAKE_CURRENT_LIST_DIR}/mlf_build_run.py" "${_MLF_PYTHONPATH}"
  CACHE INTERNAL "command that runs mlf-build")
file(GLOB_RECURSE _mlf_files "${_MLF_PACKAGE_DIR}/*.py")
list(APPEND _mlf_files "${CMAKE_CURRENT_LIST_DIR}/mlf_build_run.py")
set(_MLF_GENERATOR_FILES "${_mlf_files}" CACHE INTERNAL "files of the mlf_build generator")

# Check once per build tree that this interpreter can run this generator.
if(NOT _MLF_BUILD_PYTHON_CHECKED STREQUAL "${MLF_BUILD_PYTHON};${_MLF_PACKAGE_VERSION}")
  execute_process(
    COMMAND ${_MLF_GENERATOR} --version
    RESULT_VARIABLE _mlf_rc OUTPUT_VARIABLE _mlf_out ERROR_VARIABLE _mlf_err
    OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _mlf_rc EQUAL 0 OR NOT _mlf_out STREQUAL "mlf-build ${_MLF_PACKAGE_VERSION}")
    message(FATAL_ERROR "mlf_build: ${MLF_BUILD_PYTHON} cannot run the mlf_build ${_MLF_PACKAGE_VERSION} "
      "generator in ${_MLF_PYTHONPATH} (it needs Python 3.10 or newer; set MLF_BUILD_PYTHON):\n"
      "${_mlf_out}${_mlf_err}")
  endif()
  set(_MLF_BUILD_PYTHON_CHECKED "${MLF_BUILD_PYTHON};${_MLF_PACKAGE_VERSION}" CACHE INTERNAL "")
endif()
