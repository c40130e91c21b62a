# Where the mlf_build Python package sits relative to these CMake files, and its version.
#
# Two layouts: an installed wheel (site-packages/mlf_build/cmake/ next to the package's
# runtime/) and a source checkout (cmake/ beside mlf_build/). Sets _MLF_PACKAGE_DIR (the
# mlf_build package), _MLF_PYTHONPATH (the folder holding it) and _MLF_PACKAGE_VERSION.

if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/../runtime/src/mlf_arena.c")
  get_filename_component(_MLF_PACKAGE_DIR "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
elseif(EXISTS "${CMAKE_CURRENT_LIST_DIR}/../mlf_build/runtime/src/mlf_arena.c")
  get_filename_component(_MLF_PACKAGE_DIR "${CMAKE_CURRENT_LIST_DIR}/../mlf_build" ABSOLUTE)
else()
  message(FATAL_ERROR "mlf_build: cannot find the mlf_build package next to ${CMAKE_CURRENT_LIST_DIR}")
endif()
get_filename_component(_MLF_PYTHONPATH "${_MLF_PACKAGE_DIR}/.." ABSOLUTE)
file(STRINGS "${_MLF_PACKAGE_DIR}/_version.py" _mlf_version_line REGEX "^__version__ = ")
string(REGEX REPLACE "^__version__ = \"([^\"]+)\".*" "\\1" _MLF_PACKAGE_VERSION "${_mlf_version_line}")
