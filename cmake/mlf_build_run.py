"""Runs mlf-build from a given folder, whatever the interpreter's own sys.path holds.

CMake calls ``<python> mlf_build_run.py <folder holding the mlf_build package> <args...>`` so
the generator is always the package that sits beside this CMake package (same version), and it
never writes bytecode into a source tree (read-only checkouts work).
"""

import sys

sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv.pop(1))

from mlf_build.cli import main  # noqa: E402

raise SystemExit(main())
