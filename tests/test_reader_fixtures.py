"""Every fixture layout round-trips through the reader: what the exporter wrote (format version,
executor, interface, modules, tensors) is what inspect reports, whatever the container
(tarball, .tar.gz, .tgz or extracted directory), and non-MLF files are ignored with a warning."""

from __future__ import annotations

import gzip
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from tests import fixtures
from tests.conftest import run_cli
from tests.mlf_factory import minimal_files, write_tar

EXPECTED_IO = {
    "waveform": ([("float32", [1, 1, 32])], [("float32", 16), ("float32", 16)]),
    "mixer": ([("float32", [1, 4]), ("float32", [1, 4])], [("float32", 12)]),
}
IO_SHAPES = {"v5-aot-c": ["logits=1x4", "probs=1x4"], "v5-aot-packed": ["output=1x4", "output1=1x4"]}


def inspect(path: Path, *extra: str) -> dict:
    r = run_cli(["inspect", path, "--json", *extra])
    assert r.code == 0, r.err
    return json.loads(r.out)


@pytest.mark.parametrize("layout", [x for x in fixtures.LAYOUTS if not fixtures.layout_info(x)["llvm"]])
def test_layout_round_trips(layout: str, fixture_models: dict[str, Path]) -> None:
    info = fixtures.layout_info(layout)
    args = [a for spec in IO_SHAPES.get(layout, []) for a in ("--io-shape", spec)]
    doc = inspect(fixture_models[layout], *args)
    assert doc["format_version"] == info["version"]
    assert doc["layout"] == ("v7" if info["version"] == 7 else "flat")
    if info["executor"] is None:  # operator-style export
        assert [m["style"] for m in doc["modules"]] == ["operator"]
        return
    assert sorted(m["name"] for m in doc["modules"]) == sorted(info["modules"])
    for m in doc["modules"]:
        assert m["executor"] == info["executor"]
        assert m["interface"] == info["interface"]
        model = info["module_models"][m["name"]]
        ins, outs = EXPECTED_IO[model]
        assert [(t["dtype"], t["shape"]) for t in m["inputs"]] == ins
        assert [(t["dtype"], t["nbytes"]) for t in m["outputs"]] == outs
        # USMP models keep every intermediate in TVM's static pool: no arena is needed.
        usmp = info["usmp"] and (layout != "v7-two-modules" or m["name"] == "mixer")
        assert m["arena"]["exact"] is True and (m["arena"]["bytes"] == 0) == usmp
        # dict in v1-5, list in v6+
        assert isinstance(m["targets"], dict if info["version"] <= 5 else list)


@pytest.mark.parametrize("container", ["tar.gz", "tgz", "directory"])
def test_containers_read_the_same(container: str, fixture_models: dict[str, Path], tmp_path: Path) -> None:
    tar = fixture_models["v7-graph"]
    if container == "directory":
        path = tmp_path / "model"
        with tarfile.open(tar) as tf:
            tf.extractall(path, filter="data")
    else:
        path = tmp_path / f"model.{container}"
        path.write_bytes(gzip.compress(tar.read_bytes(), mtime=0))
    want, got = inspect(tar), inspect(path)
    want.pop("path"), got.pop("path")
    assert got == want


def test_files_outside_the_mlf_are_ignored_with_a_warning(tmp_path: Path) -> None:
    files = minimal_files()
    files.update(
        {
            ".vscode/settings.json": b"{}",
            "codegen/host/src/__pycache__/x.cpython-311.pyc": b"\0",
            "stray.o": b"\x7fELF",
            "notes.txt": b"hello",
            "codegen/host/src/default_lib1.c~": b"backup",
        }
    )
    path = write_tar(tmp_path / "model.tar", files)
    r = run_cli(["inspect", path])
    assert r.code == 0
    warnings = [line for line in r.err.splitlines() if line.startswith("mlf-build: warning: ")]
    assert f"{path}(.vscode/): ignored (editor or tool folder)" in r.err
    assert f"{path}(stray.o): ignored (object file outside codegen/host/lib)" in r.err
    assert f"{path}(notes.txt): ignored (not part of an MLF)" in r.err
    assert f"{path}(codegen/host/src/default_lib1.c~): ignored (editor or cache file)" in r.err
    assert len(warnings) == 5
    assert "stray.o" not in json.dumps(inspect(path)["modules"])


def test_read_only_copy_of_the_corpus_is_never_written(
    fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    src = tmp_path / "ro.tar"
    shutil.copyfile(fixture_models["v7-graph"], src)
    src.chmod(0o444)
    before = src.read_bytes()
    assert run_cli(["generate", src, "--name", "net", "--out", tmp_path / "out"]).code == 0
    assert src.read_bytes() == before


def test_devices_are_described_and_generate_names_what_is_missing(
    fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    """An AOT model taking a devices struct (Ethos-U) is a well-formed archive: inspect lists
    the devices; building it is generate's business, which says in one line what it needs."""
    path = fixture_models["v7-aot-ethosu"]
    (m,) = inspect(path)["modules"]
    assert m["devices"] == ["ethos_u"]
    text = run_cli(["inspect", path])
    assert text.code == 0 and "devices:        ethos_u (struct tvmgen_default_devices)" in text.out
    r = run_cli(["generate", path, "--name", "npu", "--out", tmp_path / "out"])
    assert r.code == 2 and r.err.count("\n") == 1
    assert "runs operators on the device(s) ethos_u; build it against the device's driver" in r.err
    assert not (tmp_path / "out").exists()
