"""mlf_build benchmarks: run them with ``bench/run`` (see bench/README.md)."""
