"""Helpers of the unit tests: small MLFs built in memory (tests/mlf_factory.py) and loaded,
planned and emitted directly, without the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlf_build.emit.common import Settings
from mlf_build.plan.plan import Plan, plan_module
from mlf_build.read.model import Model, load_model
from tests.mlf_factory import minimal_files, write_tar

Files = dict[str, bytes]


def settings(prefix: str = "net", **changes: Any) -> Settings:
    base: dict[str, Any] = dict(
        prefix=prefix,
        runtime="builtin",
        static_arena=True,
        weights_section=None,
        arena_section=None,
        model_label="m.tar",
    )
    base.update(changes)
    return Settings(**base)


@pytest.fixture
def load(tmp_path: Path) -> Iterator[Callable[..., Model]]:
    """``load(files=None, edit=None)``: the minimal MLF of mlf_factory (y = x + p0, graph,
    version 7), or ``files``, after ``edit(files)`` changed it, written as a tarball and loaded."""
    opened: list[Model] = []

    def _load(files: Files | None = None, edit: Callable[[Files], None] | None = None, **kw: Any) -> Model:
        files = dict(minimal_files() if files is None else files)
        if edit is not None:
            edit(files)
        path = write_tar(tmp_path / f"m{len(opened)}.tar", files)
        model = load_model(path, **kw)
        opened.append(model)
        return model

    yield _load
    for m in opened:
        m.close()


@pytest.fixture
def planned(load: Callable[..., Model]) -> tuple[Model, Plan]:
    model = load()
    return model, plan_module(model, model.modules[0])


def set_json(files: Files, name: str, change: Callable[[Any], None]) -> None:
    doc = json.loads(files[name])
    change(doc)
    files[name] = json.dumps(doc).encode()
