"""MlfInfo, the provider of mlf_library (bazel/mlf_library.bzl, which re-exports it).

A file of its own so that bazel/qemu.bzl (mlf_qemu_support reads MlfInfo.linker_fragments) and
mlf_library.bzl (which loads qemu.bzl for its smoke test) can both load it without a load cycle.
"""

MlfInfo = provider(
    doc = "What mlf_library generated and built.",
    fields = {
        "name": "str: the C prefix <t> of the API (#include \"<t>.h\", <t>_run())",
        "header": "File: <t>.h (with all_modules, the umbrella header including every module's)",
        "manifest": "File: <t>_manifest.json, with workspace_size, params_size, io_size, " +
                    "public_symbols, sources, ... (mlf-build/manifest/1)",
        "params": "File: <t>_params.bin (may be empty); None with all_modules (see modules)",
        "syms": "File: <t>.syms, the symbols kept global",
        "linker_fragments": "list of File: <t>_weights.ld / <t>_arena.ld, linker script fragments " +
                            "placing weights_section / arena_section",
        "generated": "depset of File: everything the generator wrote (files and tree artifacts)",
        "output_dir": "str: exec path of the folder holding the generated files",
        "archive": "File: the static library",
        "runtime": "str: builtin or tvm_crt",
        "workspace": "str: static or caller",
        "align": "int: alignment of parameters and arena",
        "module": "str: the module asked for (\"\" = the only one, or all_modules)",
        "all_modules": "list of str: the modules built with all_modules, as listed ([] = one module)",
        "modules": "list of struct(module, prefix, header, params, report), one per module built, in " +
                   "the order of all_modules: the module's name (\"\" = the only one), the C prefix of " +
                   "its API (<t>, or <t>_<module> with all_modules), its header, <prefix>_params.bin " +
                   "and <prefix>_report.html",
        "hide_symbols": "bool",
    },
)
