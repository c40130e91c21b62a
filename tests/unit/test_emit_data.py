"""emit/data.py and emit/sections.py: the parameter blob and arena as assembler, and the linker
fragments that place their sections."""

from __future__ import annotations

import dataclasses

from mlf_build.dtypes import parse_dtype
from mlf_build.emit.common import ModuleApi
from mlf_build.emit.data import blob_offsets, emit_data
from mlf_build.emit.sections import arena_fragment, weights_fragment
from mlf_build.plan.plan import Plan
from mlf_build.read.model import Model
from mlf_build.read.params import ParamTensor
from tests.unit.conftest import settings


def _with_params(model: Model, sizes: list[int], linked: dict[str, str] | None = None) -> Model:
    u8 = parse_dtype("uint8", "x")
    params = [ParamTensor(f"p{i}", u8, (n,), n, 1000 * i) for i, n in enumerate(sizes)]
    mod = dataclasses.replace(model.modules[0], params=params, linked_params=linked or {})
    return dataclasses.replace(model, modules=[mod])


def test_blob_offsets_smallest_first_each_aligned(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    mod = _with_params(model, [40, 4, 20, 4]).modules[0]
    # sizes 4 (p1), 4 (p3), 20 (p2), 40 (p0); each start rounded up to params_align (16)
    assert blob_offsets(mod, plan) == {1: 0, 3: 16, 2: 32, 0: 64}


def test_linked_parameters_are_not_in_the_blob(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    mod = _with_params(model, [8, 8], linked={"p0": "__tvm_param__p0"}).modules[0]
    assert blob_offsets(mod, plan) == {1: 0}


def test_blob_is_incbin_of_each_tensor_with_explicit_padding(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    m = _with_params(model, [20, 4])
    text = emit_data(m, m.modules[0], plan, settings(static_arena=False, weights_section=".rodata.w"))
    assert '".pushsection .rodata.w,\\"a\\",%progbits\\n"' in text
    lines = [line.strip() for line in text.splitlines()]
    i = lines.index('"net__param_1:\\n"')
    # p1 (4 bytes) at 0 from byte 1000 of the params file, 12 bytes of padding, then p0
    assert lines[i + 1] == '".incbin \\"net_params.bin\\", 1000, 4\\n"'
    assert lines[i + 3] == '".space 12\\n"'
    assert '".incbin \\"net_params.bin\\", 0, 20\\n"' in lines
    assert "net__arena" not in text


def test_static_arena_is_nobits_in_its_section(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    text = emit_data(model, model.modules[0], plan, settings(arena_section=".bss.fast"))
    assert '".pushsection .bss.fast,\\"aw\\",%nobits\\n"' in text
    assert f'".space {plan.workspace_size}\\n"' in text


def test_nothing_to_embed_keeps_the_unit_non_empty(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    m = _with_params(model, [])
    text = emit_data(m, m.modules[0], plan, settings(static_arena=False))
    assert "__asm__" not in text and "typedef int net__no_data;" in text


def test_linker_fragments_place_the_sections_in_their_regions(planned: tuple[Model, Plan]) -> None:
    model, plan = planned
    apis = [ModuleApi(model.modules[0], plan, settings(), {})]
    weights = weights_fragment(model, "net", ".rodata.w", apis)
    assert (
        f"  .rodata.w : ALIGN({plan.params_align})\n  {{\n    *(.rodata.w)\n  }} > NET_WEIGHTS_REGION\n"
        in weights
    )
    arena = arena_fragment(model, "net", ".bss.a", apis)
    assert f"  .bss.a (NOLOAD) : ALIGN({plan.align})\n  {{\n    *(.bss.a)\n  }} > NET_ARENA_REGION\n" in arena
