"""``mlf-build generate``: read the model, plan each module, emit the library's files, write
them (``write.py``, atomically).

Everything is validated and planned before the first byte is written: a run that fails on bad
input writes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import get_runtime_dir
from .budget import constant_data
from .devices import check_devices
from .emit.buildfiles import cmake_info, runtime_mk
from .emit.common import ModuleApi, Settings, arena_symbol, linked_symbol, param_symbol, public_symbols
from .emit.crt import (
    abort_symbol,
    begin_symbol,
)
from .emit.data import blob_params, blob_symbol
from .emit.header import header_guard, header_macros, io_size
from .emit.library import library_files
from .errors import MlfError, printable
from .naming import c_member_problem, library_prefix
from .plan.plan import plan_module
from .read.archive import DEFAULT_MAX_TOTAL_SIZE
from .read.elf import ElfInfo, first_object
from .read.facts import IoOverride
from .read.model import Model, Module, load_model
from .validate import (
    DEFAULT_POINTER_BITS,
    relative_path,
    section_name,
    shadowing_header,
    target_size,
)
from .workarounds import source_fixes
from .write import OutputFile, check_no_links, check_output_folder, same_bytes, write_outputs


@dataclass
class Options:
    name: str
    module: str | None = None
    runtime: str = "builtin"
    workspace: str = "static"
    align: int = 16
    weights_section: str | None = None
    arena_section: str | None = None
    max_ram: int | None = None
    max_flash: int | None = None
    abi_probe: str | None = None
    max_size: int = DEFAULT_MAX_TOTAL_SIZE
    io_shapes: dict[str, IoOverride] = field(default_factory=dict)
    aot_api: str | None = None
    all_modules: bool = False
    # With all_modules: the modules the caller expects (Bazel declares their files before the
    # archive is read); the archive must hold exactly these. None: no expectation.
    expect_modules: list[str] | None = None
    # The build links CMSIS-NN (CMake CMSIS_NN, Bazel cmsis_nn, Zephyr CONFIG_CMSIS_NN): models
    # compiled with TVM's cmsis-nn target need it, and are refused without it.
    cmsis_nn: bool = False
    # Devices the build provides drivers for (CMake DEVICES, Bazel devices, --device): every
    # device of struct tvmgen_<m>_devices must be named (devices.py).
    devices: list[str] = field(default_factory=list)


@dataclass
class Generation:
    model: Model
    prefix: str  # the library's prefix (<t>); each module's API has <t> or <t>_<module>
    apis: list[ModuleApi]
    files: list[OutputFile]
    manifest: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def _read_probe(probe_path: str) -> ElfInfo:
    """The object the target compiler produced (--abi-probe): its machine, class and float ABI,
    from its headers only (elf.first_object reads the file where it lies)."""
    return first_object(probe_path)


def _check_abi(model: Model, mod: Module, probe: ElfInfo) -> None:
    """Objects TVM compiled must match the target compiler: same machine, class, float ABI."""
    for f in mod.objects():
        assert f.elf is not None
        o = f.elf
        mismatch = o.machine != probe.machine or o.elf_class != probe.elf_class
        if not mismatch and probe.float_abi and o.float_abi and o.float_abi != probe.float_abi:
            mismatch = True
        if mismatch:
            raise MlfError(
                model.source.display(f.path),
                f"holds {o.abi} code but the target compiler produces {probe.abi}; "
                "re-export the model for this target (set -mtriple/-mcpu/-mfloat-abi on the llvm "
                "target) or use the c target",
            )


def prepare(model_path: str | os.PathLike[str], opts: Options) -> Generation:
    """Everything a generation writes, read, planned, emitted and checked: nothing is written."""
    prefix = library_prefix(opts.name)
    _check_options(opts)
    probe = _read_probe(opts.abi_probe) if opts.abi_probe else None
    # Sizes in the generated C must fit the target: the probe's ELF class says its pointer
    # width; without a probe, the narrowest target mlf_build supports (32-bit Cortex-M).
    pointer_bits = probe.elf_class if probe is not None else DEFAULT_POINTER_BITS
    target_size(opts.align, pointer_bits, "--align", "the alignment")
    model = load_model(Path(model_path), opts.max_size, opts.io_shapes, opts.aot_api)
    try:
        modules = _select_modules(model, opts)
        apis = [
            _plan_api(model, mod, api_prefix, probe, opts, Path(model_path).name)
            for mod, api_prefix in _api_prefixes(model, prefix, modules, opts.all_modules)
        ]
        _check_budgets(model, prefix, apis, opts)
        _check_target_sizes(model, apis, opts, pointer_bits)
        _check_namespaces(model, prefix, apis)
        files, manifest = library_files(model, prefix, apis, umbrella=opts.all_modules)
        _check_output_names(model, files)
        warnings = list(model.warnings) + [fx.note for api in apis for fx in api.fixes.values()]
        return Generation(model, prefix, apis, files, manifest, warnings)
    except BaseException:
        model.close()
        raise


def _check_options(opts: Options) -> None:
    """What can be refused before the archive is read."""
    for section, what in ((opts.weights_section, "WEIGHTS_SECTION"), (opts.arena_section, "ARENA_SECTION")):
        if section is not None:
            section_name(section, what)
    if opts.runtime not in ("builtin", "tvm_crt"):
        raise MlfError("RUNTIME", f"{opts.runtime!r} is not a runtime (builtin or tvm_crt)")


def _select_modules(model: Model, opts: Options) -> list[Module]:
    """The modules to build (MODULE, or ALL_MODULES), checked against the runtime and devices."""
    if opts.all_modules and opts.module is not None:
        raise MlfError("MODULE", "give either MODULE or ALL_MODULES, not both")
    if opts.expect_modules is not None:
        _check_expected_modules(model, opts)
    modules = model.modules if opts.all_modules else [model.module(opts.module)]
    if opts.all_modules and opts.runtime == "tvm_crt" and len(modules) > 1:
        raise MlfError(model.path, "RUNTIME tvm_crt builds one module per library; use MODULE")
    if opts.runtime == "tvm_crt" and not model.runtime_bundled:
        raise MlfError(
            model.path,
            "RUNTIME tvm_crt needs the TVM runtime bundled in the MLF (runtime/), which only "
            "AOT exports made with Runtime('crt') carry; use RUNTIME builtin",
        )
    check_devices(model, modules, opts.devices)
    return modules


def _api_prefixes(
    model: Model, prefix: str, modules: list[Module], all_modules: bool
) -> Iterator[tuple[Module, str]]:
    """Each module with the C prefix of its API: the library's, or ``<t>_<module>`` with
    ALL_MODULES; two modules may not end up with one prefix. (A generator: each module is
    checked just before it is planned, so the first problem met is reported.)"""
    taken: dict[str, str] = {}
    for mod in modules:
        sub = prefix if not all_modules else library_prefix(f"{prefix}_{mod.name}", "library name")
        if sub in taken:
            raise MlfError(
                model.path,
                f"modules {taken[sub]!r} and {mod.name!r} both give the C prefix {sub}; "
                "build them as separate libraries with MODULE",
            )
        taken[sub] = mod.name
        yield mod, sub


def _plan_api(
    model: Model, mod: Module, prefix: str, probe: ElfInfo | None, opts: Options, model_label: str
) -> ModuleApi:
    """One module checked and planned, with what its emitters need."""
    _check_buildable(model, mod)
    _check_cmsis_nn(model, mod, opts)
    plan = plan_module(model, mod, opts.align, opts.align)
    if probe is not None:
        _check_abi(model, mod, probe)
    settings = Settings(
        prefix=prefix,
        runtime=opts.runtime,
        static_arena=opts.workspace == "static",
        weights_section=opts.weights_section,
        arena_section=opts.arena_section,
        model_label=model_label,
        devices=tuple(mod.devices),
    )
    return ModuleApi(mod, plan, settings, {fx.member: fx for fx in source_fixes(model, mod)})


def build_problems(model: Model, mod: Module) -> list[MlfError]:
    """Why no library can be built from a module that inspect describes, each as the one line
    generate reports (it stops at the first; inspect lists them all)."""
    out = []
    header = model.source.display(mod.header_member or "")
    if mod.executor == "aot" and mod.interface == "c":
        io = iter(mod.inputs + mod.outputs)
        for (role, idx), member in zip(mod.aot_args, mod.aot_arg_names, strict=True):
            name = mod.params[idx].name if role == "param" else next(io).name
            problem = c_member_problem(member)
            if problem is not None:
                kind = "output" if role == "output" else "input"
                out.append(
                    MlfError(
                        header,
                        f"TVM declares {kind} {printable(name)!r} as member {printable(member)!r} of "
                        f"struct tvmgen_{mod.name}_{kind}s, which {problem}, so TVM's own code does "
                        f"not compile; rename the {kind} to start with a letter and compile the "
                        "model again",
                    )
                )
    unknown = [t.name for t in mod.inputs + mod.outputs if not t.known]
    if unknown:
        names = ", ".join(printable(n) for n in unknown)
        out.append(
            MlfError(
                model.path,
                f"module {mod.name!r} does not record the sizes of {names}; give them with "
                + " ".join(f"--io-shape {n}=<dims>" for n in unknown)
                + _io_size_hint(mod),
            )
        )
    return out


def _io_size_hint(mod: Module) -> str:
    """What metadata.json's io_size_bytes leaves for the one tensor of unknown size: never a
    size (facts.py says why: TVM 0.9+ counts intermediates too), but the right one for exports
    of earlier TVM, so worth telling a user who has only the archive."""
    unknown = [t for t in mod.inputs + mod.outputs if not t.known]
    total = mod.meta.io_size_bytes
    if len(unknown) != 1 or total is None:
        return ""
    rest = total - sum(t.nbytes for t in mod.inputs + mod.outputs if t.known)
    item = unknown[0].dtype.itemsize
    if rest <= 0 or rest % item:
        return ""
    return (
        f" (metadata.json's io_size_bytes leaves {rest} bytes, {rest // item} {unknown[0].dtype}, "
        "for it: its size in exports of TVM before 0.9, an over-count in later ones)"
    )


def _check_buildable(model: Model, mod: Module) -> None:
    problems = build_problems(model, mod)
    if problems:
        raise problems[0]


def _check_cmsis_nn(model: Model, mod: Module, opts: Options) -> None:
    """A model compiled with TVM's cmsis-nn target calls arm_*_s8: without CMSIS-NN in the build
    it would fail at link time, far from the cause; say so before anything is written."""
    if opts.cmsis_nn or not mod.uses_cmsis_nn():
        return
    calls = mod.cmsis_nn_functions()
    listed = ", ".join(calls[:3]) + (", ..." if len(calls) > 3 else "")
    raise MlfError(
        model.path,
        f"module {mod.name!r} calls CMSIS-NN ({listed or 'codegen for the cmsis-nn target'}); build it "
        "against CMSIS-NN: CMake CMSIS_NN <folder|target>, Bazel cmsis_nn = <label>, Zephyr "
        "CONFIG_CMSIS_NN=y, mlf-build --cmsis-nn",
    )


def _check_expected_modules(model: Model, opts: Options) -> None:
    """The modules listed with ALL_MODULES (Bazel's all_modules, --expect-module) are exactly
    the archive's, in any order: the caller has named the files to be written after them."""
    assert opts.expect_modules is not None
    if not opts.all_modules:
        raise MlfError("--expect-module", "lists the modules of ALL_MODULES; give --all-modules too")
    have = sorted(m.name for m in model.modules)
    if sorted(opts.expect_modules) != have:
        listed = ", ".join(repr(printable(m)) for m in opts.expect_modules) or "none"
        raise MlfError(
            model.path,
            f"holds the modules {', '.join(have)}, but all_modules/--expect-module lists {listed}; "
            "list exactly the modules it holds",
        )


def _check_budgets(model: Model, prefix: str, apis: list[ModuleApi], opts: Options) -> None:
    ram = sum(api.plan.workspace_size for api in apis if api.settings.static_arena)
    if opts.max_ram is not None and ram > opts.max_ram:
        raise MlfError(
            model.path,
            f"library {prefix} needs {ram} bytes of RAM for its arena but MAX_RAM is {opts.max_ram} "
            f"({ram - opts.max_ram} bytes over)",
        )
    parts: dict[str, int] = {}
    for api in apis:
        blob = sum(api.module.params[i].nbytes for i in blob_params(api.module))
        for where, n in constant_data(api.module, blob):
            parts[where] = parts.get(where, 0) + n
    flash = sum(parts.values())
    if opts.max_flash is not None and flash > opts.max_flash:
        detail = ", ".join(f"{n} in {where}" for where, n in parts.items() if n)
        raise MlfError(
            model.path,
            f"library {prefix} needs {flash} bytes of flash for its weights and constants alone "
            f"({detail}) but MAX_FLASH is {opts.max_flash} ({flash - opts.max_flash} bytes over)",
        )


def _check_target_sizes(model: Model, apis: list[ModuleApi], opts: Options, bits: int) -> None:
    """Every byte count and alignment the generated C and assembler give the target compiler
    fits one object of the target (``size_t`` literals, ``.space``, ``.balign``): a size a 32-bit
    target cannot hold would otherwise wrap in the generated code."""
    where = str(model.path)
    for api in apis:
        mod, plan = api.module, api.plan
        for kind, tensors in (("input", mod.inputs), ("output", mod.outputs), ("parameter", mod.params)):
            for t in tensors:
                target_size(t.nbytes, bits, where, f"{kind} {printable(t.name)!r} of module {mod.name!r}")
        target_size(io_size(mod, plan.align), bits, where, f"the inputs and outputs of module {mod.name!r}")
        target_size(plan.params_size, bits, where, f"the parameters of module {mod.name!r}")
        target_size(plan.workspace_size, bits, where, f"the arena of module {mod.name!r}")
    static = sum(api.plan.workspace_size for api in apis if api.settings.static_arena)
    target_size(static, bits, where, "the library's arenas")
    target_size(sum(api.plan.params_size for api in apis), bits, where, "the library's parameters")


def _api_names(model: Model, api: ModuleApi) -> set[str]:
    """The C names one module's API defines where another API of the same library could too: its
    header's macros and guard, and its global symbols."""
    s, mod = api.settings, api.module
    names = {name for name, _ in header_macros(model, mod, api.plan, s)}
    names |= {header_guard(s), arena_symbol(s), blob_symbol(s), abort_symbol(s), begin_symbol(s)}
    names |= set(public_symbols(s))
    names |= {f(s, i) for i in range(len(mod.params)) for f in (param_symbol, linked_symbol)}
    return names


def _check_namespaces(model: Model, prefix: str, apis: list[ModuleApi]) -> None:
    """Generated names must not collide with each other (two modules of one library, e.g.
    ``m`` and ``m_output`` whose macros NET_M_OUTPUT_IO_SIZE would both define), nor shadow a
    standard or runtime header: the output folder is on the include path of everything that
    links the library, and of TVM's C."""
    headers = [(f"{api.settings.prefix}.h", "library name") for api in apis]
    if len(apis) > 1:
        headers.append((f"{prefix}.h", "library name"))
    for rel, where in headers:
        hidden = shadowing_header(rel)
        if hidden is not None:
            raise MlfError(
                where,
                f"the library would write {rel}, which hides {hidden} for every file compiled with "
                "the library's include folder; choose another library name",
            )
    owner: dict[str, str] = {f"{prefix.upper()}_H_": "the library's header"} if len(apis) > 1 else {}
    for api in apis:
        for name in sorted(_api_names(model, api)):
            other = owner.setdefault(name, f"module {api.module.name!r}")
            if other != f"module {api.module.name!r}":
                raise MlfError(
                    model.path,
                    f"{other} and module {api.module.name!r} would both define {name} in C; "
                    "build them as separate libraries with MODULE",
                )


def _check_output_names(model: Model, files: list[OutputFile]) -> None:
    """Every file the run would write has a usable name, once: checked before anything is
    written (a name the file system refuses, or one file written twice, would otherwise fail
    half-way through writing)."""
    seen: dict[str, str] = {}  # case-folded name -> the name written
    for f in files:
        where = model.source.display(f.member) if f.member is not None else "library name"
        relative_path(f.rel, where)
        other = seen.get(f.rel.casefold())
        if other == f.rel:
            raise MlfError(
                where,
                f"would be written twice as {f.rel}: it belongs to no single module of the "
                "archive; build one module at a time with MODULE",
            )
        # macOS's and Windows' file systems ignore case: Default_lib1.c would overwrite
        # default_lib1.c there (the same rule as shadowing_header's).
        if other is not None:
            raise MlfError(
                where,
                f"would be written as {f.rel} beside {other}, the same file where names ignore "
                "case (macOS, Windows); rename one",
            )
        seen[f.rel.casefold()] = f.rel
        if f.rel.startswith(("codegen/include/", "crt/include/")):
            inner = f.rel.split("/", 2)[2]
            hidden = shadowing_header(inner, allow_tvm=f.rel.startswith("crt/"))
            if hidden is not None:
                raise MlfError(
                    where,
                    f"would be on the include path as <{inner}> and hide {hidden} from the "
                    "generated code; rename or remove it",
                )


def generate(
    model_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    opts: Options,
    *,
    list_only: bool = False,
    cmake_info_path: str | None = None,
) -> list[str]:
    check_output_folder(model_path, out)
    gen = prepare(model_path, opts)
    try:
        check_no_links(Path(out), gen.files)  # also with --list: CMake's configure-time query
        if cmake_info_path is not None:
            text = cmake_info(gen.manifest, gen.model, gen.warnings, os.fspath(model_path))
            try:
                Path(cmake_info_path).parent.mkdir(parents=True, exist_ok=True)
                Path(cmake_info_path).write_bytes(text)
            except OSError as exc:
                raise MlfError(
                    exc.filename or cmake_info_path, f"cannot be written ({exc.strerror})"
                ) from None
        if list_only:
            for rel in gen.manifest["files"]:
                print(rel)
        else:
            write_outputs(gen.files, gen.model.source, gen.prefix, Path(out))
        return gen.warnings
    finally:
        gen.model.close()


def copy_runtime(out: str | os.PathLike[str]) -> list[str]:
    """Copy the runtime sources and headers (for builds that do not use CMake or Bazel)."""
    root = get_runtime_dir()
    dest = Path(out)
    written = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".c", ".h"):
            rel = path.relative_to(root)
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = path.read_bytes()
            if not same_bytes(target, data):
                target.write_bytes(data)
            written.append(rel.as_posix())
    mk = dest / "mlf_runtime.mk"
    text = runtime_mk()
    if not same_bytes(mk, text.encode()):
        mk.write_text(text)
    written.append("mlf_runtime.mk")
    return written
