"""``mlf-build report`` and ``<t>_report.html``: one self-contained, deterministic HTML page per
module, its memory map checked against the plan in a real browser (Debian's chromium driven by
selenium, headless): no console errors, one rectangle per arena tensor, and no two rectangles
that share a step share a byte. Without a browser the browser test skips, except in CI."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlf_build.plan.plan import plan_module
from mlf_build.read.model import load_model
from mlf_build.report import render_report
from tests import fixtures
from tests.conftest import corpus_dir, corpus_item, run_cli, unavailable
from tests.mlf_factory import minimal_files, write_tar
from tests.test_plan import CORPUS_GRAPHS, independent, wide_graph

CORPUS_AOT = ["arduino-yesno-v5-aot", "linaro-sine-v5-aot-crt"]
BROWSER_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)


def _models(tmp: Path) -> list[tuple[str, Path, bool]]:
    """(name, archive, graph?) for the C fixtures and the corpus models that have a plan."""
    out = []
    for layout in fixtures.LAYOUTS:
        info = fixtures.layout_info(layout)
        if info["executor"] is None or info["llvm"]:
            continue  # no model / objects (see test_plan)
        out.append((layout, fixtures.export(layout, tmp / layout), info["executor"] == "graph"))
    if corpus_dir().is_dir():
        out += [(n, corpus_item(corpus_dir(), n), True) for n in CORPUS_GRAPHS]
        out += [(n, corpus_item(corpus_dir(), n), False) for n in CORPUS_AOT]
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Path, bool]]:
    return _models(tmp_path_factory.mktemp("report-models"))


def _report(path: Path, module: int = 0) -> tuple[str, Any]:
    with load_model(path) as model:
        mod = model.modules[module]
        plan = plan_module(model, mod)
        return render_report(model, mod, plan, path.name, "net"), plan


def test_report_is_self_contained_and_deterministic(models: list[tuple[str, Path, bool]]) -> None:
    for name, path, _graph in models:
        html, plan = _report(path)
        assert html == _report(path)[0], name
        assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>\n")
        # Nothing to fetch or run: no script, no external reference (the SVG namespace is a name).
        assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|\bhref=|url\(|@import", html, re.I), name
        assert set(re.findall(r"https?://[^\s\"']+", html)) <= {"http://www.w3.org/2000/svg"}, name
        assert f"{plan.workspace_size:,} B" in html
        if plan.arena_map is not None:
            assert len(re.findall(r'<rect class="(?:tensor|scratch)"', html)) == len(plan.arena_map.blocks), (
                name
            )


def test_report_escapes_archive_names(tmp_path: Path) -> None:
    files = minimal_files()
    evil = '<img src=x onerror="alert(1)">&'
    graph = json.loads(files["executor-config/graph/default.graph"])
    graph["nodes"][0]["name"] = evil  # the input
    graph["nodes"][2]["name"] = evil + "op"
    files["executor-config/graph/default.graph"] = json.dumps(graph).encode()
    meta = json.loads(files["metadata.json"])
    meta["modules"]["default"]["memory"]["sids"][0]["input_binding"] = evil
    files["metadata.json"] = json.dumps(meta).encode()
    html, _ = _report(write_tar(tmp_path / "evil.tar", files))
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;" in html


def test_cli_report(tmp_path: Path) -> None:
    model = Path(__file__).resolve().parents[1] / "examples" / "model" / "waveform.tar"
    out = tmp_path / "report.html"
    r = run_cli(["report", model, "-o", out])
    assert r.code == 0 and r.out == "" and r.err == ""
    assert "waveform.tar, module default" in out.read_text()
    assert "&lt;name&gt;_params.bin" in out.read_text()  # no library named: the file is generic
    r = run_cli(["report", model, "-o", out, "--name", "kws"])
    assert r.code == 0 and "kws_params.bin" in out.read_text()
    r = run_cli(["report", model, "-o", tmp_path / "missing" / "r.html"])
    assert r.code == 2 and r.err.startswith("mlf-build: error: ") and "cannot be written" in r.err
    assert r.err.count("\n") == 1
    # Never over the model: the archive itself, or a file inside an extracted one.
    archive = shutil.copy(model, tmp_path / "model.tar")
    folder = tmp_path / "extracted"
    folder.mkdir()
    with tarfile.open(archive) as tf:
        tf.extractall(folder, filter="data")
    before = Path(archive).read_bytes()
    for model_path, out in ((archive, archive), (folder, folder / "codegen" / "r.html")):
        r = run_cli(["report", model_path, "-o", out])
        assert r.code == 2 and "or lies inside it; write the report elsewhere" in r.err, r.err
    assert Path(archive).read_bytes() == before and not (folder / "codegen" / "r.html").exists()


def test_generate_writes_the_report_next_to_the_header(tmp_path: Path) -> None:
    model = Path(__file__).resolve().parents[1] / "examples" / "model" / "waveform.tar"
    r = run_cli(["generate", model, "--name", "net", "--out", tmp_path / "gen"])
    assert r.code == 0, r.err
    html = (tmp_path / "gen" / "net_report.html").read_text()
    assert html == _report(model)[0]
    manifest = json.loads((tmp_path / "gen" / "net_manifest.json").read_text())
    assert "net_report.html" in manifest["files"]


# --------------------------------------------------------------------------------------------
# In a browser


def _browser() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    found = _browser()
    if found is None:
        unavailable("needs chromium, chromium-driver and selenium")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = found[0]
    for flag in BROWSER_FLAGS:
        opts.add_argument(flag)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=found[1]))
    try:
        yield driver
    finally:
        driver.quit()


_READ_MAP = """
const plot = document.querySelector('svg.plot');
if (!plot) return null;
const rects = [...plot.querySelectorAll('rect')].map(r => ({
  kind: r.getAttribute('class'), x: r.x.baseVal.value, y: r.y.baseVal.value,
  w: r.width.baseVal.value, h: r.height.baseVal.value,
  title: r.querySelector('title').textContent, shown: r.getBoundingClientRect().width > 0}));
const line = plot.querySelector('line.bound');
return {rects: rects, bound: line ? line.y1.baseVal.value : null,
        height: plot.viewBox.baseVal.height, steps: plot.viewBox.baseVal.width};
"""


def test_memory_map_in_chromium(browser: Any, models: list[tuple[str, Path, bool]], tmp_path: Path) -> None:
    for name, path, graph in models:
        html, plan = _report(path)
        page = tmp_path / f"{name}.html"
        page.write_text(html)
        browser.get(page.as_uri())
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == [], (name, errors)
        m = browser.execute_script(_READ_MAP)
        if plan.arena_map is None:
            assert m is None, name
            continue
        tensors = [r for r in m["rects"] if r["kind"] == "tensor"]
        # One rectangle per planned tensor: the plan's, and for graphs the count of arena tensors
        # found from the graph JSON alone (tests/test_plan.py).
        assert len(tensors) == sum(b.kind == "tensor" for b in plan.arena_map.blocks), name
        if graph:
            assert len(tensors) == independent(path).tensors, name
        assert m["height"] == max(plan.workspace_size, plan.lower_bound or 0, 1)
        if plan.lower_bound is not None:
            assert m["bound"] == m["height"] - plan.lower_bound, name
        assert all(r["shown"] and r["w"] >= 1 and r["h"] > 0 for r in m["rects"]), name
        # Where two rectangles share a step (their x ranges overlap), they share no byte (y).
        rects = m["rects"]
        for i, a in enumerate(rects):
            assert a["y"] >= 0 and a["y"] + a["h"] <= m["height"] and a["x"] + a["w"] <= m["steps"], (name, a)
            for b in rects[i + 1 :]:
                same_step = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
                same_bytes = a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
                assert not (same_step and same_bytes), (name, a["title"], b["title"])


def test_report_says_why_the_storage_id_plan_was_used(tmp_path: Path) -> None:
    html, _ = _report(wide_graph(tmp_path, 1500, fan_in=True))
    assert "<p>Too many tensors live at once for the lifetime planner: storage-id plan used.</p>" in html
    if corpus_dir().is_dir():
        html, _ = _report(corpus_item(corpus_dir(), "nitesh-llvm-aarch64-v5-graph"))
        assert "<p>The lifetime plan was not smaller.</p>" in html
