"""The single source of the project's version.

CMake (cmake/mlf_buildConfigVersion.cmake), pyproject.toml (regex provider), MODULE.bazel and
the Zephyr module read or are checked against this literal; tests/test_version.py keeps them equal.
"""

__version__ = "0.1.0"
