"""archive.py: member names checked once, ignored files reported, reads bounded."""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from mlf_build.errors import MlfError
from mlf_build.read.archive import copy_member, normalise_name, open_mlf
from tests.mlf_factory import Special, minimal_files, tar_bytes, write_tar


@pytest.mark.parametrize(
    ("raw", "name"),
    [("./metadata.json", "metadata.json"), ("a//b/./c", "a/b/c"), ("./", ""), ("src/x.relay", "src/x.relay")],
)
def test_names_are_normalised(raw: str, name: str) -> None:
    assert normalise_name(raw, "m.tar") == name


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("a/../../etc/passwd", "points outside the archive"),
        ("/etc/passwd", "has an absolute path"),
        ("C:/x", "has an absolute path"),
        ("./C:/x", "has an absolute path"),  # still a drive on Windows after normalising
        ("a\\b", "contains a backslash"),
        ("a\x1b[31mb", "contains control characters"),
        ("bad\udcff", "is not valid UTF-8"),
        ("x" * 4097, "longer than 4096 bytes"),
    ],
)
def test_unsafe_names_are_refused(raw: str, problem: str) -> None:
    with pytest.raises(MlfError, match=problem) as exc:
        normalise_name(raw, "m.tar")
    assert exc.value.where == "m.tar"
    assert "\n" not in str(exc.value) and "\x1b" not in str(exc.value)


def test_ignored_files_are_recorded_and_never_readable(tmp_path: Path) -> None:
    # (tests/test_reader_fixtures.py checks the warnings inspect prints for each reason.)
    files = {**minimal_files(), ".git/config": b"", "parameters/default.params.orig": b""}
    files["runtime/anything/at/all.txt"] = b"kept"  # the bundled CRT: any file below runtime/
    with open_mlf(write_tar(tmp_path / "m.tar", files)) as src:
        assert src.ignored == [
            (".git/config", "editor or tool folder"),
            ("parameters/default.params.orig", "editor or cache file"),
        ]
        assert src.names() == sorted([*minimal_files(), "runtime/anything/at/all.txt"])
        assert not src.has(".git/config")


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ([("a.txt", b"1"), ("./a.txt", b"2")], "duplicate member 'a.txt'"),
        ([("src", b""), ("src/x.relay", b"")], "'src' is both a file and a directory"),
        ([Special("src", tarfile.DIRTYPE), ("src", b"")], "'src' is both a file and a directory"),
        ([Special("metadata.json", tarfile.SYMTYPE, "/etc/passwd")], "is a symbolic link"),
        ([Special("x", tarfile.LNKTYPE, "metadata.json")], "is a hard link"),
        ([Special("x", tarfile.FIFOTYPE)], "is a FIFO"),
    ],
)
def test_archive_shapes_that_are_refused(tmp_path: Path, members: list, problem: str) -> None:
    path = tmp_path / "m.tar"
    path.write_bytes(tar_bytes(members))
    with pytest.raises(MlfError, match=problem):
        open_mlf(path)


def test_read_bytes_enforces_the_per_file_limit(tmp_path: Path) -> None:
    with open_mlf(write_tar(tmp_path / "m.tar", {"metadata.json": b"x" * 100})) as src:
        assert src.read_bytes("metadata.json", 100) == b"x" * 100
        with pytest.raises(MlfError, match="is 100 bytes, more than the 99 bytes allowed"):
            src.read_bytes("metadata.json", 99)


def test_read_text_refuses_non_utf8_naming_the_member(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "m.tar", {"metadata.json": b"\xff\xfe"})
    with open_mlf(path) as src, pytest.raises(MlfError, match="is not UTF-8 text") as exc:
        src.read_text("metadata.json", 10)
    assert exc.value.where == f"{tmp_path / 'm.tar'}(metadata.json)"


def test_the_total_size_limit(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "m.tar", {"a.relay": b"x" * 60, "src/b.relay": b"y" * 60})
    with pytest.raises(MlfError, match="declares 120 bytes of members, more than the limit of 100"):
        open_mlf(path, max_total=100)


@pytest.mark.parametrize("compress", [False, True])
def test_copy_member_copies_exactly_the_members_bytes(tmp_path: Path, compress: bool) -> None:
    data = bytes(range(256)) * 41  # not a multiple of any block size
    path = write_tar(tmp_path / "m.tar", {"a.txt": b"before", "parameters/x.params": data}, compress)
    with open_mlf(path) as src:
        copy_member(src, "parameters/x.params", tmp_path / "out" / "x.bin")
    assert (tmp_path / "out" / "x.bin").read_bytes() == data


def test_directory_links_leading_outside_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "mlf"
    root.mkdir()
    (tmp_path / "secret").write_text("s")
    (root / "metadata.json").symlink_to(tmp_path / "secret")
    with pytest.raises(MlfError, match="is a link to outside the directory"):
        open_mlf(root)


def test_directory_links_inside_are_followed(tmp_path: Path) -> None:
    root = tmp_path / "mlf"
    (root / "src").mkdir(parents=True)
    (root / "src" / "default.relay").write_text("def @main() { 0 }")
    (root / "relay.txt").symlink_to(root / "src" / "default.relay")
    with open_mlf(root) as src:
        assert src.read_text("relay.txt", 100) == "def @main() { 0 }"
