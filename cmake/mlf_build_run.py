"""Runs mlf-build from a given folder, whatever the interpreter's own sys.path holds.

CMake calls ``<python> -X pycache_prefix=<build>/CMakeFiles/mlf_build_pycache mlf_build_run.py
<folder holding the mlf_build package> <args...>`` so the generator is always the package that
sits beside this CMake package (same version), and it never writes bytecode into a source tree
(read-only checkouts work). Its bytecode is cached in the build tree instead: compiling the
generator's modules anew would cost each generator run ~0.1 s, which is most of a small model's
generation time.
"""

import sys

# Bytecode only where the build asked for it (whatever PYTHONDONTWRITEBYTECODE says: the cache
# is the build's own folder), never beside the sources.
sys.dont_write_bytecode = sys.pycache_prefix is None
sys.path.insert(0, sys.argv.pop(1))

from mlf_build.cli import main  # noqa: E402

raise SystemExit(main())
