"""Strict JSON for untrusted MLF members: no NaN/Infinity, no duplicate keys, bounded depth."""

from __future__ import annotations

import json
from typing import Any

from ..errors import MlfError
from .limits import Budget

MAX_INT = 1 << 62
#: values (and keys) the JSON documents of one archive may hold in all: each costs Python some
#: 60 bytes, so a 64 MiB file of `[],` would take 1.4 GB. A graph the runner can take (65535
#: tensors) holds about a million.
MAX_VALUES = 1 << 21


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _pairs(where: str):  # type: ignore[no-untyped-def]
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in pairs:
            if k in out:
                raise ValueError(f"duplicate key {k[:60]!r}")
            out[k] = v
        return out

    return hook


def _int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_INT:
        raise ValueError(f"number {text[:30]} is too large")
    return value


def _float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:30]} is out of range")
    return value


def loads(text: str, where: str, budget: Budget | None = None) -> Any:
    """Parse untrusted JSON; ``budget`` counts its values with those of the other documents of
    one archive (MAX_VALUES), before any is made."""
    # Every value but the first follows a ',', ':', '[' or '{' (counted in strings too: a bound).
    values = 1 + sum(text.count(c) for c in ",:[{")
    if not (Budget() if budget is None else budget).take("json", values, MAX_VALUES):
        raise MlfError(
            where, f"takes the JSON files over {MAX_VALUES} values in all; no TVM export comes near"
        )
    try:
        return json.loads(
            text,
            parse_constant=_no_constants,
            object_pairs_hook=_pairs(where),
            parse_int=_int,
            parse_float=_float,
        )
    except json.JSONDecodeError as exc:
        raise MlfError(
            where, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise MlfError(where, "is not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise MlfError(where, f"is not valid JSON ({exc})") from None
