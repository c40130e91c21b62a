"""facts.py and dtypes.py: one shape, dtype and size per input and output, from the most direct
source, every other source agreeing."""

from __future__ import annotations

import re

import pytest

from mlf_build.dtypes import parse_dtype
from mlf_build.errors import MlfError
from mlf_build.read.facts import Facts, IoOverride, check_io_total, parse_io_override, settle


@pytest.mark.parametrize(
    ("text", "itemsize", "nbytes_2x3"),
    [("float32", 4, 24), ("int8", 1, 6), ("bool", 1, 6), ("bfloat16", 2, 12), ("e4m3_float8", 1, 6)],
)
def test_dtypes_and_their_storage(text: str, itemsize: int, nbytes_2x3: int) -> None:
    dt = parse_dtype(text, "x")
    assert (dt.name, dt.itemsize, dt.nbytes((2, 3))) == (text, itemsize, nbytes_2x3)


@pytest.mark.parametrize("text", ["float8", "int7", "float128", "int٣٢", "handle", 32])
def test_unknown_dtypes(text: object) -> None:
    with pytest.raises(MlfError):
        parse_dtype(text, "x")


def test_the_most_direct_source_wins_and_the_others_are_checked() -> None:
    f = Facts("output", "probs")
    f.shapes += [("relay", (1, 4))]
    f.dtypes += [("metadata", "float32"), ("relay", "float32")]
    f.sizes += [("metadata", 16), ("aot_header", 16)]
    s = settle("default", f, None, "m.tar")
    assert (s.shape, s.dtype.name) == ((1, 4), "float32")
    assert s.origin == {"dtype": "relay", "shape": "relay", "nbytes": "aot_header"}
    assert s.checked == ("metadata",)


def test_a_size_only_tensor_gets_a_flat_shape() -> None:
    f = Facts("input", "x", sizes=[("aot_header", 12)], dtypes=[("metadata", "int16")])
    s = settle("default", f, None, "m.tar")
    assert s.shape == (6,) and s.origin["shape"] == "flat"


def test_disagreement_is_one_line_naming_both_sources_and_the_fix() -> None:
    f = Facts(
        "input", "x", shapes=[("relay", (1, 4))], dtypes=[("relay", "float32")], sizes=[("metadata", 8)]
    )
    with pytest.raises(MlfError) as exc:
        settle("default", f, None, "m.tar")
    assert exc.value.problem == (
        "module 'default': input 'x' is 16 bytes in the Relay text but 8 bytes in metadata.json; "
        "settle it with --io-shape x=<dims>[:<dtype>]"
    )


def test_an_override_settles_a_contradiction_and_keeps_a_recorded_dtype() -> None:
    f = Facts("input", "x", shapes=[("relay", (1, 4))], dtypes=[("relay", "int8")], sizes=[("metadata", 8)])
    s = settle("default", f, IoOverride((2, 4)), "m.tar")
    assert (s.shape, s.dtype.name) == ((2, 4), "int8")
    assert s.origin == {"shape": "override", "nbytes": "override", "dtype": "relay"}


def test_a_dtype_from_tvms_c_is_used_only_when_nothing_else_says() -> None:
    f = Facts("input", "x", sizes=[("metadata", 4)], c_dtype="int8")
    assert settle("default", f, None, "m.tar").dtype.name == "int8"
    with pytest.raises(MlfError, match="cannot tell the dtype of input 'x'"):
        settle("default", Facts("input", "x", sizes=[("metadata", 4)]), None, "m.tar")


@pytest.mark.parametrize(
    ("text", "name", "shape", "dtype"),
    [("x=1x4", "x", (1, 4), None), ("a:0=8:int8", "a:0", (8,), "int8"), ("s=scalar", "s", (), None)],
)
def test_io_shape_option(text: str, name: str, shape: tuple[int, ...], dtype: str | None) -> None:
    got_name, o = parse_io_override(text)
    assert (got_name, o.shape, o.dtype) == (name, shape, dtype)


@pytest.mark.parametrize("text", ["x", "x=", "x=1x", "x=1,4", "x=" + "9" * 16, "x=65536x65536x65537"])
def test_bad_io_shape_option(text: str) -> None:
    # the last: one element more than graph.MAX_ELEMENTS (2**48)
    with pytest.raises(MlfError) as exc:
        parse_io_override(text)
    assert exc.value.where == "--io-shape"


def test_io_size_bytes_is_a_bound_only() -> None:
    # TVM counts every Var of main and its body (UpdateMainWorkspaceSize,
    # src/relay/backend/te_compiler.cc): more than the inputs and outputs, never less.
    check_io_total("default", 64, 48, "m.tar")
    check_io_total("default", None, 48, "m.tar")
    with pytest.raises(
        MlfError, match=re.escape("take 48 bytes but metadata.json's io_size_bytes counts only 32")
    ):
        check_io_total("default", 32, 48, "m.tar")
    with pytest.raises(MlfError, match=re.escape("only 32; check the size --io-shape gives 'x:0'")):
        check_io_total("default", 32, 48, "m.tar", ["x:0"])
