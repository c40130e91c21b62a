"""What `mlf-build generate` writes into its output folder, for mlf_library to declare.

Bazel declares every output before an action runs, so the rule must know the generator's file
names. They are kept here, as plain data: tests/test_bazel.py (test_declared_outputs, no Bazel
needed) checks them against `mlf-build generate --list` for every option that changes them, and
bazel/mlf_build_gen.py fails any build in which the generator wrote something not declared.

MLF_OUTPUT_FILES: files at the top of the folder ("{t}" is the C prefix of the library), by
the option that adds them ("" = always). The ones ending in .c are compiled directly.
MLF_OUTPUT_DIRS: folders (declared as tree artifacts, whose content varies per model).
"""

MLF_OUTPUT_FILES = {
    "": [
        "{t}.h",
        "{t}_runner.c",
        "{t}_data.c",
        "{t}.syms",
        "{t}.objcopy",
        "{t}.mk",
        "{t}_manifest.json",
        "{t}_params.bin",
    ],
    "runtime=tvm_crt": ["{t}_crt_platform.c"],
    "weights_section": ["{t}_weights.ld"],
    "arena_section": ["{t}_arena.ld"],
}

MLF_OUTPUT_DIRS = {
    "": ["codegen"],
    "runtime=tvm_crt": ["crt"],
}
