"""The output folder belongs to the user: the generator removes only files it can prove it wrote
(listed in its record, holding the bytes it wrote), never follows a link out of the folder, and
leaves everything else alone, however the folder was prepared and whatever its record says."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from mlf_build.write import owned_record
from tests.conftest import run_cli
from tests.mlf_factory import ADD_C, minimal_files, write_tar


def model_with_extra_source(path: Path, extra: bool) -> Path:
    """The factory model, with or without a second C source (so a regeneration drops files)."""
    files = minimal_files()
    if extra:
        files["codegen/host/src/default_lib2.c"] = b"int tvmgen_default_unused;\n"
    return write_tar(path, files)


def generate(model: Path, out: Path, name: str = "m") -> None:
    r = run_cli(["generate", model, "--name", name, "--out", out])
    assert r.code == 0, r.err


def user_files(out: Path) -> dict[str, str]:
    """Files a user keeps in the folder, some named like generated ones (``m*``, ``codegen/``)."""
    files = {
        "main.c": "int main(void) { return 0; }\n",
        "model.tar": "a copy of the model the user keeps here\n",
        "mydata/keep.txt": "the user's data\n",
        "m_notes.txt": "starts with the library name\n",
        "codegen/notes.txt": "in the generated folder\n",
        "codegen/src/mine.c": "int mine;\n",
    }
    for rel, text in files.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    return files


def test_regeneration_removes_only_files_it_wrote(tmp_path: Path) -> None:
    """The issue's scenario: `--name m` into a folder holding the user's files. Regenerating a
    model with one source fewer removes that source and its wrapper, and nothing of the user's,
    not even files named like generated ones."""
    out = tmp_path / "out"
    out.mkdir()
    mine = user_files(out)
    generate(model_with_extra_source(tmp_path / "a.tar", True), out)
    assert (out / "codegen/src/default_lib2.c").is_file() and (out / "codegen/m__default_lib2.c").is_file()
    generate(model_with_extra_source(tmp_path / "b.tar", False), out)
    assert not (out / "codegen/src/default_lib2.c").exists()
    assert not (out / "codegen/m__default_lib2.c").exists()
    for rel, text in mine.items():
        assert (out / rel).read_text() == text, rel
    record = json.loads(owned_record(out, "m").read_text())
    assert set(record["files"]) == set(json.loads((out / "m_manifest.json").read_text())["files"])


def test_a_generated_file_the_user_changed_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "out"
    generate(model_with_extra_source(tmp_path / "a.tar", True), out)
    edited = out / "codegen/src/default_lib2.c"
    edited.write_text("/* the user's fix */\n")
    generate(model_with_extra_source(tmp_path / "b.tar", False), out)
    assert edited.read_text() == "/* the user's fix */\n"
    assert not (out / "codegen/m__default_lib2.c").exists()  # unchanged: removed


def test_a_folder_without_a_record_loses_nothing(tmp_path: Path) -> None:
    """A folder written by an earlier mlf_build (no record), or one whose record is damaged:
    nothing is removed, however much it looks like generated output."""
    out = tmp_path / "out"
    generate(model_with_extra_source(tmp_path / "a.tar", True), out)
    owned_record(out, "m").write_text("{not json")
    generate(model_with_extra_source(tmp_path / "b.tar", False), out)
    assert (out / "codegen/src/default_lib2.c").is_file()
    owned_record(out, "m").unlink()
    generate(model_with_extra_source(tmp_path / "a.tar", True), out)
    generate(model_with_extra_source(tmp_path / "b.tar", False), out)
    assert not (out / "codegen/src/default_lib2.c").exists()  # the new record covers it


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_forged_record_cannot_remove_anything_outside(tmp_path: Path) -> None:
    """The record is only trusted for plain relative paths through real folders: '..',
    absolute paths and links to elsewhere are ignored, even with the right hashes."""
    out = tmp_path / "out"
    outside = tmp_path / "outside"
    outside.mkdir()
    victims = {name: outside / name for name in ("a.txt", "b.txt", "c.txt")}
    for p in victims.values():
        p.write_text(f"{p.name}: the user's\n")
    model = model_with_extra_source(tmp_path / "a.tar", False)
    generate(model, out)
    os.symlink(outside, out / "codegen" / "link")
    os.symlink(victims["c.txt"], out / "c-link.txt")
    record = json.loads(owned_record(out, "m").read_text())
    record["files"].update(
        {
            "../outside/a.txt": _sha(victims["a.txt"]),
            str(victims["b.txt"]): _sha(victims["b.txt"]),
            "codegen/link/b.txt": _sha(victims["b.txt"]),
            "c-link.txt": _sha(victims["c.txt"]),
        }
    )
    owned_record(out, "m").write_text(json.dumps(record))
    generate(model, out)
    for p in victims.values():
        assert p.read_text() == f"{p.name}: the user's\n"
    assert (out / "c-link.txt").is_symlink()  # not a file the generator wrote: left alone


def test_an_output_file_that_is_a_link_is_replaced_not_followed(tmp_path: Path) -> None:
    """A link where a generated file goes is replaced by the file; its target is not written."""
    out = tmp_path / "out"
    out.mkdir()
    target = tmp_path / "victim.h"
    target.write_text("the user's\n")
    os.symlink(target, out / "m.h")
    os.symlink(target, out / "m.stamp")
    os.symlink(target, owned_record(out, "m"))
    generate(model_with_extra_source(tmp_path / "a.tar", False), out)
    assert target.read_text() == "the user's\n"
    assert not (out / "m.h").is_symlink() and "m_run" in (out / "m.h").read_text()
    assert not (out / "m.stamp").is_symlink() and not owned_record(out, "m").is_symlink()


def test_a_refused_run_into_an_existing_folder_changes_nothing(tmp_path: Path) -> None:
    """A model refused while planning: the folder (with an earlier generation in it) is exactly
    as before, no lock or staging folder added."""
    out = tmp_path / "out"
    generate(model_with_extra_source(tmp_path / "a.tar", False), out)
    (out / ".mlf-lock").unlink()
    before = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    files = minimal_files()
    files["codegen/host/src/default_lib1.c"] = (ADD_C + "static const float __tvm_param__p0[2];\n").encode()
    r = run_cli(["generate", write_tar(tmp_path / "bad.tar", files), "--name", "m", "--out", out])
    assert r.code == 2 and "holds 8 bytes" in r.err, r.err
    after = {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
