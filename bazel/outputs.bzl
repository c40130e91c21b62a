"""What `mlf-build generate` writes into its output folder, for mlf_library to declare.

Bazel declares every output before an action runs, so the rule must know the generator's file
names. They are kept here, as plain data: tests/test_bazel.py (test_declared_outputs, no Bazel
needed) checks them against `mlf-build generate --list` for every option that changes them, and
bazel/mlf_build_gen.py fails any build in which the generator wrote something not declared.

Tables map the option that adds names ("" = always; "attr=value" = when the attribute has that
value; "attr" = when it is set) to the names it adds.

MLF_OUTPUT_FILES: files of the library, at the top of the folder ("{t}" is the C prefix of the
library).
MLF_MODULE_FILES: files written once per module built ("{m}" is the module's C prefix: "{t}" for
the one module of a library, mlf_c_prefix("{t}_<module>") for each module of all_modules). The
ones ending in .c (in both tables) are compiled directly.
MLF_OUTPUT_DIRS: folders (declared as tree artifacts, whose content varies per model).
"""

MLF_OUTPUT_FILES = {
    "": [
        "{t}.syms",
        "{t}.objcopy",
        "{t}.mk",
        "{t}_manifest.json",
    ],
    # The umbrella header, including every module's <t>_<module>.h.
    "all_modules": ["{t}.h"],
    "weights_section": ["{t}_weights.ld"],
    "arena_section": ["{t}_arena.ld"],
}

MLF_MODULE_FILES = {
    "": [
        "{m}.h",
        "{m}_runner.c",
        "{m}_data.c",
        "{m}_params.bin",
        # mlf-build report: where the module's RAM and flash go (output group mlf_report).
        "{m}_report.html",
    ],
    "runtime=tvm_crt": ["{m}_crt_platform.c"],
}

MLF_OUTPUT_DIRS = {
    "": ["codegen"],
    "runtime=tvm_crt": ["crt"],
}
