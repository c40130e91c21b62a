"""Offsets for buffers with known lifetimes, packed into as few bytes as possible.

A buffer is live over a range of steps and must not share a byte with any buffer live at one of
those steps; below it, each step may keep ``floor`` bytes for itself (the operator scratch). The
best packing is NP-hard to find (dynamic storage allocation), so this module does what TFLM's
greedy planner does, first fit of the buffers in order of size, with more orders and a bounded
local search over them: it stops as soon as a packing reaches the liveness bound (the most bytes
live at any one step), below which no packing can go. Everything is deterministic, and the
work is bounded: inputs with too many overlapping buffers get no packing (the caller falls
back to a plan that needs none).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Most pairs of buffers live at a common step that packing takes on. Each packing attempt
#: costs about this much; real models have a few thousand pairs at most.
MAX_CONFLICTS = 1 << 20
#: Budget of the local search, in conflict pairs visited over all attempts.
SEARCH_WORK = 1 << 22
#: Most packings the local search tries, however small the model.
SEARCH_ATTEMPTS = 4000


@dataclass(frozen=True)
class Buffer:
    size: int  # bytes (a multiple of the alignment, so offsets stay aligned)
    first: int  # first step at which it is live
    last: int  # last step at which it is live (inclusive)
    floor: int = 0  # lowest offset it may take (bytes the steps it spans keep below it)


def liveness_bound(buffers: Sequence[Buffer], steps: int, below: Sequence[int] = ()) -> int:
    """The most bytes needed at any one step: the buffers live at it plus ``below[step]``."""
    delta = [0] * (steps + 1)
    for b in buffers:
        delta[b.first] += b.size
        delta[b.last + 1] -= b.size
    best = live = 0
    for t in range(steps):
        live += delta[t]
        best = max(best, live + (below[t] if t < len(below) else 0))
    return best


def range_max(values: Sequence[int]) -> Callable[[int, int], int]:
    """max(values[lo..hi]) in constant time per query (a sparse table)."""
    table = [list(values)]
    span = 1
    while 2 * span <= len(values):
        prev = table[-1]
        table.append([max(prev[i], prev[i + span]) for i in range(len(values) - 2 * span + 1)])
        span *= 2

    def query(lo: int, hi: int) -> int:
        k = (hi - lo + 1).bit_length() - 1
        return max(table[k][lo], table[k][hi - (1 << k) + 1])

    return query


def conflicts(buffers: Sequence[Buffer], limit: int = MAX_CONFLICTS) -> list[list[int]] | None:
    """For each buffer, the buffers live at one of its steps; None when there are more than
    ``limit`` such pairs (packing would take too long)."""
    order = sorted(range(len(buffers)), key=lambda i: (buffers[i].first, i))
    out: list[list[int]] = [[] for _ in buffers]
    active: list[tuple[int, int]] = []  # (last step, index), a heap
    alive: set[int] = set()
    pairs = 0
    for i in order:
        b = buffers[i]
        while active and active[0][0] < b.first:
            alive.discard(heapq.heappop(active)[1])
        pairs += len(alive)
        if pairs > limit:
            return None
        for j in alive:
            out[i].append(j)
            out[j].append(i)
        alive.add(i)
        heapq.heappush(active, (b.last, i))
    for lst in out:
        lst.sort()
    return out


def first_fit(buffers: Sequence[Buffer], graph: Sequence[Sequence[int]], order: Sequence[int]) -> list[int]:
    """Offsets from placing the buffers in ``order``, each at the lowest offset at or above its
    floor that overlaps no buffer already placed and live at a common step."""
    offsets = [-1] * len(buffers)
    for i in order:
        b = buffers[i]
        taken = sorted((offsets[j], offsets[j] + buffers[j].size) for j in graph[i] if offsets[j] >= 0)
        at = b.floor
        for lo, hi in taken:
            if at + b.size <= lo:
                break
            at = max(at, hi)
        offsets[i] = at
    return offsets


def extent(buffers: Sequence[Buffer], offsets: Sequence[int]) -> int:
    return max((o + b.size for o, b in zip(offsets, buffers, strict=True)), default=0)


def _orders(buffers: Sequence[Buffer], steps: int) -> list[list[int]]:
    """Starting orders: by size (TFLM's GreedyMemoryPlanner), by the load of the busiest step
    each buffer spans (the steps that set the bound first), by size x lifetime, by floor then
    size, and by first step (a linear scan)."""
    load = [0] * (steps + 1)
    for b in buffers:
        load[b.first] += b.size
        load[b.last + 1] -= b.size
    for t in range(1, steps + 1):
        load[t] += load[t - 1]
    busiest = range_max(load[:steps] or [0])
    idx = range(len(buffers))
    keys: list[Callable[[int], tuple[int, ...]]] = [
        lambda i: (-buffers[i].size, buffers[i].first, i),
        lambda i: (-busiest(buffers[i].first, buffers[i].last), -buffers[i].size, i),
        lambda i: (-buffers[i].size * (buffers[i].last - buffers[i].first + 1), i),
        lambda i: (-(buffers[i].floor + buffers[i].size), buffers[i].first, i),
        lambda i: (buffers[i].first, -buffers[i].size, i),
    ]
    return [sorted(idx, key=k) for k in keys]


def pack(buffers: Sequence[Buffer], steps: int, target: int = 0) -> list[int] | None:
    """Offsets for ``buffers`` (live within steps 0..steps-1), as small an extent as the search
    finds, stopping early at ``target`` (pass the liveness bound). None when the buffers overlap
    too much to pack in bounded time."""
    graph = conflicts(buffers)
    if graph is None:
        return None
    if not buffers:
        return []
    best: list[int] | None = None
    best_order: list[int] = []
    best_size = 0
    for order in _orders(buffers, steps):
        offsets = first_fit(buffers, graph, order)
        size = extent(buffers, offsets)
        if best is None or size < best_size:
            best, best_order, best_size = offsets, order, size
    assert best is not None
    # Local search: move one buffer earlier in the order; keep the first move that helps.
    cost = len(buffers) + sum(len(g) for g in graph)
    attempts = min(SEARCH_ATTEMPTS, SEARCH_WORK // cost)
    improved = True
    while improved and best_size > target and attempts > 0:
        improved = False
        for i in range(1, len(best_order)):
            for j in range(i):
                if attempts <= 0:
                    break
                attempts -= 1
                order = [*best_order[:j], best_order[i], *best_order[j:i], *best_order[i + 1 :]]
                offsets = first_fit(buffers, graph, order)
                size = extent(buffers, offsets)
                if size < best_size:
                    best, best_order, best_size, improved = offsets, order, size, True
                    break
            if improved or attempts <= 0:
                break
    return best


def overlaps(buffers: Sequence[Buffer], offsets: Sequence[int]) -> tuple[int, int] | None:
    """Two buffers live at a common step whose bytes overlap, or None. For checking a packing."""
    graph = conflicts(buffers, limit=1 << 62)
    assert graph is not None
    for i, others in enumerate(graph):
        a = buffers[i]
        for j in others:
            b = buffers[j]
            clash = offsets[i] < offsets[j] + b.size and offsets[j] < offsets[i] + a.size
            if j > i and a.size and b.size and clash:
                return (i, j)
    return None
