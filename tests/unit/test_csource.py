"""csource.py: what the reader learns from TVM's C, on small sources written the way TVM's
CodeGenC writes them (src/target/source/codegen_c.cc)."""

from __future__ import annotations

import pytest

from mlf_build.read.csource import parse_c, workspace_peak
from tests.mlf_factory import ADD_C


def test_a_packed_operator_its_parameters_and_allocation_events() -> None:
    src = parse_c(ADD_C)
    assert src.target == "c -keys=cpu"
    assert src.includes == ["tvm/runtime/c_runtime_api.h", "tvm/runtime/c_backend_api.h", "math.h"]
    fn = src.functions["tvmgen_default_fused_add"]
    assert fn.qualifiers == "TVM_DLL int32_t"
    assert [p.name for p in fn.params] == [
        "args", "arg_type_ids", "num_args", "out_ret_value", "out_ret_tcode", "resource_handle",
    ]  # fmt: skip
    assert fn.params[1].ctype == "int32_t*"
    # TVMBackendAllocWorkspace(device_type, device_id, nbytes, dtype_code_hint, dtype_bits_hint):
    # the size is the third argument (c_backend_api.h).
    allocs = [e for e in fn.events if e[0] != "call"]
    assert allocs == [("alloc", "tmp", 16, ()), ("free", "tmp", 0, ())]


def test_dead_code_and_comments_are_not_read() -> None:
    src = parse_c(
        '#ifdef __cplusplus\nextern "C" {\n#endif\n'
        "#if 0\nint32_t dead(void) { return 0; }\n#endif\n"
        "/* int32_t in_comment(void) { return 0; } */\n"
        "// int32_t in_line_comment(void) { return 0; }\n"
        'int32_t live(void) { const char *s = "int32_t in_string(void) {"; return 0; }\n'
        "#ifdef __cplusplus\n}\n#endif\n"
    )
    assert list(src.functions) == ["live"]


def test_elif_after_a_false_cplusplus_branch_is_live() -> None:
    src = parse_c(
        "#if defined(__cplusplus)\nint32_t cxx(void) { return 1; }\n"
        "#elif 1\nint32_t c(void) { return 0; }\n#else\nint32_t other(void) { return 2; }\n#endif\n"
    )
    assert list(src.functions) == ["c"]


def test_static_arrays_their_sizes_and_sections() -> None:
    src = parse_c(
        'static const float __attribute__((section(".rodata.tvm"), aligned(16))) '
        "__tvm_param__p0[4] = {0};\n"
        '__attribute__((section(".bss.noinit.tvm"), aligned(16)))\n'
        "static uint8_t global_workspace[96];\n"
        "static const my_t opaque[3] = {0};\n"
    )
    p0 = src.arrays["__tvm_param__p0"]
    assert (p0.ctype, p0.count, p0.const, p0.section, p0.nbytes) == ("float", 4, True, ".rodata.tvm", 16)
    ws = src.arrays["global_workspace"]
    assert (ws.const, ws.section, ws.nbytes) == (False, ".bss.noinit.tvm", 96)
    assert src.arrays["opaque"].nbytes is None  # an element type of unknown size


def test_usmp_constant_pool_size_from_tvms_comment() -> None:
    # source_module.cc GenerateConstantBuffer: "};// of total size N bytes"
    src = parse_c(
        "static const struct global_const_workspace {\n  float fused_constant_0[4];\n} "
        "global_const_workspace = {\n  .fused_constant_0 = {1, 2, 3, 4},\n};// of total size 16 bytes\n"
    )
    assert src.constant_pools == {"global_const_workspace": 16}


def test_old_dltensor_field_name_is_noticed() -> None:
    body = "int32_t f(void* args) { int32_t d = (((DLTensor*)a)[0].ctx.device_id); return d; }\n"
    assert parse_c(body).uses_ctx
    assert not parse_c(body.replace("ctx", "device")).uses_ctx


def test_prototypes_are_recorded_with_their_parameters() -> None:
    src = parse_c("int32_t tvmgen_default_fused_add(void* args, int32_t* ids);\nint32_t x = f(1);\n")
    assert src.declarations == {"tvmgen_default_fused_add": "void* args, int32_t* ids"}


def test_element_type_from_the_parameter_or_a_cast_of_an_alias() -> None:
    src = parse_c(
        "int32_t main_(int8_t* in0, void* out0_buffer_var) {\n"
        "  void* out0 = out0_buffer_var;\n  ((float*)out0)[0] = 1.0f;\n  return 0;\n}\n"
    )
    fn = src.functions["main_"]
    assert fn.element_type("in0") == "int8_t"
    assert fn.element_type("out0_buffer_var") == "float"


def _peak(code: str, root: str = "f", align: int = 16) -> int | None:
    return workspace_peak(parse_c(code).functions, root, align)


def test_workspace_peak_is_lifo_and_aligned() -> None:
    # Two blocks live together (10 -> 16, 20 -> 32 bytes), then one of 40 after both are freed.
    code = (
        "int32_t f(void) {\n"
        "  void* a = TVMBackendAllocWorkspace(1, 0, (uint64_t)10, 2, 32);\n"
        "  void* b = TVMBackendAllocWorkspace(1, 0, (uint64_t)20, 2, 32);\n"
        "  if (TVMBackendFreeWorkspace(1, 0, b) != 0) { return -1; }\n"
        "  if (TVMBackendFreeWorkspace(1, 0, a) != 0) { return -1; }\n"
        "  void* c = TVMBackendAllocWorkspace(1, 0, (uint64_t)40, 2, 32);\n"
        "  return 0;\n}\n"
    )
    assert _peak(code) == 48
    assert _peak(code, align=64) == 128


def test_workspace_peak_adds_a_callees_peak_to_what_is_held() -> None:
    code = (
        "int32_t g(void) { void* t = TVMBackendAllocWorkspace(1, 0, (uint64_t)64, 2, 32); return 0; }\n"
        "int32_t f(void) {\n  void* a = TVMBackendAllocWorkspace(1, 0, (uint64_t)32, 2, 32);\n"
        "  if (g() != 0) { return -1; }\n  return 0;\n}\n"
    )
    assert _peak(code) == 96
    assert _peak(code, root="g") == 64
    assert _peak(code, root="absent") == 0  # not in this code: allocates nothing here


@pytest.mark.parametrize(
    "code",
    [
        # a size that is not a constant
        "int32_t f(int32_t n) { void* a = TVMBackendAllocWorkspace(1, 0, (uint64_t)n, 2, 32); return 0; }\n",
        # recursion
        "int32_t g(void);\nint32_t f(void) { void* a = TVMBackendAllocWorkspace(1, 0, (uint64_t)4, 2, 32);"
        " return g(); }\nint32_t g(void) { return f(); }\n",
    ],
)
def test_workspace_peak_unknown(code: str) -> None:
    assert _peak(code) is None


_PACKED = (
    "int32_t op(void* args, int32_t* arg_type_ids, int32_t num_args, void* out_ret_value, "
    "int32_t* out_ret_tcode, void* resource_handle) {{\n"
    "  void* arg0 = (((TVMValue*)args)[0].v_handle);\n"
    "  {use}\n  return 0;\n}}\n"
)


@pytest.mark.parametrize(
    ("use", "reads"),
    [
        ("void* d = (((DLTensor*)arg0)[0].data);", False),
        ("if (arg0 == NULL) { return -1; }", False),
        ("int32_t n = (((DLTensor*)arg0)[0].ndim);", True),
        ("int32_t c = (int32_t)(((DLTensor*)arg0)[0].dtype.code);", True),
        ("other(arg0);", True),  # the handle passed on: anything may be read
    ],
)
def test_which_packed_functions_read_tensor_facts(use: str, reads: bool) -> None:
    fn = parse_c(_PACKED.format(use=use)).functions["op"]
    assert fn.reads_tensor_facts is reads
