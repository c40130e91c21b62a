"""relay.py: the @main signature as TVM's Relay printer writes it
(src/relay/printer/relay_text_printer.cc, RelayTextPrinter::PrintFunc)."""

from __future__ import annotations

import pytest

from mlf_build.read.relay import RelayTensorType, parse_relay_main


def test_names_with_colons_end_where_a_type_follows() -> None:
    main = parse_relay_main(
        "def @main(%serving_default_input_1:0: Tensor[(1, 32), int8], %v0: Tensor[(4), float32]) {\n}"
    )
    assert main is not None
    assert main.args == [("serving_default_input_1:0", (1, 32), "int8"), ("v0", (4,), "float32")]
    assert main.returns is None and main.output_names is None


def test_return_tuple_flattened_depth_first_and_output_names() -> None:
    # Outputs of a tuple are flattened depth first (_flatten_tuple_outputs in
    # python/tvm/micro/model_library_format.py); output_tensor_names from the TFLite frontend.
    main = parse_relay_main(
        'def @main(%x: Tensor[(1, 4), float32], output_tensor_names=["a:0", "b"]) '
        "-> (Tensor[(1), int8], (Tensor[(2, 2), float32], Tensor[(3), uint8])) {\n}"
    )
    assert main is not None
    assert main.returns == [
        RelayTensorType((1,), "int8"), RelayTensorType((2, 2), "float32"), RelayTensorType((3,), "uint8"),
    ]  # fmt: skip
    assert main.output_names == ["a:0", "b"]


def test_dimension_widths_dynamic_dimensions_and_scalars() -> None:
    # IntImmToString (src/support/scalars.cc) prints non-32-bit dimensions with a suffix.
    main = parse_relay_main(
        "def @main(%a: Tensor[(1i64, 8), float32], %b: Tensor[(?, 8), int8], %c: int32) {}"
    )
    assert main is not None
    assert main.args == [("a", (1, 8), "float32"), ("b", None, "int8"), ("c", (), "int32")]


def test_virtual_device_annotations_are_not_part_of_the_name() -> None:
    main = parse_relay_main(
        "def @main(%x {virtual_device=VirtualDevice(device_type=1)}: Tensor[(2), float32], "
        "%y: Tensor[(3), int8]) {}"
    )
    assert main is not None
    assert main.args == [("x", (2,), "float32"), ("y", (3,), "int8")]


# Each parameter is read within its own text, up to the next '%' (the search for the
# ':' before a type once crossed the ',' that ends an untyped parameter, merging 'x, %y').
@pytest.mark.parametrize(
    "params",
    [
        "%x, %y: Tensor[(3), int8]",  # a parameter printed without a type annotation
        "%x: Storage[], %y: Tensor[(3), int8]",  # a type this parser does not read
    ],
)
def test_a_parameter_without_a_readable_type_keeps_the_next_ones_name(params: str) -> None:
    main = parse_relay_main(f"def @main({params}) {{}}")
    assert main is not None
    assert [name for name, _t in main.params] == ["x", "y"]
    assert main.params[0][1] is None and main.args == [("y", (3,), "int8")]


def test_text_without_main() -> None:
    assert parse_relay_main("def @other(%x: Tensor[(1), float32]) { %x }") is None
