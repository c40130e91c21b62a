"""mlf_library(): a TVM Model Library Format archive as an ordinary C library (CcInfo).

The Bazel twin of CMake's add_mlf_library() (cmake/MLFLibrary.cmake): same attributes (the CMake
option in lower case), same generator, same generated header and API, same runtime.

    load("@mlf_build//bazel:defs.bzl", "mlf_library")

    mlf_library(
        name,               # the library, and the C prefix of its API: #include "<name>.h",
                            # <name>_run(), WAVEFORM_WORKSPACE_SIZE ... (non-identifier characters
                            # become "_", lower case, as in CMake). Letters, digits and _ . + -
                            # only, and a C prefix no other mlf_library of the package has.
        src,                # MLF tarball (.tar, .tar.gz, .tgz): a file or another rule's output,
                            # not a folder (Bazel would not track its contents). Versions 1-7.
        module = "",        # MODULE: module of a multi-module (version 7) archive. Default: the
                            # only one.
        all_modules = [],   # ALL_MODULES: build every module of the archive into this library,
                            # one API per module: <name>_<module>.h, <name>_<module>_run(), ...,
                            # all included by the umbrella header <name>.h. List the modules, e.g.
                            # ["mixer", "waveform"] (`mlf-build inspect` shows them), in any order:
                            # Bazel declares their files before the archive is read, and the build
                            # fails unless they are exactly the archive's. Not with `module`.
        runtime = "builtin",  # RUNTIME: builtin (mlf_build's runtime, @mlf_build//mlf_build/runtime,
                            # shared by all models) or tvm_crt (TVM's CRT bundled in the MLF).
        workspace = "static",  # WORKSPACE: static (the library owns an arena of
                            # <NAME>_WORKSPACE_SIZE bytes and offers <name>_run()) or caller (no
                            # arena; call <name>_run_with_workspace() with yours).
        align = 16,         # ALIGN: alignment of parameter data and of the arena (power of two;
                            # the arena is never aligned to less than 16).
        weights_section = "",  # WEIGHTS_SECTION: linker section for parameter data
                            # (default .rodata.<name>.params).
        arena_section = "",  # ARENA_SECTION: linker section of the static arena (default
                            # .bss.<name>.arena).
        max_ram = "",       # MAX_RAM: fail the build when the static arena exceeds this many
                            # bytes ("65536", "64K", "2M", any size; "0" is a budget of zero
                            # bytes), and after compiling, when the library's RAM (arena + data
                            # + bss) does.
        max_flash = "",     # MAX_FLASH: fail the build when the library's flash (code +
                            # read-only data + data image) exceeds this (parameters alone are
                            # checked before compiling).
        io_shapes = [],     # IO_SHAPES: shapes the MLF does not record (AOT exports of TVM
                            # 0.8-0.10 with several outputs), e.g. ["logits=1x4", "probs=1x4:float32"].
        aot_api = "",       # AOT_API: packed or unpacked, the calling convention of an AOT entry
                            # point compiled to an object (LLVM target), which the MLF does not record.
        hide_symbols = True,  # HIDE_SYMBOLS: link the model's code into one relocatable object
                            # (ld -r) whose only global symbols are the API (objcopy
                            # --keep-global-symbols with <name>.syms), so any number of models (all
                            # named "default" by TVM) coexist in one program; the parameters and
                            # arena, archived beside it, have hidden <name>__* symbols.
        cmsis_nn = None,    # CMSIS_NN: the cc_library providing CMSIS-NN, for models compiled with
                            # TVM's cmsis-nn target (they call arm_*_s8), e.g. "@cmsis_nn//:cmsis_nn"
                            # from a checkout with build_file = "@mlf_build//bazel:cmsis_nn.BUILD".
                            # Such a model without it fails the MlfGenerate action with one line
                            # (the archive is only read then).
        devices = {},       # DEVICES: the drivers of the devices an AOT model runs operators on
                            # (struct tvmgen_<m>_devices in its header), driver label -> device,
                            # e.g. {"@ethos_u_driver//:ethosu_core_driver": "ethos_u"} (a
                            # label-keyed dict: Bazel 4 has no string-keyed label dict). Each driver
                            # is compiled against and linked; for ethos_u mlf_build adds its
                            # TVMEthosULaunch() and hooks (mlf_build/runtime/devices/ethos_u). The
                            # handles are <name>_devices[] (docs/header.md).
        deps = [],          # LINK_LIBRARIES: other cc targets the generated code needs; compiled
                            # against and linked.
        test = False,       # TEST: also <name>_smoke, a test that runs the model once on
                            # deterministic inputs and checks the arena contract
                            # (mlf_build/runtime/smoke/mlf_smoke.c): natively on the host, under
                            # qemu-system-arm for @mlf_build//bazel/platforms:cortex_m3/cortex_m4f.
                            # With all_modules, one test per module, <name>_<module>_smoke, and
                            # the test_suite <name>_smoke of them all.
        **kwargs,           # visibility, tags, testonly, target_compatible_with, features, ...
    )

There is no OUTPUT_DIR: generated files go to bazel-bin/<package>/_mlf/<name>/ (CMake:
<binary dir>/mlf/<target>/), with the same names and bytes as CMake's. all_modules is CMake's
ALL_MODULES with the module names spelled out, because the per-module file names must be known
before the archive is read (bazel/outputs.bzl); the generator checks them
(mlf-build generate --all-modules --expect-module <module>...).

Provides
  CcInfo    put the library in `deps` of cc_library/cc_binary/cc_test: the header's folder is on
            the include path, the model's archive and the runtime (and `deps`) are linked.
  MlfInfo   (below) what was generated; the sizes of the arena, parameters and I/O are only known
            once the generator has run, so they are in `manifest` (JSON: workspace_size,
            params_size, io_size, ...) and, for C, in the header (<NAME>_WORKSPACE_SIZE, ...).
  DefaultInfo  the archive, the header and the manifest.
  OutputGroupInfo  mlf_generated (every generated file and folder), mlf_units, mlf_objects,
            mlf_report (<t>_report.html, one per module: the arena's memory map, flash and RAM;
            `bazel build //pkg:net --output_groups=mlf_report`).

How it builds (every step an action with declared inputs and outputs; no genrule, no `local`),
each step one function that _mlf_library_impl calls in this order:
  1. MlfGenerate (_declare_outputs, _generate): the generator (//mlf_build:generator, a
     py_binary in the exec configuration) writes the fixed files <t>.h, <t>_runner.c, <t>_data.c, <t>.syms, <t>_manifest.json,
     <t>_params.bin (and <t>_crt_platform.c for tvm_crt), the folders codegen/ (and crt/) as
     tree artifacts, and one unit per wrapped source (see bazel/mlf_build_gen.py). With
     all_modules, the header, runner, data and parameters once per module (<t>_<module>.h, ...)
     and the umbrella <t>.h (bazel/outputs.bzl lists them all). It also gets --abi-probe, an
     object compiled for the target, to check objects an MLF carries.
  2. CppCompile (_compile) with the target's C toolchain (C99 with GNU extensions, -Wall -Wextra
     -ffunction-sections -fdata-sections); <t>_params.bin is an input of the compile of
     <t>_data.c, whose .incbin finds it through -I.
  3. hide_symbols (_localize_symbols): MlfPartialLink (the toolchain's ld -r of the model's
     code, with TVM's objects from codegen/lib), MlfLocalizeSymbols (objcopy with the options of
     <t>.objcopy: --keep-global-symbols=<t>.syms and the section renames for
     weights_section/arena_section), and Bazel's archiver, which takes that object and the
     objects of <t>_data.c (parameters and arena, under hidden <t>__* symbols) as compiled, so
     the parameters skip ld -r and objcopy.
     Otherwise MlfArchive (_archive: the toolchain's ar rcsD) of all objects.
  4. max_ram/max_flash: MlfCheckSize (_check_budgets: mlf-build check-size on the archive), an
     input of every link of the library; then the providers (_cc_info, _mlf_info).
"""

load("@bazel_tools//tools/cpp:toolchain_utils.bzl", "find_cpp_toolchain")
load("@rules_cc//cc:cc_binary.bzl", "cc_binary")
load("@rules_cc//cc/common:cc_common.bzl", "cc_common")
load("@rules_cc//cc/common:cc_info.bzl", "CcInfo")
load(":outputs.bzl", "MLF_MODULE_FILES", "MLF_OUTPUT_DIRS", "MLF_OUTPUT_FILES")
load(":providers.bzl", _MlfInfo = "MlfInfo")
load(":qemu.bzl", "mlf_binary_test", "mlf_qemu_support")

MlfInfo = _MlfInfo

_CC_TOOLCHAIN_TYPE = "@bazel_tools//tools/cpp:toolchain_type"

# Flags the generated code is compiled with (CMake: C_STANDARD 99, C_EXTENSIONS ON and these).
# Not LTO, whatever --copt says: the .incbin of the parameters resolves only when the object is
# assembled, and the partial link and objcopy need real code, not compiler IR.
_MODEL_COPTS = ["-std=gnu99", "-Wall", "-Wextra", "-ffunction-sections", "-fdata-sections", "-fno-lto"]

_IDENT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

def _c_char(c):
    """One char of a name as library_prefix turns it into C: itself, or "_" for each character.

    Bazel's strings hold the UTF-8 bytes of the BUILD file, one char each, where Python's hold
    characters: a byte 0x80-0xBF continues a character whose first byte already gave its "_".
    tests/test_options.py runs this against library_prefix on hostile names.
    """
    if c in _IDENT_CHARS:
        return c
    return "" if c >= "\200" and c < "\300" else "_"

def mlf_c_prefix(name):
    """The C prefix of the API of a library (mlf_build.naming.library_prefix, without its checks).

    Args:
      name: the library's name.

    Returns:
      The name as a lower-case C identifier: other characters become "_", a leading digit gets "_".
    """
    ident = "".join([_c_char(c) for c in name.elems()])
    if ident[:1].isdigit():
        ident = "_" + ident
    return ident.lower()

def _cc_setup(ctx):
    cc_toolchain = find_cpp_toolchain(ctx)
    feature_configuration = cc_common.configure_features(
        ctx = ctx,
        cc_toolchain = cc_toolchain,
        requested_features = ctx.features,
        unsupported_features = ctx.disabled_features,
    )
    return cc_toolchain, feature_configuration

def _selected(table, attrs, **fields):
    """The entries of an outputs.bzl table that apply to these attributes, with {t} or {m} filled in."""
    out = []
    for key, names in table.items():
        attr, _, value = key.partition("=")
        if not attr or (getattr(attrs, attr) == value if value else getattr(attrs, attr)):
            out += [n.format(**fields) for n in names]
    return out

def _modules(ctx, t):
    """(module, C prefix of its API) of each module the library is built from."""
    if not ctx.attr.all_modules:
        return [(ctx.attr.module, t)]
    if ctx.attr.module:
        fail("mlf_library(%s): give either module or all_modules, not both" % ctx.label)
    seen = {}
    out = []
    for module in ctx.attr.all_modules:
        prefix = mlf_c_prefix(t + "_" + module)
        if prefix in seen:
            if seen[prefix] == module:
                fail("mlf_library(%s): all_modules lists %r twice" % (ctx.label, module))
            fail("mlf_library(%s): all_modules: %r and %r would both have the C prefix %s" % (
                ctx.label,
                seen[prefix],
                module,
                prefix,
            ))
        seen[prefix] = module
        out.append((module, prefix))
    return out

def _declare(ctx, rel):
    return ctx.actions.declare_file("_mlf/%s/%s" % (ctx.label.name, rel))

def _llvm_object(f):
    # Objects TVM compiled (llvm target), shipped in the MLF and extracted to codegen/lib/.
    return f.path if "/codegen/lib/" in f.path else None

def _devices(ctx):
    """The device names of the devices attribute, checked, and mlf_build's glue for them.

    Args:
      ctx: the rule context.

    Returns:
      (sorted device names, the files of mlf_build/runtime/devices/<device>/ for each; none for
      devices mlf_build has no glue for).
    """
    devices = []
    for driver, device in ctx.attr.devices.items():
        if not device or device[0].isdigit() or [c for c in device.elems() if c not in _IDENT_CHARS]:
            fail("mlf_library(%s): devices: %r (for %s) is not a device name such as \"ethos_u\"" % (
                ctx.label,
                device,
                driver.label,
            ))
        if device in devices:
            fail("mlf_library(%s): devices names %r twice" % (ctx.label, device))
        devices.append(device)
    glue = [f for f in ctx.files._device_glue for d in devices if "/devices/%s/" % d in "/" + f.short_path]
    return sorted(devices), glue

def _is_size(value):
    """Whether max_ram / max_flash is digits and an optional K, M or G (options.SIZE_SHAPE)."""
    digits = value[:-1] if value[-1:] in "KkMmGg" else value
    return bool(digits) and digits.isdigit()

def _check_size(ctx, attr):
    """max_ram / max_flash: passed to the generator as written, which reads any size ("0" too)."""
    value = getattr(ctx.attr, attr)
    if value and not _is_size(value):
        fail("mlf_library(%s): %s must be a byte count such as 65536, 64K or 2M, not %r" % (ctx.label, attr, value))

def _declare_outputs(ctx, t):
    """Every file and folder the generator writes for this library, declared (bazel/outputs.bzl).

    Args:
      ctx: the rule context.
      t: the library's C prefix.

    Returns:
      A struct of the declared outputs, by role.
    """
    name = ctx.label.name
    modules = _modules(ctx, t)
    files = [_declare(ctx, f) for f in _selected(MLF_OUTPUT_FILES, ctx.attr, t = t)]
    for _, prefix in modules:
        files += [_declare(ctx, f) for f in _selected(MLF_MODULE_FILES, ctx.attr, m = prefix)]
    dirs = [ctx.actions.declare_directory("_mlf/%s/%s" % (name, d)) for d in _selected(MLF_OUTPUT_DIRS, ctx.attr, t = t)]
    by_name = {f.basename: f for f in files}
    header = by_name[t + ".h"]
    per_module = [
        struct(
            module = module,
            prefix = prefix,
            header = by_name[prefix + ".h"],
            params = by_name[prefix + "_params.bin"],
            report = by_name[prefix + "_report.html"],
        )
        for module, prefix in modules
    ]
    return struct(
        files = files,
        dirs = dirs,
        generated = files + dirs,
        header = header,
        headers = [header] + [m.header for m in per_module if m.header != header],
        syms = by_name[t + ".syms"],
        manifest = by_name[t + "_manifest.json"],
        modules = per_module,
        params = [m.params for m in per_module],
        sources = [f for f in files if f.extension == "c"],
        fragments = [f for f in files if f.extension == "ld"],
        codegen = dirs[0],
        units = ctx.actions.declare_directory("_mlf_units/" + name),
        objcopy_args = ctx.actions.declare_file("_mlf/%s_objcopy.args" % name),
        out_dir = header.dirname,
    )

def _generate_args(ctx, gen, devices):
    """The command line of MlfGenerate: mlf_build_gen's options, then mlf-build generate's."""
    args = ctx.actions.args()
    args.add("--units", gen.units.path)
    args.add("--objcopy-args", gen.objcopy_args.path)
    for f in gen.files:
        args.add("--file", f.basename)
    for d in gen.dirs:
        args.add("--dir", d.basename)

    # Each value glued to its option (--module=<value>), so that no value is read as an option.
    args.add("--")
    args.add("generate")
    args.add(ctx.file.src.path)
    args.add(gen.out_dir, format = "--out=%s")
    args.add(ctx.label.name, format = "--name=%s")
    if ctx.attr.module:
        args.add(ctx.attr.module, format = "--module=%s")
    if ctx.attr.all_modules:
        args.add("--all-modules")
        args.add_all(ctx.attr.all_modules, format_each = "--expect-module=%s")
    args.add(ctx.attr.runtime, format = "--runtime=%s")
    args.add(ctx.attr.workspace, format = "--workspace=%s")
    args.add(str(ctx.attr.align), format = "--align=%s")
    if ctx.attr.weights_section:
        args.add(ctx.attr.weights_section, format = "--weights-section=%s")
    if ctx.attr.arena_section:
        args.add(ctx.attr.arena_section, format = "--arena-section=%s")
    if ctx.attr.max_ram:
        args.add(ctx.attr.max_ram, format = "--max-ram=%s")
    if ctx.attr.max_flash:
        args.add(ctx.attr.max_flash, format = "--max-flash=%s")
    args.add_all(ctx.attr.io_shapes, format_each = "--io-shape=%s")
    if ctx.attr.aot_api:
        args.add(ctx.attr.aot_api, format = "--aot-api=%s")
    if ctx.attr.cmsis_nn:
        args.add("--cmsis-nn")
    args.add_all(devices, format_each = "--device=%s")
    args.add(ctx.file._abi_probe.path, format = "--abi-probe=%s")
    return args

def _generate(ctx, gen, devices):
    """MlfGenerate: the generator writes every declared output (and the units, objcopy args)."""
    ctx.actions.run(
        executable = ctx.executable._generator,
        arguments = [_generate_args(ctx, gen, devices)],
        inputs = [ctx.file.src, ctx.file._abi_probe],
        outputs = gen.generated + [gen.units, gen.objcopy_args],
        mnemonic = "MlfGenerate",
        progress_message = "mlf_build: generating %s from %s" % (ctx.label, ctx.attr.src.label),
    )

def _compile(ctx, gen, glue):
    """CppCompile of the generated sources, units and device glue with the target's toolchain.

    Returns:
      A struct: the toolchain and features, the CcInfos compiled against (deps, runtime,
      cmsis_nn, drivers), the compilation context and the objects (pic or not).
    """
    cc_toolchain, feature_configuration = _cc_setup(ctx)
    dep_infos = [d[CcInfo] for d in ctx.attr.deps] + [ctx.attr._runtime[CcInfo]]
    if ctx.attr.cmsis_nn:
        dep_infos.append(ctx.attr.cmsis_nn[CcInfo])
    dep_infos += [driver[CcInfo] for driver in ctx.attr.devices]
    glue_srcs = [f for f in glue if f.extension == "c"]
    glue_hdrs = [f for f in glue if f.extension == "h"]
    private_includes = (["crt/include", "crt"] if ctx.attr.runtime == "tvm_crt" else []) + ["codegen/include"]
    out_dir = gen.out_dir
    compilation_context, compilation_outputs = cc_common.compile(
        name = ctx.label.name,
        actions = ctx.actions,
        feature_configuration = feature_configuration,
        cc_toolchain = cc_toolchain,
        srcs = gen.sources + [gen.units] + glue_srcs,
        public_hdrs = gen.headers,
        private_hdrs = glue_hdrs,
        includes = [out_dir],
        compilation_contexts = [d.compilation_context for d in dep_infos],
        user_compile_flags = _MODEL_COPTS + [
            # The units' #include "codegen/<t>__x.c", and the .incbin of <t>_params.bin: GCC
            # passes -I folders on to the assembler (-Wa,-I<dir> would split a folder name at
            # its commas, which Bazel allows in package names).
            "-iquote",
            out_dir,
            "-I" + out_dir,
        ] + ["-I%s/%s" % (out_dir, d) for d in private_includes] + ["-I" + d for d in sorted({h.dirname: 0 for h in glue_hdrs})],
        additional_inputs = gen.params + gen.dirs,
    )
    pic = bool(compilation_outputs.pic_objects)
    return struct(
        toolchain = cc_toolchain,
        features = feature_configuration,
        dep_infos = dep_infos,
        context = compilation_context,
        pic = pic,
        objects = compilation_outputs.pic_objects if pic else compilation_outputs.objects,
    )

def _localize_symbols(ctx, gen, cc):
    """One object whose only globals are the API, archived with the parameters' objects.

    MlfPartialLink (ld -r of the code, with TVM's objects from codegen/lib), then
    MlfLocalizeSymbols (objcopy with the options of <t>.objcopy).

    Returns:
      (the archive, its LibraryToLink).
    """
    name = ctx.label.name

    # The parameters and the arena (<prefix>_data.c, mlf_build/emit/data.py) go into the
    # archive as compiled: the partial link and objcopy would copy every parameter byte twice
    # more, and their symbols are already the library's own (hidden, <prefix>__*).
    data_names = [m.prefix + "_data" for m in gen.modules]
    data = [o for o in cc.objects if o.basename.split(".")[0] in data_names]
    code = [o for o in cc.objects if o not in data]
    partial = ctx.actions.declare_file("_mlf/%s_model.partial.o" % name)
    merged = ctx.actions.declare_file("_mlf/%s_model.o" % name)
    largs = ctx.actions.args()
    largs.add_all(["-r", "-o", partial.path])
    largs.add_all(code)
    largs.add_all([gen.codegen], map_each = _llvm_object)
    ctx.actions.run(
        executable = cc.toolchain.ld_executable,
        arguments = [largs],
        inputs = depset(code + [gen.codegen], transitive = [cc.toolchain.all_files]),
        outputs = [partial],
        mnemonic = "MlfPartialLink",
        progress_message = "mlf_build: linking %s into one object" % ctx.label,
    )
    ctx.actions.run(
        executable = cc.toolchain.objcopy_executable,
        arguments = ["@" + gen.objcopy_args.path, partial.path, merged.path],
        inputs = depset([partial, gen.syms, gen.objcopy_args], transitive = [cc.toolchain.all_files]),
        outputs = [merged],
        mnemonic = "MlfLocalizeSymbols",
        progress_message = "mlf_build: keeping only the API of %s global" % ctx.label,
    )
    _, linking_outputs = cc_common.create_linking_context_from_compilation_outputs(
        name = name,
        actions = ctx.actions,
        feature_configuration = cc.features,
        cc_toolchain = cc.toolchain,
        compilation_outputs = cc_common.create_compilation_outputs(
            objects = depset([] if cc.pic else [merged] + data),
            pic_objects = depset([merged] + data if cc.pic else []),
        ),
        linking_contexts = [],
        disallow_dynamic_library = True,
    )
    library = linking_outputs.library_to_link
    return library.pic_static_library or library.static_library, library

def _archive(ctx, gen, cc):
    """MlfArchive: all objects (TVM's too) in one archive, with the toolchain's ar rcsD.

    Returns:
      (the archive, its LibraryToLink).
    """
    archive = ctx.actions.declare_file("lib%s%s.a" % (ctx.label.name, ".pic" if cc.pic else ""))
    aargs = ctx.actions.args()
    aargs.add_all(["rcsD", archive.path])
    aargs.add_all(cc.objects)
    aargs.add_all([gen.codegen], map_each = _llvm_object)
    ctx.actions.run(
        executable = cc.toolchain.ar_executable,
        arguments = [aargs],
        inputs = depset(cc.objects + [gen.codegen], transitive = [cc.toolchain.all_files]),
        outputs = [archive],
        mnemonic = "MlfArchive",
        progress_message = "mlf_build: archiving %s" % ctx.label,
    )
    kind = {"pic_static_library": archive} if cc.pic else {"static_library": archive}
    library = cc_common.create_library_to_link(
        actions = ctx.actions,
        feature_configuration = cc.features,
        cc_toolchain = cc.toolchain,
        **kind
    )
    return archive, library

def _hide_symbols(ctx, cc):
    """hide_symbols, unless the toolchain has no ld or objcopy (then said once, as CMake does)."""
    hide = ctx.attr.hide_symbols and cc.toolchain.objcopy_executable and cc.toolchain.ld_executable
    if ctx.attr.hide_symbols and not hide:
        # buildifier: disable=print
        print("mlf_library(%s): no ld/objcopy in this C toolchain; the model's internal symbols stay " % ctx.label +
              "global (two models exported with the same module name will clash)")
    return bool(hide)

def _check_budgets(ctx, archive):
    """MlfCheckSize: max_ram / max_flash after compiling, as CMake's POST_BUILD check-size.

    Every link of the library needs the report, so no program links a library over budget.

    Returns:
      The report ([] without budgets).
    """
    if not (ctx.attr.max_ram or ctx.attr.max_flash):
        return []
    report = ctx.actions.declare_file("_mlf/%s_size.txt" % ctx.label.name)
    cargs = ctx.actions.args()
    cargs.add_all(["--stdout", report.path, "--", "check-size", archive.path])
    cargs.add(ctx.label.name, format = "--name=%s")
    if ctx.attr.max_flash:
        cargs.add(ctx.attr.max_flash, format = "--max-flash=%s")
    if ctx.attr.max_ram:
        cargs.add(ctx.attr.max_ram, format = "--max-ram=%s")
    ctx.actions.run(
        executable = ctx.executable._generator,
        arguments = [cargs],
        inputs = [archive],
        outputs = [report],
        mnemonic = "MlfCheckSize",
        progress_message = "mlf_build: checking the size of %s" % ctx.label,
    )
    return [report]

def _cc_info(ctx, cc, library, checks):
    """CcInfo: the library (needing the budget reports to link) over its dependencies'."""
    linking_context = cc_common.create_linking_context(linker_inputs = depset([
        cc_common.create_linker_input(
            owner = ctx.label,
            libraries = depset([library]),
            additional_inputs = depset(checks),
        ),
    ]))
    return cc_common.merge_cc_infos(
        direct_cc_infos = [CcInfo(compilation_context = cc.context, linking_context = linking_context)],
        cc_infos = cc.dep_infos,
    )

def _mlf_info(ctx, t, gen, archive, hide):
    return MlfInfo(
        name = t,
        header = gen.header,
        manifest = gen.manifest,
        params = None if ctx.attr.all_modules else gen.params[0],
        syms = gen.syms,
        linker_fragments = gen.fragments,
        generated = depset(gen.generated),
        output_dir = gen.out_dir,
        archive = archive,
        runtime = ctx.attr.runtime,
        workspace = ctx.attr.workspace,
        align = ctx.attr.align,
        module = ctx.attr.module,
        all_modules = ctx.attr.all_modules,
        modules = gen.modules,
        hide_symbols = hide,
    )

def _mlf_library_impl(ctx):
    # ---- options: checked before any action -----------------------------------------------
    t = mlf_c_prefix(ctx.label.name)
    devices, glue = _devices(ctx)
    _check_size(ctx, "max_ram")
    _check_size(ctx, "max_flash")

    # ---- generate (with the ABI probe, //bazel:abi_probe) ---------------------------------
    gen = _declare_outputs(ctx, t)
    _generate(ctx, gen, devices)

    # ---- compile with the target's C toolchain --------------------------------------------
    cc = _compile(ctx, gen, glue)

    # ---- one object with only the API global, or all objects, in an archive ---------------
    hide = _hide_symbols(ctx, cc)
    archive, library = _localize_symbols(ctx, gen, cc) if hide else _archive(ctx, gen, cc)

    # ---- budgets and providers ------------------------------------------------------------
    checks = _check_budgets(ctx, archive)
    return [
        DefaultInfo(files = depset([archive] + gen.headers + [gen.manifest] + checks)),
        OutputGroupInfo(
            mlf_generated = depset(gen.generated),
            mlf_units = depset([gen.units]),
            mlf_objects = depset(cc.objects),
            mlf_report = depset([m.report for m in gen.modules]),
        ),
        _cc_info(ctx, cc, library, checks),
        _mlf_info(ctx, t, gen, archive, hide),
    ]

_mlf_library = rule(
    implementation = _mlf_library_impl,
    doc = "A TVM Model Library Format archive as a C library; see the top of bazel/mlf_library.bzl.",
    attrs = {
        "src": attr.label(allow_single_file = [".tar", ".tar.gz", ".tgz"], mandatory = True),
        "module": attr.string(),
        "all_modules": attr.string_list(),
        "runtime": attr.string(default = "builtin", values = ["builtin", "tvm_crt"]),
        "workspace": attr.string(default = "static", values = ["static", "caller"]),
        "align": attr.int(default = 16),
        "weights_section": attr.string(),
        "arena_section": attr.string(),
        "max_ram": attr.string(),
        "max_flash": attr.string(),
        "io_shapes": attr.string_list(),
        "aot_api": attr.string(values = ["", "packed", "unpacked"]),
        "hide_symbols": attr.bool(default = True),
        "cmsis_nn": attr.label(providers = [CcInfo]),
        "devices": attr.label_keyed_string_dict(providers = [CcInfo]),
        "deps": attr.label_list(providers = [CcInfo]),
        "_generator": attr.label(
            default = Label("//mlf_build:generator"),
            executable = True,
            cfg = "exec",
        ),
        "_runtime": attr.label(default = Label("//mlf_build/runtime")),
        "_device_glue": attr.label(default = Label("//mlf_build/runtime:device_glue")),
        "_abi_probe": attr.label(default = Label("//bazel:abi_probe"), allow_single_file = True),
        "_cc_toolchain": attr.label(default = Label("@bazel_tools//tools/cpp:current_cc_toolchain")),
    },
    provides = [CcInfo, MlfInfo],
    toolchains = [_CC_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
    incompatible_use_toolchain_transition = True,
)

def _abi_probe_impl(ctx):
    cc_toolchain, feature_configuration = _cc_setup(ctx)
    _, outputs = cc_common.compile(
        name = ctx.label.name,
        actions = ctx.actions,
        feature_configuration = feature_configuration,
        cc_toolchain = cc_toolchain,
        srcs = [ctx.file._src],
    )
    return [DefaultInfo(files = depset(outputs.pic_objects or outputs.objects))]

mlf_abi_probe = rule(
    implementation = _abi_probe_impl,
    doc = "One object compiled for the target platform (the generator's --abi-probe).",
    attrs = {
        # The probe's source, shared with CMake's try_compile (cmake/MLFLibrary.cmake).
        "_src": attr.label(default = Label("//:cmake/mlf_abi_probe.c"), allow_single_file = True),
        "_cc_toolchain": attr.label(default = Label("@bazel_tools//tools/cpp:current_cc_toolchain")),
    },
    toolchains = [_CC_TOOLCHAIN_TYPE],
    fragments = ["cpp"],
    incompatible_use_toolchain_transition = True,
)

def _smoke_test(library, name, t, workspace, support, kwargs):
    """<name>_smoke: mlf_smoke.c run on the API <t> of the mlf_library `library`.

    On Cortex-M it links the QEMU `support` library (one that places the library's sections
    when it has any)."""
    common = {k: kwargs[k] for k in ("visibility", "tags", "target_compatible_with") if k in kwargs}
    defines = [
        "MLF_SMOKE_HEADER=\\\"%s.h\\\"" % t,
        "MLF_SMOKE_NAME=" + t,
        "MLF_SMOKE_UPPER=" + t.upper(),
    ]
    if workspace != "caller":
        defines.append("MLF_SMOKE_STATIC_RUN")
    cc_binary(
        name = name + "_smoke_bin",
        srcs = [Label("//mlf_build/runtime:smoke/mlf_smoke.c")],
        copts = ["-std=gnu99"],
        local_defines = defines,
        deps = [":" + library] + select({
            str(Label("//bazel/platforms:is_bare_metal")): [support],
            "//conditions:default": [],
        }),
        testonly = True,
        **common
    )
    mlf_binary_test(
        name = name + "_smoke",
        binary = ":" + name + "_smoke_bin",
        expect = "mlf-smoke: PASS",
        # As CMake's smoke test: up to 300 s (a large model under QEMU).
        size = "medium",
        **common
    )

def _smoke_tests(name, kwargs):
    """<name>_smoke; with all_modules, <name>_<module>_smoke per module and the suite <name>_smoke."""
    workspace = kwargs.get("workspace", "static")
    all_modules = kwargs.get("all_modules") or []
    if type(all_modules) != "list":
        fail("mlf_library(%s): test = True needs all_modules as a plain list (not a select())" % name)
    t = mlf_c_prefix(name)
    support = str(Label("//bazel/qemu:support"))
    if kwargs.get("weights_section") or kwargs.get("arena_section"):
        # As CMake's smoke test (mlf_qemu_place_sections()): an arena left an orphan section
        # would lie where the heap starts, and printf's buffers would overwrite it.
        support = ":%s_smoke_support" % name
        mlf_qemu_support(
            name = support[1:],
            libraries = [":" + name],
            testonly = True,
            **{k: kwargs[k] for k in ("visibility", "tags") if k in kwargs}
        )
    if not all_modules:
        _smoke_test(name, name, t, workspace, support, kwargs)
        return
    for module in all_modules:
        _smoke_test(name, "%s_%s" % (name, module), mlf_c_prefix(t + "_" + module), workspace, support, kwargs)
    native.test_suite(
        name = name + "_smoke",
        tests = [":%s_%s_smoke" % (name, module) for module in all_modules],
        **{k: kwargs[k] for k in ("visibility", "tags") if k in kwargs}
    )

# Characters of a library's name: CMake's for target names (policy CMP0037). The name becomes a
# folder of compiler and assembler options (_mlf/<name>), where a quote, space, ',' or '#' breaks.
_NAME_CHARS = _IDENT_CHARS + ".+-"

def _c_prefixes(name, all_modules):
    """The C prefixes of the APIs of mlf_library(name, all_modules = ...): <t>, <t>_<module>..."""
    t = mlf_c_prefix(name)
    if type(all_modules) not in ("list", "tuple"):  # a select(): not known while loading
        return [t]
    return [t] + [mlf_c_prefix(t + "_" + m) for m in all_modules]

def _check_names(name, kwargs):
    """Fails while the BUILD file loads on a name the library cannot have.

    The name must be one the rule can use, and its C prefixes ones that no other mlf_library of
    the package has (Net and net would give a program one header and the other's model).
    Libraries of other packages cannot be seen here (docs/bazel.md).

    Args:
      name: the library's name.
      kwargs: the other attributes of mlf_library (all_modules adds C prefixes).
    """
    for c in name.elems():
        if c not in _NAME_CHARS:
            fail("mlf_library(%s): the name holds %r; use letters, digits and _ . + - (a lower-case C " % (name, c) +
                 "identifier is best: it is the API's prefix)")
    mine = _c_prefixes(name, kwargs.get("all_modules") or [])
    for other in native.existing_rules().values():
        if other.get("kind") != "_mlf_library":
            continue
        theirs = _c_prefixes(other["name"], other.get("all_modules") or [])
        for prefix in mine:
            if prefix in theirs:
                fail("mlf_library(%s): the C prefix %s is already that of :%s in this package; give one " % (
                    name,
                    prefix,
                    other["name"],
                ) + "of them another name")

def mlf_library(name, src, test = False, **kwargs):
    """A TVM Model Library Format archive as a C library: see the top of this file.

    Args:
      name: the library, and the C prefix of its API.
      src: the MLF tarball.
      test: also <name>_smoke, a test running the model once.
      **kwargs: the other attributes (module, all_modules, runtime, ...) and common ones.
    """
    _check_names(name, kwargs)
    _mlf_library(name = name, src = src, **kwargs)
    if test:
        _smoke_tests(name, kwargs)
