"""The bundled example (examples/model/) is what tests/fixtures/make_example.py writes, and its
reference outputs are what the numpy model computes: every example firmware trusts both."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from mlf_build.read.archive import open_mlf
from mlf_build.read.params import read_params
from tests.fixtures.make_example import CASES, EXAMPLE, cases_header, example_cases
from tests.fixtures.mlf_export import export
from tests.fixtures.model import WAVEFORM_CLASSES, load_weights, waveform_forward_f32
from tests.params_numpy import load_array


def _c_table(text: str, name: str) -> np.ndarray:
    body = re.search(rf"{name}\[[^]]*\]\[[^]]*\] = \{{(.*?)\}};", text, re.S)
    assert body, name
    rows = re.findall(r"\{([^{}]*)\}", body.group(1))
    values = [[float(v.rstrip("f")) for v in row.replace(",", " ").split()] for row in rows]
    return np.array(values, dtype=np.float32)


def test_tarball_is_a_fresh_export(tmp_path: Path) -> None:
    fresh = export("v7-graph", tmp_path, module_name="default")
    assert fresh.read_bytes() == EXAMPLE.read_bytes(), "run python -m tests.fixtures.make_example"


def test_cases_header_is_current() -> None:
    assert CASES.read_text() == cases_header(*example_cases()), "run python -m tests.fixtures.make_example"


def test_cases_hold_the_numpy_outputs_and_are_classified_right() -> None:
    text = CASES.read_text()
    inputs = _c_table(text, "waveform_case_inputs")
    names = re.search(r"waveform_case_names\[[^]]*\] = \{\s*(.*?)\};", text, re.S)
    assert names
    expected = [WAVEFORM_CLASSES.index(n) for n in re.findall(r'"([a-z]+)"', names.group(1))]
    logits, probs = waveform_forward_f32(load_weights("waveform"), inputs)
    np.testing.assert_allclose(_c_table(text, "waveform_case_logits"), logits, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(_c_table(text, "waveform_case_probs"), probs, rtol=1e-6, atol=1e-7)
    assert list(np.argmax(probs, axis=1)) == expected
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_tarball_carries_the_trained_weights() -> None:
    # TVM renames and reshapes bound parameters (conv1.bias becomes p1 of shape (4, 1)); the
    # values must still be the trained ones, each exactly once.
    wanted = sorted(tuple(w.reshape(-1).tolist()) for w in load_weights("waveform").values())
    with open_mlf(EXAMPLE) as src:
        member = "parameters/default.params"
        got = sorted(tuple(load_array(src, member, t).reshape(-1).tolist()) for t in read_params(src, member))
    assert got == wanted
