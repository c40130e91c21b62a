"""naming.py: names from the model turned into C, and TVM's own naming rules."""

from __future__ import annotations

import pytest

from mlf_build.errors import MlfError
from mlf_build.naming import (
    c_comment,
    c_member_problem,
    c_string,
    check_tvm_members,
    check_unique,
    library_prefix,
    macro_fragment,
    relay_name_candidates,
    relay_text_name,
    tvm_sanitize,
)


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("serving_default_input_1:0", "serving_default_input_1_0"),
        ("input.1", "input_1"),
        ("onnx::Concat_1", "onnx__Concat_1"),
        ("é", "__"),  # SanitizeName replaces each byte of the UTF-8 string
        ("0", "0"),  # leading digits are kept
    ],
)
def test_tvm_sanitize_name(name: str, member: str) -> None:
    # SanitizeName: src/relay/backend/name_transforms.cc (v0.8-v0.10),
    # src/runtime/name_transforms.cc (v0.11-v0.18): std::isalnum per char, else '_'.
    assert tvm_sanitize(name) == member


@pytest.mark.parametrize(
    ("name", "printed", "candidates"),
    [
        ("x", "x", ["x"]),
        ("value", "value", ["value"]),  # starts with 'v' but is not a 'v' the printer added
        ("0", "v0", ["v0", "0"]),
        ("_param_1", "v_param_1", ["v_param_1", "_param_1"]),
    ],
)
def test_relay_printer_names(name: str, printed: str, candidates: list[str]) -> None:
    # RelayTextPrinter::AllocVar (src/relay/printer/relay_text_printer.cc) prefixes 'v' to a
    # name whose first character is not an ASCII letter.
    assert relay_text_name(name) == printed
    assert relay_name_candidates(printed) == candidates


@pytest.mark.parametrize(
    ("name", "prefix"), [("Kws-Net", "kws_net"), ("3d_unet", "_3d_unet"), ("net", "net")]
)
def test_library_prefix(name: str, prefix: str) -> None:
    assert library_prefix(name) == prefix


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("tvmgen_net", "would clash with names TVM or mlf_build generate"),
        ("MLF", "would clash"),
        ("int", "would clash"),
        ("---", "cannot be turned into a C identifier"),
    ],
)
def test_library_names_that_cannot_be_a_prefix(name: str, problem: str) -> None:
    with pytest.raises(MlfError, match=problem):
        library_prefix(name)


def test_macro_fragments_and_their_clashes() -> None:
    assert macro_fragment("signal:0") == "SIGNAL_0"
    assert macro_fragment("0x") == "_0X"  # never a macro name part starting with a digit
    check_unique(["a", "b"], "input", "m.tar")
    with pytest.raises(MlfError, match="input names 'a:0' and 'a_0' both become A_0 in C"):
        check_unique(["a:0", "a_0"], "input", "m.tar")


def test_names_tvm_would_make_one_member_are_refused() -> None:
    # interface_c.cc refuses a "Sanitized input tensor name clash".
    check_tvm_members(["a", "A"], "input", "m.tar")  # distinct members: case is kept
    with pytest.raises(MlfError, match="both become a_b in TVM's C interface"):
        check_tvm_members(["a.b", "a:b"], "input", "m.tar")


@pytest.mark.parametrize(
    ("member", "problem"), [("x_0", None), ("0", "is not a C identifier"), ("int", "is a C keyword")]
)
def test_struct_members_tvm_declared(member: str, problem: str | None) -> None:
    assert c_member_problem(member) == problem


def test_c_string_reproduces_any_bytes() -> None:
    # '?' is escaped so that "??=" can never be a trigraph; non-ASCII as UTF-8 octal escapes.
    assert c_string('a"b\\c??=é\n') == '"a\\"b\\\\c\\077\\077=\\303\\251\\012"'


def test_c_comment_cannot_close_the_comment_or_break_the_line() -> None:
    text = c_comment("x */ y /* z\nw")
    assert "*/" not in text and "/*" not in text and "\n" not in text
