"""mlf_build/validate.py: each check against the language it guards, run by that language's own
tool where one is at hand (CMake for bracket arguments, objcopy for response files), and the
C-source reader's view of what the compiler sees."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from mlf_build.errors import MlfError
from mlf_build.read.csource import parse_c
from mlf_build.validate import (
    c_identifier,
    c_param_type,
    cmake_list_item,
    cmake_quote,
    file_name,
    make_word,
    max_object_size,
    objcopy_arg,
    runtime_headers,
    section_name,
    shadowing_header,
    target_size,
)
from tests.conftest import have, needs_cmake


def _refused(fn, *args) -> bool:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except MlfError as exc:
        assert str(exc).isprintable(), str(exc)
        return True
    return False


def test_c_identifier() -> None:
    for ok in ("tvmgen_default_fused_add", "_x", "X9", "default_"):
        assert c_identifier(ok, "w", "operator") == ok
    for bad in ("", "9x", "a b", "f\n#include <x>", "fused_\u00e4dd", "sizeof", "int", "a-b", "a$b"):
        assert _refused(c_identifier, bad, "w", "operator"), bad


def test_c_param_type() -> None:
    assert c_param_type("const  int8_t *", "w", "p") == "const int8_t *"
    for ok in ("void*", "float* __restrict__", "uint8_t", "struct_t**"):
        c_param_type(ok, "w", "p")
    for bad in ("int x; static int y", "struct {int a;}*", "int[4]", "return", "void (*)(void)"):
        assert _refused(c_param_type, bad, "w", "p"), bad


def test_section_name() -> None:
    for ok in (".rodata.tvm", ".bss.noinit.tvm", ".w$1", "weights", "_x"):
        assert section_name(ok, "w") == ok
    for bad in ("", "1data", ".x y", ".x\n", "@file", ".x;y", '.x"', ".\u00e9", ".x=y", "." * 300):
        assert _refused(section_name, bad, "w"), bad


def test_file_name_and_make_word() -> None:
    for ok in ("default_lib0.c", "a+b-c.cc", "_x", "tvmgen_default.h"):
        assert file_name(ok, "w") == ok
        assert make_word(ok, "w") == ok
    for bad in ("", ".hidden", "a b", "a;b", "a$b", "a[b", "a\\b", "..", "x" * 256):
        assert _refused(file_name, bad, "w"), bad
    for bad in ("a b", "$(shell id)", "a#b", "a:b", "a%b"):
        assert _refused(make_word, bad, "w"), bad
    assert make_word("codegen/include", "w") == "codegen/include"


def test_target_size() -> None:
    assert max_object_size(32) == 2**31 - 1
    assert target_size(2**31 - 1, 32, "w", "x") == 2**31 - 1
    assert _refused(target_size, 2**31, 32, "w", "x")
    assert target_size(2**40, 64, "w", "x") == 2**40
    assert _refused(target_size, -1, 64, "w", "x")


def test_shadowing_header() -> None:
    assert {"mlf_runtime.h", "mlf_runtime_internal.h", "tvm/runtime/c_runtime_api.h"} <= runtime_headers()
    for hidden in ("math.h", "STDINT.H", "sys/types.h", "arm_nnfunctions.h", "mlf_runtime_internal.h"):
        assert shadowing_header(hidden), hidden
    assert shadowing_header("tvm/runtime/c_runtime_api.h")
    assert shadowing_header("tvm/runtime/c_runtime_api.h", allow_tvm=True) is None
    assert shadowing_header("mlf_runtime.h", allow_tvm=True)
    for fine in ("tvmgen_default.h", "kws.h", "checksum.h", "dmlc/base.h"):
        assert shadowing_header(fine) is None, fine


# -- CMake ---------------------------------------------------------------------------------------
TRICKY = [
    "",
    "]",
    "]=",
    "]]",
    "]=]",
    "a]==",
    "]=]=]==]",
    "[[x]]",
    "\nstarts with a newline",
    "\r\nstarts with CRLF",
    "\rstarts with CR",
    '${HOME} $ENV{PATH} @VAR@ \\n \\; ; "quoted" # not a comment',
    "trailing backslash\\",
    "multi\nline\n",
    "non-ASCII \u00e9\u4e2d\U0001f600",
]


@needs_cmake
def test_cmake_quote_is_exact(tmp_path: Path) -> None:
    """CMake itself reads every value back byte for byte: hand-picked values that end or start
    the way bracket arguments break, and random strings over the characters that matter."""
    rng = random.Random(16)
    values = TRICKY + [
        "".join(rng.choice(']=[\n\r;$\\{}@"#a ') for _ in range(rng.randrange(12))) for _ in range(300)
    ]
    lines = []
    for i, value in enumerate(values):
        lines.append(b"set(V " + cmake_quote(value) + b")")
        lines.append(f'file(WRITE "{tmp_path.as_posix()}/{i}.out" "${{V}}")'.encode())
    script = tmp_path / "read.cmake"
    script.write_bytes(b"\n".join(lines) + b"\n")
    res = subprocess.run(["cmake", "-P", script], capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr
    for i, value in enumerate(values):
        assert (tmp_path / f"{i}.out").read_bytes() == value.encode(), repr(value)


def test_cmake_list_item() -> None:
    for ok in ("/p/model.tar", "/p/m[v2]/x", "/p/a]=b[", "/p/with space"):
        assert cmake_list_item(ok, "w") == ok
    for bad in ("/p/a;b", "/p/a$b", "/p/$<1:x>", "/p/a\\b", "/p/a[b", "/p/x]="):
        assert _refused(cmake_list_item, bad, "w"), bad


# -- objcopy response files --------------------------------------------------------------------
@pytest.mark.skipif(not have("gcc", "objcopy"), reason="needs gcc and objcopy")
def test_objcopy_arg_survives_objcopys_parser(tmp_path: Path) -> None:
    """A path with spaces, quotes and a backslash, written with objcopy_arg, reaches objcopy as
    one argument (the Bazel rule's response file holds such paths)."""
    folder = tmp_path / "a b'c\"d\\e"
    folder.mkdir()
    (folder / "keep.syms").write_text("kept\n")
    (tmp_path / "x.c").write_text("int kept(void) { return 1; }\nint dropped(void) { return 2; }\n")
    obj = tmp_path / "x.o"
    subprocess.run(["gcc", "-c", tmp_path / "x.c", "-o", obj], check=True)
    resp = tmp_path / "resp"
    resp.write_text(objcopy_arg(f"--keep-global-symbols={folder / 'keep.syms'}") + "\n")
    res = subprocess.run(["objcopy", f"@{resp}", obj], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    nm = subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout
    assert " T kept" in nm and " t dropped" in nm, nm


# -- what the compiler sees ----------------------------------------------------------------------
def _section(code: str) -> str | None:
    arrays = parse_c(code).arrays
    return arrays["arr"].section if "arr" in arrays else None


@pytest.mark.parametrize(
    "code, section",
    [
        ('static const float __attribute__((section(".a"))) arr[4] = {0};', ".a"),
        ('#if 0\nstatic const float __attribute__((section(".evil x"))) arr[4];\n#endif', None),
        ('#if 0\n#elif 1\nstatic const float __attribute__((section(".b"))) arr[4];\n#endif', ".b"),
        ('#if 1\n#else\nstatic const float __attribute__((section(".evil"))) arr[4];\n#endif', None),
        ('#ifdef __cplusplus\nstatic const float __attribute__((section(".evil"))) arr[4];\n#endif', None),
        (
            '#if !defined(__cplusplus)\nstatic const float __attribute__((section(".c"))) arr[4];\n#endif',
            ".c",
        ),
        ('#if 0 \\\n  || 1\nstatic const float __attribute__((section(".d"))) arr[4];\n#endif', ".d"),
        ('static const float __attribute__((/* section(".evil") */ section(".e"))) arr[4];', ".e"),
        ('static const float __attribute__((section(".f") /* , section(".evil") */)) arr[4];', ".f"),
        ('// static const float __attribute__((section(".evil"))) arr[4];\nint x;', None),
        ('const char *s = "static const float __attribute__((section(\\".evil\\"))) arr[4];";', None),
    ],
)
def test_section_names_come_from_code_the_compiler_sees(code: str, section: str | None) -> None:
    assert _section(code) == section
