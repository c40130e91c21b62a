"""Copying members out of an MLF: the kernel copy (copy_file_range) of plain tarballs and
directories gives the same bytes as the chunked copy of compressed tarballs, falls back to it
whenever the kernel refuses (before or part-way), and still reports a truncated archive."""

from __future__ import annotations

import errno
import os
import random
import tarfile
from pathlib import Path

import pytest

from mlf_build.errors import MlfError
from mlf_build.read import archive
from mlf_build.read.archive import open_mlf
from tests.mlf_factory import minimal_files, write_tar

BIG = "parameters/big.params"


def _files() -> dict[str, bytes]:
    files = minimal_files()
    # Several MiB, not a multiple of the chunk size, so chunked copies take several reads.
    files[BIG] = random.Random(7).randbytes(3 * 1024 * 1024 + 12345)
    return files


@pytest.fixture(params=["tar", "tar.gz", "dir"])
def source(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    files = _files()
    if request.param == "dir":
        root = tmp_path / "mlf"
        for name, data in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        return root, files
    path = tmp_path / f"model.{request.param}"
    write_tar(path, files, compress=request.param == "tar.gz")
    return path, files


def test_copy_gives_the_member_bytes(source, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path, files = source
    with open_mlf(path) as src:
        for name in (BIG, "metadata.json"):
            dest = tmp_path / "out" / name.replace("/", "_")
            dest.parent.mkdir(exist_ok=True)
            src.copy_to(name, dest)
            assert dest.read_bytes() == files[name]


def test_plain_sources_use_the_kernel_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not hasattr(os, "copy_file_range"):
        pytest.skip("no os.copy_file_range on this platform")
    calls = []
    real = os.copy_file_range

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(os, "copy_file_range", spy)
    files = _files()
    write_tar(tmp_path / "m.tar", files)
    write_tar(tmp_path / "m.tgz", files, compress=True)
    with open_mlf(tmp_path / "m.tar") as src:
        src.copy_to(BIG, tmp_path / "a")
    assert calls
    calls.clear()
    with open_mlf(tmp_path / "m.tgz") as src:
        src.copy_to(BIG, tmp_path / "b")
    assert calls  # compressed: from the copy decompressed once (archive.py's _Spool)
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes() == files[BIG]


@pytest.mark.parametrize("after", [0, 1])
def test_falls_back_when_the_kernel_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after: int
) -> None:
    """EXDEV/ENOSYS/... before the first byte, or part-way through: the chunked copy starts over."""
    if not hasattr(os, "copy_file_range"):
        pytest.skip("no os.copy_file_range on this platform")
    real = os.copy_file_range
    count = [0]

    def flaky(src, dst, n, offset_src=None, *rest):  # type: ignore[no-untyped-def]
        count[0] += 1
        if count[0] > after:
            raise OSError(errno.EXDEV, "cross-device")
        return real(src, dst, min(n, 1000), offset_src, *rest)

    monkeypatch.setattr(os, "copy_file_range", flaky)
    files = _files()
    write_tar(tmp_path / "m.tar", files)
    with open_mlf(tmp_path / "m.tar") as src:
        src.copy_to(BIG, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == files[BIG]


def test_without_copy_file_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(os, "copy_file_range", raising=False)
    files = _files()
    write_tar(tmp_path / "m.tar", files)
    with open_mlf(tmp_path / "m.tar") as src:
        src.copy_to(BIG, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == files[BIG]


def test_truncated_after_opening_is_an_error(tmp_path: Path) -> None:
    files = _files()
    path = write_tar(tmp_path / "m.tar", files)
    with open_mlf(path) as src:
        with tarfile.open(path) as tf:
            end = tf.getmember(BIG).offset_data + 1000
        os.truncate(path, end)
        with pytest.raises(MlfError, match="truncated"):
            src.copy_to(BIG, tmp_path / "out")


def test_destination_must_not_exist(tmp_path: Path) -> None:
    path = write_tar(tmp_path / "m.tar", _files())
    (tmp_path / "out").write_bytes(b"keep")
    with open_mlf(path) as src, pytest.raises(FileExistsError):
        src.copy_to(BIG, tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b"keep"


def test_kernel_copy_is_private() -> None:
    assert "_kernel_copy" not in archive.__all__
