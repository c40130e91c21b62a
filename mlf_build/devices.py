"""Devices an AOT model runs operators on (TVM's C device API), and the glue mlf_build ships.

A model compiled for an NPU through a target kind with ``use_device_api`` (Ethos-U) gets a
``struct tvmgen_<m>_devices`` in its header, one ``void*`` per device named after the target kind
(``ethos-u`` -> ``ethos_u``, SanitizeName), and its entry point takes that struct. TVM's AOT
code then calls ``TVMDevice<Name>{Activate,Open,Close,Deactivate}(handle)`` around the device's
operators, and the operators call the device's launch function (``TVMEthosULaunch``) with the
handle (apache/tvm v0.18.0: src/relay/backend/aot_executor_codegen.cc GenerateDeviceHook and
CollectDeviceVariables; src/target/source/interface_c.cc and source_module.cc for the struct
and the entry point; src/relay/backend/contrib/ethosu/source_module.cc for the launch). Those
functions are not part of TVM's output: the application provides them, or, for Ethos-U,
mlf_build's runtime does (``runtime/devices/ethos_u``, on top of the Arm Ethos-U core driver).

The build names every device the model uses (CMake ``DEVICES <name>=<target>``, Bazel
``devices``, ``mlf-build --device``); a model needing one that is not named is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import MlfError, printable
from .read.model import Model, Module


@dataclass(frozen=True)
class DeviceGlue:
    """mlf_build's implementation of a device's TVM functions, relative to the runtime folder."""

    sources: tuple[str, ...]
    include_dirs: tuple[str, ...]


#: Devices whose TVM functions mlf_build implements. Others are the application's to provide.
GLUE: dict[str, DeviceGlue] = {
    # TVMEthosULaunch and the four hooks, on the Ethos-U core driver; tvm_ethosu_runtime.h is the
    # header TVM's Ethos-U code includes.
    "ethos_u": DeviceGlue(("devices/ethos_u/mlf_ethos_u.c",), ("devices/ethos_u",)),
}


def check_devices(model: Model, modules: list[Module], given: list[str]) -> None:
    """Every device the modules use is given, and every device given is used."""
    used = sorted({d for m in modules for d in m.devices})
    for name in given:
        if name not in used:
            have = ", ".join(used) or "none"
            raise MlfError(
                "--device",
                f"names {printable(name)!r}, which the model does not use (its devices: {have})",
            )
    for m in modules:
        missing = [d for d in m.devices if d not in given]
        if missing:
            raise MlfError(
                model.path,
                f"module {m.name!r} runs operators on the device(s) {', '.join(missing)}; build it "
                "against the device's driver: CMake DEVICES <device>=<driver target>, Bazel "
                'devices = {<driver label>: "<device>"}, mlf-build --device=<device>',
            )


def glue_sources(devices: list[str]) -> list[str]:
    return [s for d in devices if d in GLUE for s in GLUE[d].sources]


def glue_include_dirs(devices: list[str]) -> list[str]:
    return [i for d in devices if d in GLUE for i in GLUE[d].include_dirs]
