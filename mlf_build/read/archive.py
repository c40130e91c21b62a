"""Read-only, path-safe access to the members of an MLF, whether a tarball or a directory.

Nothing here ever lets an archive choose where bytes go: member names are normalised and checked
once, at open time, and every later read or copy goes through that checked name. Links, devices,
FIFOs, absolute paths, ``..``, duplicates, non-UTF-8 names and oversized archives are refused.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import io
import lzma
import os
import re
import stat
import tarfile
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, ClassVar

from ..errors import MlfError, has_control, member_display, printable
from .sniff import describe

DEFAULT_MAX_TOTAL_SIZE = 2 * 1024**3
MAX_MEMBERS = 100_000
#: GNU long names/links and pax records are read into memory whole by tarfile, before any member
#: they describe is seen: bound them (a 300 kB gzip can otherwise declare a 300 MB long name).
MAX_EXTENDED_HEADER = 64 << 10
#: ... and all of them together (tarfile keeps each member's pax records)
MAX_EXTENDED_TOTAL = 16 << 20
#: bytes in one member name (Linux's PATH_MAX)
MAX_NAME_BYTES = 4096
#: extended headers each apply to the next header, which tarfile reads recursively
MAX_EXTENDED_CHAIN = 16
_COPY_CHUNK = 1 << 20
#: bytes of members read whole into memory and parsed (sources, JSON, headers, objects), in all:
#: the bound on the time a load takes (parameters are streamed and not counted)
MAX_READ_TOTAL = 512 << 20

try:
    from lzma import LZMAError
except ImportError:  # pragma: no cover - Python built without lzma
    LZMAError = OSError  # type: ignore[misc,assignment]

#: What tarfile and the decompressors under it raise on damaged input. zlib and lzma errors
#: escape tarfile when it seeks over member data; RecursionError comes from nested headers.
_DAMAGED = (
    tarfile.TarError,
    EOFError,
    OSError,
    ValueError,
    UnicodeError,
    RecursionError,
    zlib.error,
    LZMAError,
)

# Paths an MLF may hold (after normalisation, without the leading "./"). Anything else is
# reported and ignored, never read.
_MLF_PATTERNS = [
    re.compile(p)
    for p in (
        r"metadata\.json",
        r"relay\.txt",
        r"src/relay\.txt",
        r"src/[^/]+\.relay",
        r"src/tir-[^/]+\.txt",
        r"(runtime|executor)-config/graph/[^/]+\.(json|graph)",
        r"parameters/[^/]+\.params",
        r"codegen/host/src/[^/]+\.(c|cc|cpp|cxx|h|hpp|inc)",
        r"codegen/host/lib/[^/]+\.o",
        r"codegen/host/include/.+\.(h|hpp)",
        r"runtime/.+",
        r"templates/[^/]+",
    )
]
_ABSENT = object()
#: bytes a tar name could not decode (surrogateescape)
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
_JUNK_DIRS = {".git", ".svn", ".hg", ".vscode", ".idea", "__pycache__", ".ipynb_checkpoints"}
_JUNK_FILE = re.compile(r"(\.pyc|\.pyo|\.swp|\.swo|~|\.DS_Store|\.orig|\.rej)$")


@dataclass(frozen=True)
class Member:
    """A regular file of the MLF. ``name`` is normalised: relative, '/'-separated, no './'."""

    name: str
    size: int


def normalise_name(raw: str, where: str) -> str:
    """Check one member name and return its normalised form ('' for the archive root)."""
    if len(raw) > MAX_NAME_BYTES or len(raw.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise MlfError(where, f"member name {printable(raw)!r} is longer than {MAX_NAME_BYTES} bytes")
    if _NOT_UTF8.search(raw):
        raise MlfError(where, f"member name {printable(raw)!r} is not valid UTF-8")
    if has_control(raw):
        raise MlfError(where, f"member name {printable(raw)!r} contains control characters")
    if "\\" in raw:
        raise MlfError(where, f"member name {printable(raw)!r} contains a backslash")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw):
        raise MlfError(where, f"member {printable(raw)!r} has an absolute path")
    parts = [p for p in raw.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise MlfError(where, f"member {printable(raw)!r} points outside the archive ('..')")
    if parts and re.match(r"^[A-Za-z]:", parts[0]):  # "./C:/x" is still a drive on Windows
        raise MlfError(where, f"member {printable(raw)!r} has an absolute path")
    return "/".join(parts)


def _ignored_reason(name: str) -> str | None:
    """None when ``name`` belongs in an MLF, else a short reason for the warning."""
    parts = name.split("/")
    if any(p in _JUNK_DIRS for p in parts[:-1]):
        return "editor or tool folder"
    if _JUNK_FILE.search(parts[-1]):
        return "editor or cache file"
    if name.startswith("runtime/"):
        return None
    if any(p.fullmatch(name) for p in _MLF_PATTERNS):
        return None
    if name.endswith(".o"):
        return "object file outside codegen/host/lib"
    return "not part of an MLF"


class MlfSource:
    """The checked members of an MLF and the means to read them.

    Use as a context manager (``with open_mlf(p) as src``) so an open tarball is closed.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.members: dict[str, Member] = {}
        #: every name seen, kept or ignored: folder -> {child: subtree}, None for a regular file
        self._tree: dict[str, Any] = {}
        #: (name, reason) of files that are present but not part of an MLF
        self.ignored: list[tuple[str, str]] = []
        self._read_total = 0

    # -- reading ---------------------------------------------------------------------------
    def display(self, name: str | None = None) -> str:
        return str(self.path) if name is None else member_display(self.path, name)

    def has(self, name: str) -> bool:
        return name in self.members

    def size(self, name: str) -> int:
        return self.members[name].size

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self.members if n.startswith(prefix))

    def read_bytes(self, name: str, max_size: int) -> bytearray:
        """A member read whole into memory, for a parser: at most ``max_size`` bytes, and
        MAX_READ_TOTAL for all such reads of the archive together (which bounds the time they
        take). Read in chunks into one buffer: the member is held once."""
        member = self.members[name]
        if member.size > max_size:
            raise MlfError(
                self.display(name),
                f"is {member.size} bytes, more than the {max_size} bytes allowed for this file",
            )
        self._read_total += member.size
        if self._read_total > MAX_READ_TOTAL:
            raise MlfError(
                self.display(name),
                f"takes the files read whole (sources, JSON, objects) over {MAX_READ_TOTAL} bytes in all",
            )
        data = bytearray(member.size)
        with self.open(name) as f:
            done = 0
            while done < member.size:
                chunk = f.read(min(_COPY_CHUNK, member.size - done))
                if not chunk:
                    break
                data[done : done + len(chunk)] = chunk
                done += len(chunk)
            if done != member.size or f.read(1):
                raise MlfError(self.display(name), "is truncated (the archive ends early)")
        return data

    def read_text(self, name: str, max_size: int) -> str:
        data = self.read_bytes(name, max_size)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._not_utf8(name, exc) from None

    def read_utf8(self, name: str, max_size: int) -> bytearray:
        """A text member as bytes, checked to be UTF-8 without ever holding it as a str (up to
        four bytes a character): for the large ones, C sources."""
        data = self.read_bytes(name, max_size)
        if not data.isascii():
            decoder = codecs.getincrementaldecoder("utf-8")()
            view = memoryview(data)
            try:
                for start in range(0, len(data), _COPY_CHUNK):
                    decoder.decode(view[start : start + _COPY_CHUNK])
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as exc:
                raise self._not_utf8(name, exc) from None
        return data

    def _not_utf8(self, name: str, exc: UnicodeDecodeError) -> MlfError:
        return MlfError(self.display(name), f"is not UTF-8 text ({exc.reason})")

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        raise NotImplementedError

    def copy_to(self, name: str, dest: Path) -> None:
        """Stream one member into ``dest`` (a path the caller chose, never one from the archive).

        A member stored as plain bytes in a file (an uncompressed tarball, a directory) is copied
        by the kernel (copy_file_range), at the speed of ``cp``: that is most of the generation
        time of a model with many MiB of parameters. Otherwise it is read and written in chunks.
        """
        remaining = self.members[name].size
        with self._span(name) as span:
            if span is not None and _kernel_copy(span[0], span[1], remaining, dest, self.display(name)):
                return
        with self.open(name) as src, open(dest, "xb") as out:
            while remaining:
                chunk = src.read(min(_COPY_CHUNK, remaining))
                if not chunk:
                    raise MlfError(self.display(name), "is truncated (the archive ends early)")
                out.write(chunk)
                remaining -= len(chunk)

    @contextmanager
    def _span(self, name: str) -> Iterator[tuple[int, int] | None]:
        """(file descriptor, offset) of the member's bytes stored as they are, or None."""
        yield None

    def close(self) -> None:
        pass

    def __enter__(self) -> MlfSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building --------------------------------------------------------------------------
    def _add(self, raw: str, size: int, is_dir: bool) -> str | None:
        """Record one entry; returns its normalised name when it is a kept MLF file."""
        name = normalise_name(raw, str(self.path))
        if not name:
            return None
        # The tree of names seen (folder -> {child: subtree}, None for a file) finds a name used
        # as both a file and a folder in time and memory linear in the names' length.
        node = self._tree
        parts = name.split("/")
        for i, part in enumerate(parts[:-1]):
            child = node.setdefault(part, {})
            if child is None:
                raise MlfError(
                    self.path, f"{printable('/'.join(parts[: i + 1]))!r} is both a file and a directory"
                )
            node = child
        existing = node.get(parts[-1], _ABSENT)
        if is_dir:
            if existing is None:
                raise MlfError(self.path, f"{printable(name)!r} is both a file and a directory")
            if existing is _ABSENT:
                node[parts[-1]] = {}
            return None
        if existing is None:
            raise MlfError(self.path, f"duplicate member {printable(name)!r}")
        if existing is not _ABSENT:
            raise MlfError(self.path, f"{printable(name)!r} is both a file and a directory")
        node[parts[-1]] = None
        reason = _ignored_reason(name)
        if reason is not None:
            self.ignored.append((name, reason))
            return None
        self.members[name] = Member(name, size)
        return name

    def _check_totals(self, total: int, count: int, max_total: int) -> None:
        if count > MAX_MEMBERS:
            raise MlfError(self.path, f"has more than {MAX_MEMBERS} members")
        if total > max_total:
            raise MlfError(
                self.path,
                f"declares {total} bytes of members, more than the limit of {max_total} bytes "
                "(raise it with --max-size)",
            )


class _Refused(Exception):
    """A tar header refused while tarfile is still parsing it (turned into MlfError)."""


class _CheckedTarInfo(tarfile.TarInfo):
    """tarfile's header parsing with the bounds it lacks: extended headers (GNU long names,
    pax records) are read whole into memory and chain recursively, and sparse maps grow without
    limit; a tiny compressed archive could exhaust memory or the stack before any check of ours.
    Sparse members are refused outright (an MLF holds only regular files)."""

    _EXTENDED = (
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
    )

    def _proc_member(self, tf):  # type: ignore[no-untyped-def]
        if self.type not in self._EXTENDED:
            return super()._proc_member(tf)  # type: ignore[misc]
        if self.size > MAX_EXTENDED_HEADER:
            raise _Refused(
                f"declares a tar extended header (long name or pax record) of {self.size} bytes, "
                f"more than the {MAX_EXTENDED_HEADER} allowed"
            )
        total = getattr(tf, "_mlf_extended", 0) + self.size
        if total > MAX_EXTENDED_TOTAL:
            raise _Refused(
                f"holds more than {MAX_EXTENDED_TOTAL} bytes of tar extended headers "
                "(long names, pax records)"
            )
        tf._mlf_extended = total
        depth = getattr(tf, "_mlf_chain", 0)
        if depth >= MAX_EXTENDED_CHAIN:
            raise _Refused(f"chains more than {MAX_EXTENDED_CHAIN} tar extended headers")
        tf._mlf_chain = depth + 1
        try:
            return super()._proc_member(tf)  # type: ignore[misc]
        finally:
            tf._mlf_chain = depth

    def _proc_sparse(self, tf):  # type: ignore[no-untyped-def]
        raise _Refused(f"member {printable(self.name)!r} is a sparse file; an MLF holds only files")

    def _proc_gnusparse_10(self, nxt, pax_headers, tf):  # type: ignore[no-untyped-def]
        raise _Refused(f"member {printable(nxt.name)!r} is a sparse file; an MLF holds only files")


class _TarSource(MlfSource):
    _KIND: ClassVar[dict[bytes, str]] = {
        tarfile.SYMTYPE: "a symbolic link",
        tarfile.LNKTYPE: "a hard link",
        tarfile.CHRTYPE: "a character device",
        tarfile.BLKTYPE: "a block device",
        tarfile.FIFOTYPE: "a FIFO",
        tarfile.GNUTYPE_SPARSE: "a sparse file",
    }

    def __init__(self, path: Path, max_total: int) -> None:
        super().__init__(path)
        self._infos: dict[str, tarfile.TarInfo] = {}
        self._plain = False  # the members' bytes are stored as they are (no compression)
        self._spool: _Spool | None = None
        try:
            self._tar = self._open_tar(path)
        except _Refused as exc:
            self.close()
            raise MlfError(path, str(exc)) from None
        except _DAMAGED:
            self.close()
            # Say what the file is, never tarfile's attempts ("- method gz: ReadError(...)").
            raise MlfError(
                path,
                describe(path)
                or "is not a readable tar archive (neither a tar file nor a gzip-, bz2- or "
                "xz-compressed one, and of no other kind mlf-build knows)",
            ) from None
        try:
            self._scan(max_total)
        except BaseException:
            self.close()
            raise

    def _open_tar(self, path: Path) -> tarfile.TarFile:
        with open(path, "rb") as f:
            magic = f.read(6)
        for prefix, opener in _COMPRESSIONS:
            if magic.startswith(prefix):
                self._spool = _Spool(opener(path))
                return tarfile.open(fileobj=self._spool, mode="r:", tarinfo=_CheckedTarInfo)
        return tarfile.open(path, "r:", tarinfo=_CheckedTarInfo)

    def _scan(self, max_total: int) -> None:
        file_size = self.path.stat().st_size
        compressed = self._tar.fileobj is not None and not isinstance(self._tar.fileobj, io.BufferedReader)
        self._plain = not compressed and self._tar.fileobj is not None
        total = count = 0
        while True:
            try:
                info = self._tar.next()
            except _Refused as exc:
                raise MlfError(self.path, str(exc)) from None
            except _DAMAGED as exc:
                raise MlfError(self.path, f"is a corrupt tar archive ({_reason(exc)})") from None
            if info is None:
                break
            count += 1
            self._check_totals(total, count, max_total)
            if info.size < 0:  # a pax "size" record can say anything; the limits below assume >= 0
                raise MlfError(self.path, f"member {printable(info.name)!r} declares a negative size")
            kind = self._KIND.get(info.type)
            if kind is None and not (info.isfile() or info.isdir()):
                kind = f"an unsupported tar member type ({info.type!r})"
            if kind is None and info.sparse is not None:  # GNU sparse 0.0/0.1 in pax records
                kind = "a sparse file"
            if kind is not None:
                name = printable(info.name)
                raise MlfError(self.path, f"member {name!r} is {kind}; an MLF holds only files")
            if info.isfile():
                total += info.size
                self._check_totals(total, count, max_total)
                if not compressed and info.offset_data + info.size > file_size:
                    raise MlfError(
                        self.path,
                        f"is truncated: member {printable(info.name)!r} extends past the end",
                    )
            kept = self._add(info.name, info.size, info.isdir())
            if kept is not None:
                self._infos[kept] = info
            elif self._spool is not None and info.isfile():
                self._spool.drop(info.offset_data, info.offset_data + info.size)
        if count == 0:
            raise MlfError(self.path, "is an empty tar archive")

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        try:
            f = self._tar.extractfile(self._infos[name])
        except _DAMAGED as exc:
            raise MlfError(self.display(name), f"cannot be read ({_reason(exc)})") from None
        if f is None:  # pragma: no cover - only regular files are recorded
            raise MlfError(self.display(name), "is not a regular file")
        try:
            yield _GuardedReader(f, self.display(name))  # type: ignore[misc]
        finally:
            f.close()

    @contextmanager
    def _span(self, name: str) -> Iterator[tuple[int, int] | None]:
        info = self._infos[name]
        if self._spool is not None and info.offset_data + info.size <= self._spool.spooled:
            yield self._spool.fileno(), info.offset_data  # decompressed already
            return
        fileobj = self._tar.fileobj
        if not self._plain or not isinstance(fileobj, io.BufferedReader) or info.sparse is not None:
            yield None
            return
        try:
            fd = fileobj.fileno()
        except (AttributeError, OSError, ValueError):
            yield None
            return
        yield fd, info.offset_data

    def close(self) -> None:
        if hasattr(self, "_tar"):
            self._tar.close()
        if self._spool is not None:
            self._spool.close()


class _Spool(io.RawIOBase):
    """A compressed tarball, decompressed once as tarfile reads it, into an unnamed temporary
    file. Members are read in the loader's order, not the archive's, and a decompressor seeks
    back only by starting again from the beginning: reading the members of a .tar.gz cost, for
    each of them, the decompression of all that comes before it (a few thousand small members,
    or a few reads past a gzip-bombed member, took minutes). The file holds only what tarfile
    has read so far (headers and the members it stepped over, which the declared-size limit
    bounds), and disappears when the archive is closed."""

    def __init__(self, stream: io.BufferedIOBase) -> None:
        super().__init__()
        self._stream = stream
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.spooled = 0  # bytes decompressed into the file
        self._pos = 0
        self._drop = (0, 0)  # bytes never to be read (an ignored member): not stored

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        else:
            raise io.UnsupportedOperation("a compressed stream has no known end")
        if self._pos < 0:
            raise ValueError("negative seek position")
        return self._pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        want = self._pos + len(buffer)
        if want > self.spooled:
            self._file.seek(self.spooled)
            while self.spooled < want:
                start, end = self._drop
                dropping = start <= self.spooled < end
                limit = end if dropping else start if self.spooled < start else want
                chunk = self._stream.read(min(_COPY_CHUNK, want - self.spooled, limit - self.spooled))
                if not chunk:
                    break
                if dropping:
                    self._file.seek(len(chunk), io.SEEK_CUR)  # a hole: nothing written
                else:
                    self._file.write(chunk)
                self.spooled += len(chunk)
            self._file.truncate(self.spooled)  # a hole at the end reads as zeros, not as the end
        self._file.seek(self._pos)
        n = self._file.readinto(buffer)
        self._pos += n
        return n

    def drop(self, start: int, end: int) -> None:
        """The bytes from ``start`` to ``end`` (not yet read) will not be read: do not keep them."""
        self._drop = (start, end)

    def fileno(self) -> int:
        return self._file.fileno()

    def close(self) -> None:
        if not self.closed:
            self._file.close()
            self._stream.close()
        super().close()


#: what tarfile's "r:*" reads, told by the first bytes
_COMPRESSIONS: tuple[tuple[bytes, Callable[[Path], io.BufferedIOBase]], ...] = (
    (b"\x1f\x8b", gzip.GzipFile),
    (b"BZh", bz2.BZ2File),
    (b"\xfd7zXZ\x00", lzma.LZMAFile),
)


class _GuardedReader(io.RawIOBase):
    """Turns the tar/gzip layer's exceptions on a damaged stream into one MlfError."""

    def __init__(self, inner: IO[bytes], where: str) -> None:
        super().__init__()
        self._inner = inner
        self._where = where

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return int(self._call(self._inner.seek, offset, whence))

    def tell(self) -> int:
        return self._inner.tell()

    def read(self, size: int = -1) -> bytes:
        return bytes(self._call(self._inner.read, size))

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _call(self, fn: Callable[..., object], *args: int) -> Any:
        try:
            return fn(*args)
        except _DAMAGED as exc:
            raise MlfError(self._where, f"cannot be read ({_reason(exc)})") from None


class _DirSource(MlfSource):
    def __init__(self, path: Path, max_total: int) -> None:
        super().__init__(path)
        self._root = path.resolve()
        self._files: dict[str, Path] = {}
        total = count = 0
        for rel, full in self._walk(self._root, ""):
            count += 1
            self._check_totals(total, count, max_total)
            st = self._stat(full, rel)
            if stat.S_ISDIR(st.st_mode):
                self._add(rel, 0, True)
                continue
            total += st.st_size
            self._check_totals(total, count, max_total)
            kept = self._add(rel, st.st_size, False)
            if kept is not None:
                self._files[kept] = full

    def _walk(self, root: Path, prefix: str) -> Iterator[tuple[str, Path]]:
        """Every entry below ``root``, depth first, parents before children; iterative, so no
        nesting depth exhausts the stack."""
        stack = [(iter(self._list(root)), prefix)]
        while stack:
            entries, pre = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            rel = f"{pre}{os.fsdecode(entry.name)}"
            full = Path(entry.path)
            yield rel, full
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False  # _stat reports it
            if is_dir:
                stack.append((iter(self._list(full)), rel + "/"))

    @staticmethod
    def _list(folder: Path) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise MlfError(folder, f"cannot be listed ({exc.strerror})") from None

    def _stat(self, full: Path, rel: str) -> os.stat_result:
        try:
            st = full.lstat()
        except OSError as exc:
            raise MlfError(self.path, f"{printable(rel)!r} cannot be read ({exc.strerror})") from None
        if stat.S_ISLNK(st.st_mode):
            # A link is read through only when it stays inside the MLF directory.
            try:
                target = full.resolve(strict=True)
                st = target.stat()
            except (OSError, RuntimeError):  # dangling, or a loop (RuntimeError before 3.13)
                raise MlfError(self.path, f"{printable(rel)!r} is a broken or looping link") from None
            if self._root != target and self._root not in target.parents:
                raise MlfError(self.path, f"{printable(rel)!r} is a link to outside the directory")
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise MlfError(self.path, f"{printable(rel)!r} is not a regular file")
        return st

    @contextmanager
    def open(self, name: str) -> Iterator[BinaryIO]:
        try:
            f = open(self._files[name], "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise MlfError(self.display(name), f"cannot be read ({exc.strerror})") from None
        try:
            yield f
        finally:
            f.close()

    @contextmanager
    def _span(self, name: str) -> Iterator[tuple[int, int] | None]:
        with self.open(name) as f:
            yield f.fileno(), 0


def _kernel_copy(src_fd: int, offset: int, count: int, dest: Path, where: str) -> bool:
    """Copy ``count`` bytes from ``offset`` of ``src_fd`` into a new file ``dest`` inside the
    kernel. False (and no ``dest``) when the kernel or the file systems cannot; the caller then
    copies by reading and writing. MlfError when the source ends early."""
    copy = getattr(os, "copy_file_range", None)
    if copy is None:
        return False
    done = 0
    with open(dest, "xb") as out:
        fd = out.fileno()
        try:
            while done < count:
                n = copy(src_fd, fd, min(count - done, 1 << 30), offset + done)
                if n == 0:
                    raise MlfError(where, "is truncated (the archive ends early)")
                done += n
            return True
        except OSError:
            pass  # EXDEV, ENOSYS, EINVAL, ...: not for these files; fall back
    dest.unlink()
    return False


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return printable(text, 120)


def open_mlf(path: str | os.PathLike[str], max_total: int = DEFAULT_MAX_TOTAL_SIZE) -> MlfSource:
    """Open a tarball (.tar, .tar.gz, .tgz, ...) or an extracted MLF directory."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise MlfError(p, f"cannot be opened ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        return _DirSource(p, max_total)
    if not stat.S_ISREG(st.st_mode):
        raise MlfError(p, "is neither a file nor a directory")
    return _TarSource(p, max_total)


def copy_member(src: MlfSource, name: str, dest: Path) -> None:
    """Copy a member, creating parent folders; ``dest`` must not exist."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    src.copy_to(name, dest)


__all__ = [
    "DEFAULT_MAX_TOTAL_SIZE",
    "Member",
    "MlfSource",
    "copy_member",
    "normalise_name",
    "open_mlf",
]
