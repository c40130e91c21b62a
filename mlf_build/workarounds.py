"""Known-bad TVM codegen (each case cites its TVM issues) and the fixes applied to the extracted
copy before compiling. Each fix is applied only where it is safe, and is reported as a warning."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MlfError
from .read.model import CodegenFile, Model, Module

_REGISTRY_START = "#include <tvm/runtime/crt/module.h>"
_REGISTRY_END = "return &_tvm_system_lib;\n}\n"


@dataclass(frozen=True)
class SourceFix:
    member: str  # codegen file (member name) whose extracted copy is replaced
    text: str
    note: str


def _drop_system_lib_registry(model: Model, mod: Module, f: CodegenFile) -> SourceFix:
    """AOT + C interface + system-lib (TVM 0.9-0.18; issues #14871, #17136, #17194): lib0.c
    declares tvmgen_<m>_run and __tvm_main__ for the function registry with TVM's packed type,
    then defines them for the C interface, which does not compile. The registry only serves
    TVM's host-driven runtime lookups, which an mlf_build library never makes, so the fix
    removes exactly the block TVM's CreateFuncRegistry() and GenerateCrtSystemLib() emit."""
    text = model.source.read_text(f.path, 1 << 28)
    start = text.find(_REGISTRY_START)
    end = text.find(_REGISTRY_END, start)
    if start < 0 or end < 0 or "TVMSystemLibEntryPoint" not in text[start:end]:
        raise MlfError(
            model.source.display(f.path),
            f"declares tvmgen_{mod.name}_run with two different types (TVM issue #14871) and its "
            "function registry is not in the layout mlf_build knows how to remove; re-export "
            "without system-lib (Runtime('crt', {'system-lib': False}))",
        )
    end += len(_REGISTRY_END)
    fixed = (
        text[:start]
        + "/* mlf_build: system-lib function registry removed (TVM issue #14871) */\n"
        + text[end:]
    )
    return SourceFix(
        f.path,
        fixed,
        f"{model.source.display(f.path)}: removed the system-lib function registry, whose "
        f"declarations conflict with the AOT C interface (TVM issue #14871); mlf_build does not use it",
    )


def source_fixes(model: Model, mod: Module) -> list[SourceFix]:
    fixes = []
    entry = f"tvmgen_{mod.name}_run"
    for f in mod.c_sources():
        assert f.source is not None
        decl = f.source.declarations.get(entry)
        if (
            decl is not None
            and entry in f.source.functions
            and mod.interface == "c"
            and " ".join(decl.split()) != f.source.functions[entry].params_text
        ):
            fixes.append(_drop_system_lib_registry(model, mod, f))
    return fixes
