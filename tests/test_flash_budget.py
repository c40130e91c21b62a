"""MAX_FLASH at generation (hence at CMake configure) counts every byte of constant data the
library will hold, not only the parameters file: weights TVM compiled into its C (-link-params'
__tvm_param__*, AOT's constants) and USMP constant pools."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

from mlf_build.read.csource import parse_c
from tests.conftest import corpus_item, needs_cmake, run_cli
from tests.firmware import configure
from tests.mlf_factory import write_tar


def _flash_error(model: Path, budget: int, tmp: Path, *extra: str) -> str:
    r = run_cli(
        ["generate", model, "--name", "net", "--out", tmp / "out", "--max-flash", str(budget), *extra]
    )
    return r.err if r.code else ""


def test_linked_parameters_count(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    # -link-params=1 (2021): the parameters file is there too, but the library uses TVM's arrays.
    model = fixture_models["v4-graph-linkparams"]
    err = _flash_error(model, 2479, tmp_path)
    assert (
        "needs 2480 bytes of flash for its weights and constants alone (2480 in TVM's C) "
        "but MAX_FLASH is 2479" in err
    )
    assert _flash_error(model, 2480, tmp_path) == ""
    # AOT constants bound into the operators (empty parameters file).
    assert "(2480 in TVM's C)" in _flash_error(fixture_models["v7-aot-c"], 100, tmp_path)
    # A graph model's weights are in the parameters file.
    assert "(2480 in the parameters file)" in _flash_error(fixture_models["v7-graph"], 100, tmp_path)


def test_linked_weights_of_a_real_model_are_counted(corpus: Path, tmp_path: Path) -> None:
    # The arduino yes/no AOT model links 9 parameters: TVM's own constants_size_bytes says 33524.
    model = corpus_item(corpus, "arduino-yesno-v5-aot")
    err = _flash_error(model, 1000, tmp_path, "--io-shape", "output=1x4")
    assert "needs 33524 bytes of flash for its weights and constants alone (33524 in TVM's C)" in err


# The internal constant pool USMP writes into lib0.c (source_module.cc GenerateConstantBuffer).
CONST_POOL = """
__attribute__((section(".rodata.tvm"), ))
static const struct global_const_workspace {
  float fused_constant_let[8] __attribute__((aligned(16))); // 32 bytes, aligned offset: 0
  float fused_constant_1_let[3] __attribute__((packed, aligned(16))); // 12 bytes, aligned offset: 32
} global_const_workspace = {
  .fused_constant_let = {
    0x1p+0, 0x1p+0, 0x1p+0, 0x1p+0, 0x1p+0, 0x1p+0, 0x1p+0, 0x1p+0
  },
  .fused_constant_1_let = {
    0x1p+0, 0x1p+0, 0x1p+0
  },
};// of total size 44 bytes
"""


def test_usmp_constant_pools_count(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    assert parse_c(CONST_POOL).constant_pools == {"global_const_workspace": 44}
    files: dict[str, bytes] = {}
    with tarfile.open(fixture_models["v7-aot-c-usmp"]) as tf:
        for m in tf.getmembers():
            if m.isfile():
                files[m.name[2:]] = tf.extractfile(m).read()  # type: ignore[union-attr]
    lib0 = files["codegen/host/src/default_lib0.c"].decode()
    files["codegen/host/src/default_lib0.c"] = lib0.replace(
        "#include <tvmgen_default.h>", CONST_POOL + "#include <tvmgen_default.h>"
    ).encode()
    model = write_tar(tmp_path / "pool.tar", files)
    assert "(2480 in TVM's C, 44 in constant pools)" in _flash_error(model, 100, tmp_path)


@needs_cmake
def test_cmake_configure_fails_on_linked_constants(fixture_models: dict[str, Path], tmp_path: Path) -> None:
    """The AOT model's parameters file is empty: before, MAX_FLASH passed configure and only the
    build failed; now configure names the constants."""
    src = tmp_path / "src"
    src.mkdir()
    model = fixture_models["v7-aot-c"]
    (src / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(b C)\nfind_package(mlf_build CONFIG REQUIRED)\n"
        f'add_mlf_library(net "{model.as_posix()}" MAX_FLASH 2K)\n'
    )
    res = configure(src, tmp_path / "b", check=False)
    assert res.returncode != 0
    msg = " ".join(res.stderr.split())
    assert re.search(
        r"needs 2480 bytes of flash for its weights and constants alone \(2480 in TVM's C\) "
        r"but MAX_FLASH is 2048",
        msg,
    ), msg
