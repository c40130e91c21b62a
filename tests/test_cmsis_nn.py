"""Models compiled with TVM's cmsis-nn target (BYOC code calling arm_*_s8) as ordinary
dependencies: detected by ``inspect``, refused with one line unless the build provides CMSIS-NN,
and built with ``add_mlf_library(... CMSIS_NN <folder|target>)`` into firmware whose int8
outputs equal a numpy reference of TFLite's int8 kernels, on the host, Cortex-M3 (CMSIS-NN's C
kernels), Cortex-M4F (its DSP kernels) and Cortex-M55 (its MVE kernels, QEMU mps3-an547).

The model and its reference are tests/fixtures/qmodel.py; the MLF imitates TVM v0.10's
CMSIS-NN codegen, and v0.18's (`switch (!status)`, forward declarations) for a third library
(tests/fixtures/byoc_export.py), exported once per CPU because TVM sizes the kernels' scratch
buffers for the CPU it compiles for. CMSIS-NN v4.1.0 comes from
../shared/third_party (or MLF_CMSIS_NN); the firmware tests skip without it.
"""

from __future__ import annotations

import io
import json
import math
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import (
    REPO,
    cmsis_nn_dir,
    corpus_dir,
    corpus_item,
    needs_arm,
    needs_cmake,
    needs_cmsis_nn,
    run_cli,
)
from tests.firmware import Smoke, build, configure, configure_error, run, run_firmware, smoke_inputs
from tests.fixtures import byoc_export, qmodel

PROJECT = REPO / "tests" / "cmsis_nn"
# What the model's kernels pull in from CMSIS-NN v4.1.0 on any of the CPUs tested (the link
# maps' archive members): the application's own CMSIS-NN target holds only these.
APP_SOURCES = [
    "ConvolutionFunctions/" + f
    for f in (
        "arm_convolve_1_x_n_s8.c",
        "arm_convolve_1x1_s8.c",
        "arm_convolve_1x1_s8_fast.c",
        "arm_convolve_get_buffer_sizes_s8.c",
        "arm_convolve_s8.c",
        "arm_convolve_wrapper_s8.c",
        "arm_depthwise_conv_3x3_s8.c",
        "arm_depthwise_conv_get_buffer_sizes_s8.c",
        "arm_depthwise_conv_s8.c",
        "arm_depthwise_conv_s8_opt.c",
        "arm_depthwise_conv_wrapper_s8.c",
        "arm_nn_mat_mult_kernel_s8_s16.c",
    )
] + [
    "FullyConnectedFunctions/arm_fully_connected_s8.c",
    "NNSupportFunctions/arm_nn_depthwise_conv_nt_t_s8.c",
    "NNSupportFunctions/arm_nn_mat_mul_core_1x_s8.c",
    "NNSupportFunctions/arm_nn_mat_mult_nt_t_s8.c",
    "NNSupportFunctions/arm_nn_vec_mat_mult_t_s8.c",
    "NNSupportFunctions/arm_q7_to_q15_with_offset.c",
    "NNSupportFunctions/arm_s8_to_s16_unordered_with_offset.c",
    "PoolingFunctions/arm_avgpool_get_buffer_sizes_s8.c",
    "PoolingFunctions/arm_avgpool_s8.c",
    "PoolingFunctions/arm_max_pool_s8.c",
    "SoftmaxFunctions/arm_nn_softmax_common_s8.c",
    "SoftmaxFunctions/arm_softmax_s8.c",
]
CALLS = [
    "arm_avgpool_s8",
    "arm_convolve_wrapper_s8",
    "arm_depthwise_conv_wrapper_s8",
    "arm_fully_connected_s8",
    "arm_max_pool_s8",
    "arm_softmax_s8",
]


@pytest.fixture(scope="module")
def model() -> qmodel.QModel:
    return qmodel.load_qmodel()


# --- the reference: TFLite's fixed-point arithmetic ---------------------------------------------


def test_fixed_point_primitives_follow_tflite() -> None:
    # SaturatingRoundingDoublingHighMul: round(a*b / 2^31), the one overflow saturated
    assert int(qmodel.srdhm(1 << 30, 1 << 30)) == 1 << 29
    # ties go up, as ARM's VQRDMULH: 1.5 -> 2, -1.5 -> -1
    assert (int(qmodel.srdhm(1 << 30, 3)), int(qmodel.srdhm(-(1 << 30), 3))) == (2, -1)
    assert int(qmodel.srdhm(qmodel.INT32_MIN, qmodel.INT32_MIN)) == qmodel.INT32_MAX
    # RoundingDivideByPOT: ties away from zero
    assert [int(qmodel.rounding_divide_by_pot(v, 1)) for v in (5, -5, 4, -4, 3, -3)] == [3, -3, 2, -2, 2, -2]
    # QuantizeMultiplier: frexp, Q31 significand, 2^31 folded into the exponent
    assert qmodel.quantize_multiplier(0.5) == (1 << 30, 0)
    assert qmodel.quantize_multiplier(1.0 - 2.0**-40) == (1 << 30, 1)
    assert qmodel.quantize_multiplier(0.0) == (0, 0)
    # gemmlowp's exp and reciprocal against float math (Q5.26 in, Q0.31 out)
    assert qmodel.exp_on_negative_values(0, 5) == qmodel.INT32_MAX
    for x in (-0.01, -0.3, -1.0, -2.7, -9.5):
        got = qmodel.exp_on_negative_values(round(x * (1 << 26)), 5) / 2.0**31
        assert got == pytest.approx(math.exp(x), abs=1e-6), x  # 4th-order Taylor
    for x in (0.0, 0.25, 0.6, 0.999):
        got = qmodel.one_over_one_plus_x_for_x_in_0_1(round(x * 2**31)) / 2.0**31
        assert got == pytest.approx(1.0 / (1.0 + x), abs=2e-8), x


def _corpus_lib2() -> str:
    if not corpus_dir().is_dir():
        pytest.skip(f"MLF corpus not found at {corpus_dir()} (set MLF_CORPUS)")
    with tarfile.open(corpus_item(corpus_dir(), "octoml-kws-cmsisnn-partial")) as tf:
        f = tf.extractfile("./codegen/host/src/default_lib2.c")
        assert f is not None
        return f.read().decode()


def test_softmax_parameters_reproduce_tvm_output() -> None:
    """The real KWS export calls arm_softmax_s8(..., mult, shift, diff_min): the input scale
    that TVM started from is mult * 2^(shift - 31 - 26); from it, our port of TFLite's
    PreprocessSoftmaxScaling and CalculateInputRadius must give back TVM's three numbers."""
    m = re.search(r"arm_softmax_s8\(input_, 1, \d+, (\d+), (\d+), (-\d+), output_\)", _corpus_lib2())
    assert m is not None
    mult, shift, diff_min = (int(g) for g in m.groups())
    scale = np.float32(mult * 2.0 ** (shift - 31 - 26))
    softmax = (qmodel.Layer("softmax", qmodel.Quant(1 / 256, -128)),)
    # The float32 nearest to it, or a neighbour (the Q31 significand rounded the scale).
    nearby = [scale, np.nextafter(scale, np.float32(-1)), np.nextafter(scale, np.float32(1))]
    found = [qmodel.softmax_params(qmodel.QModel(qmodel.Quant(float(c), 0), softmax), 0) for c in nearby]
    assert (mult, shift, diff_min) in found, found


def test_reference_tracks_the_float_model(model: qmodel.QModel) -> None:
    """The int8 reference stays within a few quantization steps of the dequantized network in
    float (a wrong zero point, multiplier or rounding would be far off)."""
    rng = np.random.default_rng(5)
    worst = 0.0
    for _ in range(12):
        x = rng.integers(-128, 128, size=qmodel.INPUT_SHAPE).astype(np.int8)
        got = (qmodel.reference(model, x).astype(np.float64) + 128) / 256
        worst = max(worst, float(np.abs(got - _float_forward(model, x)).max()))
    assert worst < 0.05  # about a dozen steps of the 1/256 output scale


def _float_forward(model: qmodel.QModel, x: np.ndarray) -> np.ndarray:
    def deq(v: np.ndarray, q: qmodel.Quant) -> np.ndarray:
        return (v.astype(np.float64) - q.zero_point) * q.scale

    a = deq(x, model.input)
    for i, layer in enumerate(model.layers):
        s_in = qmodel.input_quant(model, i).scale
        if layer.kind in ("conv", "dwconv"):
            assert layer.weights is not None and layer.weight_scales is not None and layer.bias is not None
            axis = (
                (None, None, None, slice(None)) if layer.kind == "dwconv" else (slice(None), None, None, None)
            )
            w = layer.weights * layer.weight_scales.astype(np.float64)[axis]
            a = qmodel._float_conv(a, w, layer.padding, layer.kind == "dwconv")
            a = a + layer.bias * layer.weight_scales * s_in
            a = np.maximum(a, 0.0) if layer.activation == "relu" else np.clip(a, 0.0, 6.0)
        elif layer.kind in ("maxpool", "avgpool"):
            a = qmodel._float_pool(a, layer.kernel[0], layer.kind[:3])
        elif layer.kind == "fc":
            assert layer.weights is not None and layer.weight_scales is not None and layer.bias is not None
            scale = float(layer.weight_scales[0])
            a = a.reshape(1, -1) @ (layer.weights * scale).T + layer.bias * scale * s_in
        else:
            a = np.exp(a - a.max())
            a = a / a.sum()
    return a


# --- the fixture against real TVM output ---------------------------------------------------------


def _shape_of(line: str) -> str:
    line = re.sub(r"\barm_\w+\b", "arm_F", line)
    line = re.sub(r"\b(context_buffer|sid|constant)_\d+", r"\1_N", line)
    return re.sub(r"-?\d+", "N", line)


def test_fixture_codegen_has_the_shape_of_real_tvm_output() -> None:
    """Every line of the fixture's CMSIS-NN source, numbers and function names aside, occurs
    in the real CMSIS-NN source of the OctoML KWS export (TVM 0.10)."""
    real = {_shape_of(line) for line in _corpus_lib2().splitlines()}
    ours = byoc_export.build("cortex-m4")["codegen/host/src/default_lib2.c"].decode()
    missing = sorted({_shape_of(line) for line in ours.splitlines()} - real)
    assert missing == []


# --- inspect and generate ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def m4_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return byoc_export.export(tmp_path_factory.mktemp("cmsisnn"), "cortex-m4")


def test_inspect_lists_the_cmsis_nn_functions(m4_model: Path) -> None:
    res = run_cli(["inspect", m4_model, "--json"])
    assert res.code == 0, res.err
    (mod,) = json.loads(res.out)["modules"]
    assert mod["cmsis_nn_functions"] == CALLS
    assert [c.get("byoc") for c in mod["codegen"]] == [None, None, None, "cmsis-nn"]
    text = run_cli(["inspect", m4_model])
    assert "needs CMSIS-NN: " + ", ".join(CALLS) in text.out


def test_cmsis_nn_code_is_recognised_by_its_include_alone(m4_model: Path, tmp_path: Path) -> None:
    """Older or edited exports may lack the ``// tvm target: cmsis-nn`` line."""
    out = tmp_path / "no_banner.tar"
    with tarfile.open(m4_model) as src, tarfile.open(out, "w") as dst:
        for info in src.getmembers():
            data = src.extractfile(info).read() if info.isfile() else None  # type: ignore[union-attr]
            if info.name.endswith("default_lib2.c"):
                assert data is not None
                data = data.replace(b"// tvm target: cmsis-nn \n", b"")
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data) if data is not None else None)
    res = run_cli(["inspect", out, "--json"])
    assert json.loads(res.out)["modules"][0]["cmsis_nn_functions"] == CALLS


def test_generate_refuses_without_cmsis_nn(m4_model: Path, tmp_path: Path) -> None:
    res = run_cli(["generate", m4_model, "--out", tmp_path / "out", "--name", "q"])
    assert res.code == 2
    lines = res.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        f"mlf-build: error: {m4_model}: module 'default' calls CMSIS-NN (arm_avgpool_s8, "
    )
    assert "CMake CMSIS_NN <folder|target>" in lines[0] and "mlf-build --cmsis-nn" in lines[0]
    assert not (tmp_path / "out").exists()
    ok = run_cli(["generate", m4_model, "--out", tmp_path / "out", "--name", "q", "--cmsis-nn"])
    assert ok.code == 0, ok.err
    manifest = json.loads((tmp_path / "out" / "q_manifest.json").read_text())
    assert manifest["cmsis_nn_functions"] == CALLS
    assert manifest["byoc"] == ["cmsis-nn"]


@needs_cmake
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "add_mlf_library(qconv): mlf-build: error: {model}: module 'default' calls CMSIS-NN"),
        (
            ("CMSIS_NN", "no/such/folder"),
            "add_mlf_library(qconv): CMSIS_NN no/such/folder is neither a CMake target nor a CMSIS-NN "
            "folder (with Include/arm_nnfunctions.h and Source/)",
        ),
    ],
    ids=["missing", "not-a-folder"],
)
def test_configure_fails_with_one_line(
    m4_model: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    extra = " ".join(f'"{a}"' for a in args)
    err = configure_error(tmp_path, f'add_mlf_library(qconv "{m4_model}" {extra})')
    assert message.format(model=m4_model) in err, err[-2000:]


# --- firmware -----------------------------------------------------------------------------------

TARGETS = ["host", "cortex-m3", "cortex-m4", "cortex-m55"]
# Instructions only the kernels CMSIS-NN selects for that CPU contain: DSP's dual 16-bit
# multiply-accumulate (M4), MVE's vector saturating doubling multiply on Q registers (M55).
DSP = re.compile(r"\tsmlad\s")
MVE = re.compile(r"\tvqrdmulh\.s32\tq\d")


@dataclass
class Built:
    build: Path
    target: str


_BUILT: dict[str, Built] = {}


def _build(target: str, tmp_path_factory: pytest.TempPathFactory) -> Built:
    if target not in _BUILT:
        tmp = tmp_path_factory.mktemp(f"cmsisnn-{target}")
        cpu = "host" if target == "host" else target
        mlf = byoc_export.export(tmp, cpu)
        mlf_v018 = byoc_export.export(tmp, cpu, "v0.18")
        bdir = tmp / "build"
        configure(
            PROJECT,
            bdir,
            target,
            {
                "MODEL": str(mlf),
                "MODEL_V018": str(mlf_v018),
                "CMSIS_NN_DIR": str(cmsis_nn_dir()),
                "APP_CMSIS_NN_SOURCES": ";".join(APP_SOURCES),
            },
        )
        build(bdir)
        _BUILT[target] = Built(bdir, target)
    return _BUILT[target]


@pytest.mark.slow
@needs_cmake
@needs_cmsis_nn
@pytest.mark.parametrize("library", ["qconv_folder", "qconv_target", "qconv_v018"])
@pytest.mark.parametrize(
    "target", [pytest.param(t, marks=[] if t == "host" else [needs_arm]) for t in TARGETS]
)
def test_firmware_matches_tflite_reference(
    target: str, library: str, model: qmodel.QModel, tmp_path_factory: pytest.TempPathFactory
) -> None:
    b = _build(target, tmp_path_factory)
    exe = b.build / (f"{library}_smoke" + ("" if target == "host" else ".elf"))
    res = run_firmware(exe, target)
    smoke = Smoke.parse(res.stdout)
    assert res.returncode == 0 and smoke.passed, res.stdout[-2000:] + res.stderr[-2000:]
    # TVM's arena for this CPU is exactly what runs need; one byte less is refused.
    assert smoke.peak == smoke.workspace and smoke.short_status == 2
    (x,) = smoke_inputs([("int8", int(np.prod(qmodel.INPUT_SHAPE)))])
    want = qmodel.reference(model, x)
    np.testing.assert_array_equal(smoke.arrays()[0].reshape(want.shape), want)
    if target != "host":
        text = run(["arm-none-eabi-objdump", "-d", exe]).stdout
        assert bool(DSP.search(text)) == (target == "cortex-m4"), "DSP kernels where expected"
        assert bool(MVE.search(text)) == (target == "cortex-m55"), "MVE kernels where expected"
