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

from string import Template

from ..read.model import Model
from .common import ModuleApi, banner

_WEIGHTS = Template("""\
/* INCLUDE inside SECTIONS, among the read-only sections;
 * needs REGION_ALIAS("${UP}_WEIGHTS_REGION", <region>). */
  $section : ALIGN($align)
  {
    *($section)
  } > ${UP}_WEIGHTS_REGION
""")

_ARENA = Template("""\
/* INCLUDE inside SECTIONS, after .bss; needs REGION_ALIAS("${UP}_ARENA_REGION", <region>).
 * NOLOAD: the arena needs no initial contents and takes no space in the image. */
  $section (NOLOAD) : ALIGN($align)
  {
    *($section)
  } > ${UP}_ARENA_REGION
""")


def _banner(model: Model, apis: list[ModuleApi], what: str) -> str:
    return banner(what, apis[0].settings.model_label, [a.module.name for a in apis], model.format_version)


def weights_fragment(model: Model, prefix: str, section: str, apis: list[ModuleApi]) -> str:
    """``<t>_weights.ld``: the weights of every module of library ``prefix``."""
    what = f"{prefix}_weights.ld - the parameter data of model library {prefix}."
    body = _WEIGHTS.substitute(UP=prefix.upper(), section=section, align=apis[0].plan.params_align)
    return _banner(model, apis, what) + body


def arena_fragment(model: Model, prefix: str, section: str, apis: list[ModuleApi]) -> str:
    """``<t>_arena.ld``: the arenas (and USMP pools) of every module of library ``prefix``."""
    what = f"{prefix}_arena.ld - the arena of model library {prefix}."
    body = _ARENA.substitute(UP=prefix.upper(), section=section, align=apis[0].plan.align)
    return _banner(model, apis, what) + body
