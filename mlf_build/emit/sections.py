"""Linker-script fragments that give a library's custom sections (WEIGHTS_SECTION,
ARENA_SECTION) output sections of their own, so each model's weights and arena can be placed
in memories of the user's choice.

``<t>_weights.ld`` and ``<t>_arena.ld`` hold one output-section statement each, to INCLUDE
inside the SECTIONS of a GNU ld script: the weights among the read-only sections, the arena
after the zero-initialised ones. They place into the regions ``<T>_WEIGHTS_REGION`` and
``<T>_ARENA_REGION``, which the script names with REGION_ALIAS before SECTIONS, e.g.
``REGION_ALIAS("NET_WEIGHTS_REGION", FLASH);``. cmake/qemu/MLFQemu.cmake does all of this
for the QEMU machines (mlf_qemu_place_sections()).
"""

from __future__ import annotations

from .. import __version__
from ..plan.plan import Plan


def weights_fragment(prefix: str, section: str, plan: Plan) -> str:
    up = prefix.upper()
    return (
        f"/* {prefix}_weights.ld - the parameter data of model library {prefix} (mlf_build {__version__}).\n"
        " * INCLUDE inside SECTIONS, among the read-only sections;\n"
        f' * needs REGION_ALIAS("{up}_WEIGHTS_REGION", <region>). */\n'
        f"  {section} : ALIGN({plan.params_align})\n  {{\n    *({section})\n  }} > {up}_WEIGHTS_REGION\n"
    )


def arena_fragment(prefix: str, section: str, plan: Plan) -> str:
    up = prefix.upper()
    return (
        f"/* {prefix}_arena.ld - the arena of model library {prefix} (mlf_build {__version__}).\n"
        f' * INCLUDE inside SECTIONS, after .bss; needs REGION_ALIAS("{up}_ARENA_REGION", <region>).\n'
        " * NOLOAD: the arena needs no initial contents and takes no space in the image. */\n"
        f"  {section} (NOLOAD) : ALIGN({plan.align})\n  {{\n    *({section})\n  }} > {up}_ARENA_REGION\n"
    )
