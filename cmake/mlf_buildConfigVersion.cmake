# Version check for find_package(mlf_build <version> CONFIG).
# The version comes from mlf_build/_version.py, the project's single source of truth. Versions
# are compatible when the major number matches and, while the major number is 0, the minor
# number too (0.x releases may break compatibility, as in semantic versioning); the installed
# version must also be at least the requested one.

include("${CMAKE_CURRENT_LIST_DIR}/MLFPackageLocation.cmake")
set(PACKAGE_VERSION "${_MLF_PACKAGE_VERSION}")

if(PACKAGE_FIND_VERSION_RANGE)
  # A range (find_package(mlf_build 0.1...0.3)): inside it is compatible.
  if((PACKAGE_FIND_VERSION_RANGE_MIN STREQUAL "INCLUDE" AND PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION_MIN)
     OR (PACKAGE_FIND_VERSION_RANGE_MIN STREQUAL "EXCLUDE" AND PACKAGE_VERSION VERSION_LESS_EQUAL PACKAGE_FIND_VERSION_MIN)
     OR (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "INCLUDE" AND PACKAGE_VERSION VERSION_GREATER PACKAGE_FIND_VERSION_MAX)
     OR (PACKAGE_FIND_VERSION_RANGE_MAX STREQUAL "EXCLUDE" AND PACKAGE_VERSION VERSION_GREATER_EQUAL PACKAGE_FIND_VERSION_MAX))
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  else()
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
  endif()
elseif(PACKAGE_VERSION VERSION_LESS PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
else()
  string(REGEX MATCH "^([0-9]+)\\.([0-9]+)" _mlf_have "${PACKAGE_VERSION}")
  set(_mlf_have_major "${CMAKE_MATCH_1}")
  set(_mlf_have_minor "${CMAKE_MATCH_2}")
  if(NOT PACKAGE_FIND_VERSION_MAJOR STREQUAL _mlf_have_major)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  elseif(_mlf_have_major STREQUAL "0" AND PACKAGE_FIND_VERSION_COUNT GREATER 1
         AND NOT PACKAGE_FIND_VERSION_MINOR STREQUAL _mlf_have_minor)
    set(PACKAGE_VERSION_COMPATIBLE FALSE)
  else()
    set(PACKAGE_VERSION_COMPATIBLE TRUE)
    if(PACKAGE_FIND_VERSION STREQUAL PACKAGE_VERSION)
      set(PACKAGE_VERSION_EXACT TRUE)
    endif()
  endif()
endif()
