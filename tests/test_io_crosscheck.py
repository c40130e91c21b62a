"""inspect never reports an input or output size that disagrees with the archive's own Relay
text or AOT header: every shared corpus item and every fixture layout, checked against both
with a reader of its own (regular expressions, not mlf_build's parsers)."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from tests import fixtures
from tests.conftest import corpus_dir, have, run_cli

_TENSOR = r"Tensor\[\(([^)]*)\), (\w+)\]"


def _nbytes(dims: str, dtype: str) -> int | None:
    n = 1
    for d in (x.strip() for x in dims.split(",") if x.strip()):
        m = re.fullmatch(r"(\d+)(?:i\d+)?", d)
        if m is None:
            return None
        n *= int(m.group(1))
    if dtype == "bool":
        return n
    bits = re.search(r"(\d+)$", dtype)
    return n * ((int(bits.group(1)) + 7) // 8) if bits else None


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        return {m.name.removeprefix("./"): tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _relay_facts(text: str) -> tuple[dict[str, int], list[int] | None]:
    """Sizes of @main's tensor parameters by printed name, and of its return type's tensors."""
    sig = text[text.index("def @main(") :]
    sig = sig[: sig.index("{")]
    params = {}
    for m in re.finditer(r"%(\S+?): " + _TENSOR, sig):
        size = _nbytes(m.group(2), m.group(3))
        if size is not None:
            params[m.group(1)] = size
    ret = re.search(r"\) -> (.*)$", sig.strip(), re.S)
    returns = None
    if ret is not None:
        returns = [_nbytes(d, t) for d, t in re.findall(_TENSOR, ret.group(1))]
        returns = None if None in returns else returns  # type: ignore[assignment]
    return params, returns


def _printed(name: str) -> str:
    return name if name[:1].isascii() and name[:1].isalpha() else "v" + name


def _check(path: Path, *extra: str) -> int:
    """The number of (tensor, source) pairs compared; fails on any disagreement."""
    r = run_cli(["inspect", path, "--json", *extra])
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    files = _members(path)
    compared = 0
    for m in doc["modules"]:
        ins, outs = m["inputs"], m["outputs"]
        known = [t for t in ins + outs if t["nbytes"] is not None]
        if len(known) == len(ins + outs) and m["io_size_bytes"] is not None:
            assert sum(t["nbytes"] for t in known) <= m["io_size_bytes"]
        header = files.get(m["files"]["header"] or "", b"").decode()
        macros = {k: int(v) for k, v in re.findall(r"#define (TVMGEN_\w+_SIZE) (\d+)", header)}
        for t in known:
            key = f"TVMGEN_{m['name'].upper()}_{(t['member'] or '').upper()}_SIZE"
            if t["member"] and key in macros:
                assert t["nbytes"] == macros[key], (path, t)
                compared += 1
        relay = files.get(m["files"]["relay"] or "")
        if relay is None:
            continue
        params, returns = _relay_facts(relay.decode())
        for t in ins:
            size = params.get(_printed(t["name"]))
            if size is not None and t["nbytes"] is not None:
                assert t["nbytes"] == size, (path, t, size)
                compared += 1
        if returns is not None and len(returns) == len(outs):
            for t, size in zip(outs, returns, strict=True):
                if t["nbytes"] is not None:
                    assert t["nbytes"] == size, (path, t, size)
                    compared += 1
    return compared


def _corpus_items() -> list[Path]:
    d = corpus_dir()
    return sorted(p for p in d.glob("*/*.tar")) if d.is_dir() else []


@pytest.mark.parametrize("item", _corpus_items(), ids=lambda p: p.parent.name)
def test_corpus_sizes_agree_with_relay_and_header(item: Path) -> None:
    if item.parent.name == "octoml-kws-cmsisnn-partial":
        assert run_cli(["inspect", item]).code == 2  # no metadata.json: not an MLF to describe
        return
    compared = _check(item)
    # Every corpus model's inputs are typed in its Relay text.
    assert compared >= 1


@pytest.mark.parametrize("layout", fixtures.LAYOUTS)
def test_fixture_sizes_agree_with_relay_and_header(
    layout: str, fixture_models: dict[str, Path], tmp_path: Path
) -> None:
    info = fixtures.layout_info(layout)
    if info["executor"] is None:
        return  # an operator export: no model inputs
    if info["llvm"]:
        if not have("gcc"):
            pytest.skip("needs gcc for the LLVM layouts' objects")
        path = fixtures.export(layout, tmp_path, cc="gcc")
    else:
        path = fixture_models[layout]
    extra = {"v5-aot-c": ("logits=1x4", "probs=1x4"), "v5-aot-packed": ("output=1x4", "output1=1x4")}
    args = [a for s in extra.get(layout, ()) for a in ("--io-shape", s)]
    assert _check(path, *args) >= len(info["io_names"])
