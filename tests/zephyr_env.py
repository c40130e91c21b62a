"""Where the Zephyr tests (tests/test_zephyr.py) find Zephyr, in this order:

1. ``ZEPHYR_BASE``: a Zephyr tree of the user's own (with ``ZEPHYR_MODULES`` unless it sits in a
   west workspace, and Zephyr's Python first on ``PATH``), used as it is;
2. ``../shared/zephyr`` beside the checkout (an offline Zephyr workspace and its ``setup.sh``):
   set up once into ``$XDG_CACHE_HOME/mlf_build/zephyr-<key>`` (default ``~/.cache/mlf_build``),
   where ``<key>`` is the start of the sha256 of the archive and of ``setup.sh``, and reused by
   every later run, of any checkout; a new archive gets a new folder;
3. neither: the tests skip, with the reason.

    python -m tests.zephyr_env      # what tests/run.sh does: set up (when needed), print the source

A set-up folder counts only once ``setup.sh`` has finished in it (``.mlf-ready``); an interrupted
set-up (``.mlf-setup`` without ``.mlf-ready``) is removed and done again. Concurrent runs wait on
a lock file beside the folder.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "zephyr"
STARTED, READY = ".mlf-setup", ".mlf-ready"


class ZephyrUnavailable(Exception):
    """Zephyr was expected (ZEPHYR_BASE or ../shared/zephyr exists) but cannot be used."""


@dataclass(frozen=True)
class Zephyr:
    source: str  # how it was found, for messages: "ZEPHYR_BASE=..." or "../shared/zephyr set up in ..."
    env: dict[str, str]  # the variables to set on top of os.environ for a Zephyr build


def located() -> str | None:
    """Which source the discovery order picks, without setting anything up; None for neither."""
    if os.environ.get("ZEPHYR_BASE"):
        return "ZEPHYR_BASE"
    if (SHARED / "setup.sh").is_file():
        return "shared"
    return None


def skip_reason() -> str:
    return (
        f"no Zephyr: ZEPHYR_BASE is not set and {SHARED} does not exist (Zephyr is in no package "
        "registry; see docs/zephyr.md)"
    )


def discover() -> Zephyr | None:
    """The Zephyr to test with, set up from ../shared/zephyr when that is the source; None when
    there is none. Raises ZephyrUnavailable when the source exists but cannot be used."""
    where = located()
    if where == "ZEPHYR_BASE":
        return _user_tree(Path(os.environ["ZEPHYR_BASE"]))
    if where == "shared":
        env_sh = set_up_shared(SHARED, cache_root())
        return Zephyr(f"{SHARED} set up in {env_sh.parent}", source_env(env_sh))
    return None


def _user_tree(base: Path) -> Zephyr:
    if not (base / "VERSION").is_file():
        raise ZephyrUnavailable(f"ZEPHYR_BASE={base} is not a Zephyr tree (no VERSION file)")
    if not os.environ.get("ZEPHYR_MODULES") and not any(
        (p / ".west").is_dir() for p in base.resolve().parents
    ):
        raise ZephyrUnavailable(
            f"ZEPHYR_BASE={base} is in no west workspace and ZEPHYR_MODULES is not set "
            "(';'-separated cmsis_6/cmsis and picolibc module folders)"
        )
    return Zephyr(f"ZEPHYR_BASE={base}", {})


def cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "mlf_build"


def cache_key(shared: Path) -> str:
    """sha256 of the archive(s) and setup.sh, in name order: a new workspace, a new folder."""
    h = hashlib.sha256()
    for path in sorted([*shared.glob("*.tar.xz"), shared / "setup.sh"]):
        h.update(path.name.encode() + b"\0")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()[:16]


def set_up_shared(shared: Path, root: Path) -> Path:
    """Runs ``shared/setup.sh`` into ``root/zephyr-<key>`` unless done before; returns env.sh."""
    dest = root / f"zephyr-{cache_key(shared)}"
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{dest.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / READY).is_file():
            _fresh_folder(dest)
            log = root / f"{dest.name}.log"
            with log.open("w") as out:
                r = subprocess.run(
                    ["bash", shared / "setup.sh", dest], stdin=subprocess.DEVNULL, stdout=out, stderr=out
                )
            if r.returncode != 0:
                tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-20:])
                raise ZephyrUnavailable(f"{shared / 'setup.sh'} {dest} failed ({r.returncode}):\n{tail}")
            (dest / READY).write_text("")
    return dest / "env.sh"


def _fresh_folder(dest: Path) -> None:
    """An empty ``dest`` marked as ours; removes only a folder an earlier set-up of ours left."""
    if dest.exists():
        if not (dest / STARTED).is_file():
            raise ZephyrUnavailable(f"{dest} exists but was not made by tests/zephyr_env.py; remove it")
        if sys.version_info >= (3, 12):
            shutil.rmtree(dest, onexc=_make_writable)
        else:
            shutil.rmtree(dest, onerror=_make_writable)
    dest.mkdir()
    (dest / STARTED).write_text("set up by tests/zephyr_env.py from ../shared/zephyr\n")


def _make_writable(func, path, _exc) -> None:  # type: ignore[no-untyped-def]
    """rmtree's error handler: the archive's read-only folders become writable, then retry."""
    Path(path).parent.chmod(Path(path).parent.stat().st_mode | stat.S_IWUSR)
    func(path)


def source_env(env_sh: Path) -> dict[str, str]:
    """The variables ``env.sh`` sets or changes, read by sourcing it in bash."""
    out = subprocess.run(
        ["bash", "-c", 'source "$1" >/dev/null && env -0', "bash", env_sh],
        capture_output=True,
        check=True,
        env=dict(os.environ),
    ).stdout.decode()
    after = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in after.items() if os.environ.get(k) != v and k not in ("_", "SHLVL", "PWD")}


def main() -> int:
    where = located()
    if where is None:
        print(f"zephyr: {skip_reason()}; tests/test_zephyr.py will skip")
        return 0
    try:
        found = discover()
    except ZephyrUnavailable as exc:
        print(f"zephyr: {exc}", file=sys.stderr)
        return 1
    assert found is not None
    print(f"zephyr: {found.source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
