# mlf_build CMake package: TVM Model Library Format archives as static libraries.
#
#   find_package(mlf_build 0.1 CONFIG REQUIRED)   # -DCMAKE_PREFIX_PATH="$(mlf-build --cmakedir)"
#   add_mlf_library(net model.tar)                  # see MLFLibrary.cmake for every argument
#   target_link_libraries(app PRIVATE net)
#
# or, from a source checkout or FetchContent: add_subdirectory(<mlf_build>) and the same calls.
#
# Provides: add_mlf_library() (MLFLibrary.cmake), add_mlf_runtime() and the shared target
# mlf::runtime (MLFRuntime.cmake). Cache variable MLF_BUILD_PYTHON selects the Python that runs
# the generator (3.10+, standard library only); by default the interpreter beside the installed
# package, else the one find_package(Python3) finds.

include_guard(GLOBAL)
cmake_minimum_required(VERSION 3.20...4.4)

include("${CMAKE_CURRENT_LIST_DIR}/MLFPackageLocation.cmake")
set(mlf_build_VERSION "${_MLF_PACKAGE_VERSION}")
# Cache (global) variables: add_mlf_library() may be called from any directory, including parents
# of the one that did add_subdirectory(<mlf_build>).
set(MLF_BUILD_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "mlf_build CMake files")
set(MLF_BUILD_RUNTIME_DIR "${_MLF_PACKAGE_DIR}/runtime" CACHE INTERNAL "mlf_build C runtime")
set(MLF_BUILD_VERSION "${_MLF_PACKAGE_VERSION}" CACHE INTERNAL "mlf_build version")

include("${CMAKE_CURRENT_LIST_DIR}/MLFPython.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/MLFRuntime.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/MLFLibrary.cmake")
set(mlf_build_FOUND TRUE)
