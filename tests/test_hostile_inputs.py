"""Every crafted bad input ends with exit code 2 and one printable line naming the file and the
problem: no traceback, no file created, changed or deleted outside the output folder, no partial
output left behind. Hostile inputs that are accepted produce output that builds, for the host
and for Cortex-M, and does only what the model's own code does. Each run is a child process under
CPU-time and address-space limits (tests/limited_run.py): an input that makes the tool loop or
swell fails its test instead of hanging the run."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlf_build.errors import one_line
from tests.conftest import have, needs_cmake, run_cli
from tests.firmware import ARM_CFLAGS, build, configure, run
from tests.hostile_cases import Accepted, Case, accepted_cases, cases
from tests.limited_run import run_limited
from tests.mlf_factory import minimal_files, write_tar

CASES = cases()
ACCEPTED = accepted_cases()


def test_suite_is_large_enough() -> None:
    assert len(CASES) >= 60
    ids = [c.id for c in CASES] + [a.id for a in ACCEPTED]
    assert len(set(ids)) == len(ids)


def snapshot(root: Path, skip: frozenset[Path] = frozenset()) -> dict[str, tuple[object, ...]]:
    """Every entry below ``root`` but ``skip`` (and what is below those): its kind, and for a
    file its size, modification time and SHA-256, for a link its target. Links are not followed."""
    out: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in dirs + files:
            p = here / name
            if p in skip:
                continue
            rel = p.relative_to(root).as_posix()
            st = p.lstat()
            if p.is_symlink():
                out[rel] = ("link", os.readlink(p))
            elif p.is_dir():
                out[rel] = ("dir",)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
            else:  # a FIFO or device planted by a case: never opened
                out[rel] = ("special", st.st_mode)
    return out


def plant_sentinels(root: Path) -> None:
    """Files and folders a hostile archive or a careless generator could touch: beside the
    output folder, above it, a link to outside, a file named like generated output."""
    (root / "sentinel" / "sub").mkdir(parents=True)
    (root / "sentinel" / "main.c").write_text("int main(void) { return 0; }\n")
    (root / "sentinel" / "sub" / "keep.txt").write_text("the user's data\n")
    (root / "net.h").write_text("/* the user's own net.h, beside the output folder */\n")
    (root / "codegen").mkdir()
    (root / "codegen" / "mine.c").write_text("int mine;\n")
    os.symlink(root / "sentinel", root / "link-to-sentinel")


def _args(case: Case | Accepted, command: str, model: Path, inputs: Path, out: Path) -> list[object]:
    extra = [a.replace("{in}", str(inputs)) for a in case.extra_args]
    args: list[object] = [command, model, *extra]
    if command == "generate":
        args += ["--out", out]
        if "--name" not in case.extra_args:
            args += ["--name", "net"]
    return args


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case: Case, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    model = case.build(inputs)
    plant_sentinels(tmp_path)
    before = snapshot(tmp_path)
    where = str(model) if case.where is None else case.where.replace("{in}", str(inputs))
    out = tmp_path / "out" if case.out is None else Path(case.out.replace("{in}", str(inputs)))
    for command in case.commands:
        r = run_limited(_args(case, command, model, inputs, out))
        assert r.code == 2, f"{command}: exit {r.code}\n{r.out}\n{r.err}"
        assert r.out == ""
        line = r.err
        assert line.endswith("\n") and line.count("\n") == 1, repr(line)
        assert line[:-1].isprintable(), repr(line)  # no escape sequence, no other line break
        assert line.startswith("mlf-build: error: "), line
        assert "Traceback" not in line
        assert case.expect in line, line
        assert f"mlf-build: error: {one_line(where)}" in line, line  # names the file (or option)
        # Refused: nothing created, changed or deleted anywhere, the output folder included.
        assert snapshot(tmp_path) == before, f"{command} changed files"


def _generate_accepted(case: Accepted, tmp_path: Path) -> tuple[Path, str]:
    """Generate an accepted case beside planted sentinels: exit 0, the case's own check, and
    nothing outside the output folder (and the --cmake-info file asked for) touched."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    model = case.build(inputs)
    plant_sentinels(tmp_path)
    out = tmp_path / "out"
    info = [Path(a.replace("{in}", str(inputs))).resolve() for a in case.extra_args if a.endswith(".cmake")]
    before = snapshot(tmp_path, frozenset({out}))
    r = run_limited(_args(case, "generate", model, inputs, out))
    assert r.code == 0, r.err
    assert all(line.isprintable() for line in r.err.splitlines()), repr(r.err)
    after = snapshot(tmp_path, frozenset({out, *info}))
    assert after == before, "files outside the output folder changed"
    case.check(out, r.err)
    return out, r.err


@pytest.mark.parametrize("case", ACCEPTED, ids=[a.id for a in ACCEPTED])
def test_hostile_input_accepted(case: Accepted, tmp_path: Path) -> None:
    if "inspect" in case.commands:
        inputs = tmp_path / "inspected"
        inputs.mkdir()
        r = run_limited(
            ["inspect", case.build(inputs), *(a.replace("{in}", str(inputs)) for a in case.extra_args)]
        )
        assert r.code == 0 and "Traceback" not in r.err and "error:" not in r.err, r.err
    if "generate" in case.commands:
        _generate_accepted(case, tmp_path)


# -- accepted hostile inputs build, for the host and for Cortex-M -------------------------------
TOOLCHAINS = {
    "host": ("gcc", "objcopy", []),
    "cortex-m4": ("arm-none-eabi-gcc", "arm-none-eabi-objcopy", ARM_CFLAGS["cortex-m4"]),
}
RUNTIME_INCLUDE = Path(__file__).resolve().parents[1] / "mlf_build" / "runtime" / "include"


def compile_library(out: Path, target: str) -> Path:
    """Compile every source the manifest lists with -Wall -Wextra -Werror (as add_mlf_library()
    with MLF_BUILD_WERROR does), link the code (not <prefix>_data.c) into one object and run
    objcopy with the generated response file in the output folder (as CMake does). Returns the
    object."""
    import json

    cc, objcopy, flags = TOOLCHAINS[target]
    manifest = json.loads(next(out.glob("*_manifest.json")).read_text())
    includes = [f"-I{out / d}" for d in manifest["include_dirs"]] + [f"-I{RUNTIME_INCLUDE}"]
    data = {f"{m['prefix']}_data.c" for m in manifest["modules"]}
    objects = []
    for i, src in enumerate(manifest["sources"]):
        obj = out / f"o{i}.o"
        run(
            [
                cc,
                *flags,
                "-std=gnu99",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-ffunction-sections",
                "-fdata-sections",
                *includes,
                "-c",
                out / src,
                "-o",
                obj,
            ]
        )
        if src not in data:
            objects.append(obj)
    merged = out / "merged.o"
    run([cc, *flags, "-r", "-nostdlib", "-o", merged, *objects, *(out / o for o in manifest["objects"])])
    run([objcopy, f"@{manifest['name']}.objcopy", merged], cwd=out)
    return merged


@pytest.mark.slow
@pytest.mark.parametrize("target", list(TOOLCHAINS))
def test_accepted_hostile_inputs_compile(target: str, tmp_path: Path) -> None:
    if not have(TOOLCHAINS[target][0], TOOLCHAINS[target][1]):
        pytest.skip(f"needs {TOOLCHAINS[target][0]}")
    built = 0
    for case in ACCEPTED:
        if not case.compile:
            continue
        folder = tmp_path / case.id
        folder.mkdir()
        out, _ = _generate_accepted(case, folder)
        before = snapshot(folder, frozenset({out}))
        merged = compile_library(out, target)
        assert merged.stat().st_size > 0
        # objcopy ran the generated options only: it wrote nothing but the object it was given.
        assert snapshot(folder, frozenset({out})) == before, case.id
        assert not list(folder.rglob("pwned")), case.id
        built += 1
    assert built >= 4


# -- the same failures through add_mlf_library() ----------------------------------------------
CMAKE_CASES = [
    "traversal-dot-slash-dotdot",
    "symlink-escape-dotdot",
    "gnu-longname-bomb",
    "metadata-nan",
    "graph-cycle",
    "params-nbytes-mismatch",
    "object-not-elf",
    "codegen-name-semicolon",
    "name-newline",
    "dir-symlink-outside",
    # what the generator writes: objcopy command files, C injection, OUTPUT_DIR and the model,
    # CMake lists
    "objcopy-section-with-spaces",
    "objcopy-section-pool",
    "cinject-operator-newline",
    "cinject-aot-struct-field",
    "out-holds-model",
    "out-is-model-dir",
    "out-inside-model-dir",
    "out-codegen-is-link",
    "cmake-member-semicolon",
    "cmake-member-open-bracket",
    "cmake-member-close-bracket-equals",
    "cmake-model-path-semicolon",
    "cmake-model-path-dollar",
]
CMAKE_PROJECT = """cmake_minimum_required(VERSION 3.20)
project(t C)
find_package(mlf_build CONFIG REQUIRED)
add_mlf_library(net [==[{model}]==]{args})
"""
#: command-line options of the cases, as add_mlf_library() arguments (--list and --cmake-info
#: are what add_mlf_library() always passes at configure time)
CMAKE_ARGS = {
    "--weights-section": "WEIGHTS_SECTION",
    "--arena-section": "ARENA_SECTION",
    "--module": "MODULE",
}


def cmake_args(case: Case | Accepted, inputs: Path) -> str:
    args, it = [], iter(case.extra_args)
    for a in it:
        if a in CMAKE_ARGS:
            args += [CMAKE_ARGS[a], f'"{next(it)}"']
        elif a == "--all-modules":
            args.append("ALL_MODULES")
        elif a == "--cmake-info":
            next(it)
        else:
            assert a == "--list", a
    if isinstance(case, Case) and case.out is not None:
        args += ["OUTPUT_DIR", f'"{case.out.replace("{in}", inputs.as_posix())}"']
    return "".join(f" {a}" for a in args)


def cmake_project(tmp_path: Path, fixture_models: dict[str, Path]) -> tuple[Path, Path]:
    """A project configured once with a good model (the compiler checks run once); each case
    then rewrites its CMakeLists.txt and reconfigures the same build folder."""
    src, bdir = tmp_path / "src", tmp_path / "build"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        CMAKE_PROJECT.format(model=fixture_models["v7-graph"].as_posix(), args="")
    )
    configure(src, bdir)
    return src, bdir


def use_model(src: Path, bdir: Path, model: Path, args: str) -> None:
    (src / "CMakeLists.txt").write_text(CMAKE_PROJECT.format(model=model.as_posix(), args=args))
    shutil.rmtree(bdir / "mlf", ignore_errors=True)


@needs_cmake
@pytest.mark.slow
def test_hostile_inputs_through_cmake(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """add_mlf_library() fails at configure time with the tool's one line, naming the file, for a
    varied set of the cases; nothing is generated, and nothing beside the model changes (also
    with an OUTPUT_DIR that holds or lies in the model). One build folder is reconfigured for
    each case."""
    src, bdir = cmake_project(tmp_path, fixture_models)
    by_id = {c.id: c for c in CASES}
    for cid in CMAKE_CASES:
        case = by_id[cid]
        inputs = tmp_path / cid
        inputs.mkdir()
        model = case.build(inputs)
        where = str(model) if case.where is None else case.where.replace("{in}", str(inputs))
        use_model(src, bdir, model, cmake_args(case, inputs))
        before = snapshot(inputs)
        res = configure(src, bdir, check=False)
        assert res.returncode != 0, f"{cid}: configure succeeded"
        msg = " ".join(res.stderr.split())
        assert f"add_mlf_library(net): mlf-build: error: {where}" in msg, f"{cid}: {msg}"
        assert case.expect in msg, f"{cid}: {msg}"
        assert "Traceback" not in res.stderr, f"{cid}: {res.stderr}"
        assert not (bdir / "mlf" / "net").exists(), f"{cid}: generated files"
        assert snapshot(inputs) == before, f"{cid}: files beside the model changed"


CMAKE_ACCEPTED = [
    "objcopy-section-in-if0",
    "objcopy-section-in-comment",
    "cmake-model-path-ends-bracket-equals",
    "cmake-model-path-brackets",
    "cmake-warning-brackets",
]


@needs_cmake
@pytest.mark.slow
def test_accepted_hostile_inputs_through_cmake(tmp_path: Path, fixture_models: dict[str, Path]) -> None:
    """Hostile inputs that are accepted configure and build with add_mlf_library() (symbol hiding
    on: objcopy runs the generated response file), warnings arrive exactly as generated, and
    the build writes nothing outside its folders."""
    src, bdir = cmake_project(tmp_path, fixture_models)
    by_id = {a.id: a for a in ACCEPTED}
    for cid in CMAKE_ACCEPTED:
        case = by_id[cid]
        inputs = tmp_path / cid / "in"
        inputs.mkdir(parents=True)
        model = case.build(inputs)
        use_model(src, bdir, model, cmake_args(case, inputs))
        before = snapshot(tmp_path / cid)
        res = configure(src, bdir)
        if cid == "cmake-warning-brackets":
            shown = " ".join(res.stderr.split())  # CMake wraps long warnings
            assert f"mlf-build: {model}(notes ]=]; x]=): ignored (not part of an MLF)" in shown, res.stderr
        build(bdir)
        out = bdir / "mlf" / "net"
        assert (bdir / "libnet.a").is_file() and (out / "net.h").is_file(), cid
        if cid.startswith("objcopy"):  # the others' checks read the CLI's --cmake-info file
            case.check(out, "")
        assert snapshot(tmp_path / cid) == before, f"{cid}: files beside the model changed"
        assert not list(tmp_path.rglob("pwned")), cid


# -- names that look like C: accepted, and escaped ---------------------------------------------
# Decision: tensor names holding quotes, comment ends, preprocessor text or non-ASCII occur in real
# models (TFLite/ONNX names) and are accepted; only control characters are refused (cases
# name-newline, name-nul). The generated C must carry them as data, never as code.
INJECT_INPUT = 'in"; */ #include <stdio.h> /* ??/ \\'
INJECT_PARAM = "p0 */ #define int float // ü \\"
INJECT_OUTPUT = 'выход "*/ #include <x>" %s$(x) `id`'
INJECT_MAIN = r"""#include <stdio.h>
#include <string.h>
#include "net.h"
static const unsigned char want_in[] = {%s};
static const unsigned char want_param[] = {%s};
static const unsigned char want_out[] = {%s};
static int same(const char *got, const unsigned char *want, size_t n) {
  return strlen(got) == n && memcmp(got, want, n) == 0;
}
int main(void) {
  static float x[4] = {1, 2, 3, 4}, y[4];
  const void *in[] = {x};
  void *out[] = {y};
  int ok = same(net_input_info[0].name, want_in, sizeof want_in) &&
           same(net_params[0].name, want_param, sizeof want_param) &&
           same(net_output_info[0].name, want_out, sizeof want_out) &&
           NET_NUM_INPUTS == 1 && NET_NUM_PARAMS == 1 && net_run(in, out) == MLF_OK && y[3] == 4.75f;
  puts(ok ? "names ok" : "names differ");
  return ok ? 0 : 1;
}
"""


def _c_bytes(text: str) -> str:
    return ", ".join(str(b) for b in text.encode("utf-8"))


def injection_model(path: Path) -> Path:
    import json

    from tests.mlf_factory import graph_doc, metadata_doc, minimal_files, write_tar
    from tests.params_numpy import write_params

    g = graph_doc(INJECT_INPUT)
    g["nodes"][1]["name"] = INJECT_PARAM
    meta = metadata_doc()
    meta["modules"]["default"]["memory"]["functions"]["main"][0]["outputs"] = {
        INJECT_OUTPUT: {"size": 16, "dtype": "float32"}
    }
    files = minimal_files()
    files["executor-config/graph/default.graph"] = json.dumps(g).encode()
    files["metadata.json"] = json.dumps(meta).encode()
    files["parameters/default.params"] = write_params([(INJECT_PARAM, np.arange(4, dtype=np.float32) / 4)])
    return write_tar(path, files)


@needs_cmake
@pytest.mark.slow
def test_names_that_look_like_c_are_data_not_code(tmp_path: Path) -> None:
    model = injection_model(tmp_path / "model.tar")
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text(
        CMAKE_PROJECT.format(model=model.as_posix(), args="")
        + "add_executable(app main.c)\ntarget_link_libraries(app PRIVATE net)\n"
        + "target_compile_options(app PRIVATE -Wall -Wextra -Werror -Wcomment -Wtrigraphs)\n"
        # ISO C99 without extensions: trigraphs ("??/" is a backslash) are live in the header
        + "set_target_properties(app PROPERTIES C_STANDARD 99 C_EXTENSIONS OFF)\n"
    )
    (src / "main.c").write_text(
        INJECT_MAIN % (_c_bytes(INJECT_INPUT), _c_bytes(INJECT_PARAM), _c_bytes(INJECT_OUTPUT))
    )
    bdir = tmp_path / "build"
    configure(src, bdir)  # MLF_BUILD_WERROR=ON: the library itself builds with -Wall -Wextra -Werror
    res = build(bdir)
    assert "warning" not in (res.stdout + res.stderr).lower(), res.stdout + res.stderr
    assert run([bdir / "app"]).stdout == "names ok\n"
    # The names appear in comments only defanged, and never as directives.
    header = (bdir / "mlf" / "net" / "net.h").read_text()
    directives = [line for line in header.splitlines() if line.lstrip().startswith("#")]
    assert not [d for d in directives if "stdio" in d or "<x>" in d or "float" in d], directives


def test_deeply_nested_directory(tmp_path: Path) -> None:
    """1500 nested folders (an MLF directory made hostile): one line, not a RecursionError."""
    root = tmp_path / "model"
    root.mkdir()
    fds = [os.open(root, os.O_RDONLY)]
    try:
        for _ in range(1500):
            os.mkdir("d", dir_fd=fds[-1])
            fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
        r = run_cli(["inspect", root])
        assert r.code == 2 and r.err.count("\n") == 1, r.err[-500:]
        assert r.err.startswith(f"mlf-build: error: {root}: ") and "not a Model Library Format" in r.err
    finally:  # shutil.rmtree recurses too: remove from the bottom up
        for parent in reversed(fds[:-1]):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir("d", dir_fd=parent)
        for fd in fds:
            os.close(fd)


# -- and through mlf_library() in Bazel ---------------------------------------------------------
BAZEL_CASES = [
    "traversal-dotdot",
    "hardlink-to-member",
    "gnu-longname-bomb",
    "metadata-huge-number",
    "graph-cycle",
    "params-bad-magic",
    "codegen-name-quote",
    "object-not-elf",
    # what the generator writes: objcopy command files, C injection, names in build files
    "objcopy-section-with-spaces",
    "objcopy-section-default-unicode",
    "cinject-operator-newline",
    "cinject-linked-array-unicode",
    "codegen-name-semicolon",
    "codegen-name-dollar",
    "namespace-include-runtime-internal",
]
#: accepted through Bazel too: the rule builds the library, objcopy included
BAZEL_ACCEPTED = ["objcopy-section-in-if0", "objcopy-section-in-comment"]
BAZEL_ATTRS = {"--weights-section": "weights_section", "--arena-section": "arena_section"}


def bazel_attrs(case: Case | Accepted) -> str:
    attrs, it = [], iter(case.extra_args)
    for a in it:
        attrs.append(f'{BAZEL_ATTRS[a]} = "{next(it)}"')
    return "".join(f", {a}" for a in attrs)


@pytest.fixture
def bazel_runner(tmp_path: Path):  # type: ignore[no-untyped-def]
    from tests.test_bazel import BAZEL, Bazel

    if BAZEL is None:
        pytest.skip("needs bazel (Debian: apt-get install bazel-bootstrap; tests/run.sh does)")
    servers: list[Bazel] = []

    def make(workspace: Path) -> Bazel:
        b = Bazel(tmp_path / "bazel", workspace, "ob_hostile")
        servers.append(b)
        return b

    try:
        yield make
    finally:
        for b in servers:
            b.shutdown()


@pytest.mark.slow
def test_hostile_inputs_through_bazel(bazel_runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """One workspace, one mlf_library per case, `bazel build --keep_going`: every target fails
    with the CLI's one line for its own tarball; the accepted hostile inputs build."""
    from tests.test_bazel import REPO as BAZEL_REPO

    ws = tmp_path / "ws"
    ws.mkdir()
    by_id = {c.id: c for c in CASES}
    rules, expected = [], {}
    for i, cid in enumerate(BAZEL_CASES):
        folder = ws / f"case{i}"
        folder.mkdir()
        model = by_id[cid].build(folder)
        rel = model.relative_to(ws).as_posix()
        rules.append(f'mlf_library(name = "case{i}", src = "{rel}"{bazel_attrs(by_id[cid])})\n')
        expected[rel] = by_id[cid].expect
    good = {a.id: a for a in ACCEPTED}
    for i, cid in enumerate(BAZEL_ACCEPTED):
        folder = ws / f"good{i}"
        folder.mkdir()
        rel = good[cid].build(folder).relative_to(ws).as_posix()
        rules.append(f'mlf_library(name = "good{i}", src = "{rel}"{bazel_attrs(good[cid])})\n')
    (ws / "WORKSPACE").write_text(
        f'workspace(name = "hostile")\nlocal_repository(name = "mlf_build", path = "{BAZEL_REPO}")\n'
        'load("@mlf_build//bazel:repositories.bzl", "mlf_build_dependencies")\n'
        "mlf_build_dependencies(stubs = True)\n"
    )
    (ws / "BUILD.bazel").write_text('load("@mlf_build//bazel:defs.bzl", "mlf_library")\n' + "".join(rules))
    (ws / ".bazelrc").write_text("build --incompatible_enable_cc_toolchain_resolution\n")
    out = bazel_runner(ws)("build", "--keep_going", "//...")
    assert out.returncode != 0, out.stderr[-3000:]
    errors = re.findall(r"^mlf-build: error: .*$", out.stderr, re.M)
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    for rel, expect in expected.items():
        mine = [e for e in errors if e.startswith(f"mlf-build: error: {rel}")]
        assert len(mine) == 1 and expect in mine[0], f"{rel}: {mine}\n{out.stderr[-3000:]}"
    # The accepted ones built, objcopy with the generated options included.
    assert not re.search(r"^ERROR: .*//:good\d", out.stderr, re.M), out.stderr[-3000:]
    assert len(errors) == len(expected), errors


# -- one printable line, whatever the locale, the path or the names -----------------------------
LOCALES = {
    "utf8": {"LC_ALL": "C.UTF-8"},
    "posix-ascii": {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},
    "strict-ascii-stdout": {"PYTHONIOENCODING": "ascii:strict"},
}


def _mlf_build(args: list[object], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """The installed entry point in a fresh interpreter (the locale decides the encodings)."""
    cmd = [sys.executable, "-m", "mlf_build", *(a if isinstance(a, bytes) else str(a) for a in args)]
    full = {
        k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIOENCODING", "PYTHONUTF8"))
    }
    return subprocess.run(cmd, capture_output=True, env={**full, **env}, timeout=120)


@pytest.mark.parametrize("locale", list(LOCALES))
def test_non_utf8_model_path(locale: str, tmp_path: Path) -> None:
    """A model in a folder whose name is not UTF-8: inspect and generate work in any locale,
    --cmake-info holds the path's bytes exactly, and a refused run still prints one line."""
    env = LOCALES[locale]
    folder = tmp_path / os.fsdecode(b"m\xffodels\x1b")
    folder.mkdir()
    files = minimal_files()
    files["metadata.json"] = files["metadata.json"].replace(
        b'"c -keys=cpu "', b'"c -keys=cpu \\u001b[2J\\u00e9"'
    )
    model = write_tar(folder / "model.tar", files)
    r = _mlf_build(["inspect", os.fsencode(model)], env)
    assert r.returncode == 0, r.stderr
    assert b"\x1b" not in r.stdout and b"MLF format version 7" in r.stdout
    info = tmp_path / "info.cmake"
    out = tmp_path / "out"
    r = _mlf_build(["generate", os.fsencode(model), "--name", "net", "--out", out, "--cmake-info", info], env)
    assert r.returncode == 0, r.stderr
    assert b"[=[" + os.fsencode(model.resolve()) + b"]=]" in info.read_bytes()  # the bytes, as they are
    assert (out / "net.h").is_file()
    bad = write_tar(folder / "bad.tar", {**files, "metadata.json": b"{"})
    r = _mlf_build(["inspect", os.fsencode(bad)], env)
    line = r.stderr.decode("ascii")  # printable ASCII, whatever the locale
    assert r.returncode == 2 and line.count("\n") == 1 and line[:-1].isprintable(), line
    assert line.startswith(f"mlf-build: error: {tmp_path}/m?odels?/bad.tar(metadata.json): "), line


@pytest.mark.parametrize("locale", list(LOCALES))
def test_non_utf8_model_file_name(locale: str, tmp_path: Path) -> None:
    """The model's own file name (not only its folder) with a byte that is not UTF-8 and an ESC:
    generate and report work, and the report's page is UTF-8 with '?' for both (it names the
    model by its file name: a traceback and a raw ESC before)."""
    env = LOCALES[locale]
    model = write_tar(tmp_path / os.fsdecode(b"m\xff\x1b.tar"), minimal_files())
    out = tmp_path / "out"
    r = _mlf_build(["generate", os.fsencode(model), "--name", "net", "--out", out], env)
    assert r.returncode == 0, r.stderr
    page = (out / "net_report.html").read_bytes()
    assert b"\x1b" not in page and b"m??.tar" in page
    page.decode("utf-8")
    r = _mlf_build(["report", os.fsencode(model), "-o", tmp_path / "r.html"], env)
    assert r.returncode == 0, r.stderr
    assert b"\x1b" not in (tmp_path / "r.html").read_bytes()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("json_out", [True, False])
def test_stdout_that_cannot_be_written(json_out: bool, tmp_path: Path) -> None:
    """inspect into a full disk: one line and exit 2 (a traceback before), whether the text is
    written at once (--json) or only flushed at the end."""
    model = write_tar(tmp_path / "model.tar", minimal_files())
    with open("/dev/full", "wb") as full:
        r = subprocess.run(
            [sys.executable, "-m", "mlf_build", "inspect", model, *(["--json"] if json_out else [])],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    assert (
        r.returncode == 2
        and r.stderr == b"mlf-build: error: <stdout>: cannot be written (No space left on device)\n"
    )


@needs_cmake
def test_cmake_reads_a_non_utf8_path_exactly(tmp_path: Path) -> None:
    folder = tmp_path / os.fsdecode(b"m\xff[x]=")
    folder.mkdir()
    model = write_tar(folder / "model.tar", minimal_files())
    info = tmp_path / "info.cmake"
    r = run_cli(
        ["generate", model, "--name", "net", "--out", tmp_path / "out", "--list", "--cmake-info", info]
    )
    assert r.code == 0, r.err
    script = tmp_path / "read.cmake"
    script.write_text(
        f'include("{info}")\nforeach(f IN LISTS MLF_INFO_INPUT_FILES)\n  message("<${{f}}>")\nendforeach()\n'
    )
    res = subprocess.run(["cmake", "-P", script], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr == b"<" + os.fsencode(model.resolve()) + b">\n"
