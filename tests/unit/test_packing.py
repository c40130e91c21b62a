"""packing.py: offsets for buffers with lifetimes, and the liveness bound they are judged by."""

from __future__ import annotations

from mlf_build.plan.packing import (
    Buffer,
    conflicts,
    extent,
    first_fit,
    liveness_bound,
    overlaps,
    pack,
    range_max,
)


def test_liveness_bound_counts_the_bytes_live_at_the_busiest_step() -> None:
    buffers = [Buffer(16, 0, 1), Buffer(32, 1, 2)]
    assert liveness_bound(buffers, 3) == 48  # both live at step 1
    assert liveness_bound(buffers, 3, below=[40, 0, 0]) == 56  # step 0: 16 + 40 of scratch


def test_conflicts_are_the_buffers_live_at_a_common_step() -> None:
    chain = [Buffer(8, 0, 1), Buffer(8, 1, 2), Buffer(8, 2, 3), Buffer(8, 5, 5)]
    assert conflicts(chain) == [[1], [0, 2], [1], []]
    assert conflicts(chain, limit=1) is None  # two pairs: more than the limit


def test_first_fit_takes_the_lowest_free_offset_at_or_above_the_floor() -> None:
    buffers = [Buffer(16, 0, 2), Buffer(16, 1, 1), Buffer(16, 3, 3, floor=32)]
    graph = conflicts(buffers)
    assert graph is not None
    assert first_fit(buffers, graph, [0, 1, 2]) == [0, 16, 32]
    assert first_fit(buffers, graph, [1, 0, 2]) == [16, 0, 32]


def test_pack_reuses_the_bytes_of_dead_buffers_down_to_the_bound() -> None:
    # A chain of operators: each output lives from the step that writes it to the one that reads it.
    chain = [Buffer(64, 0, 1), Buffer(32, 1, 2), Buffer(64, 2, 3), Buffer(16, 3, 4)]
    offsets = pack(chain, 5)
    assert offsets is not None
    assert overlaps(chain, offsets) is None
    assert extent(chain, offsets) == liveness_bound(chain, 5) == 96
    assert pack(chain, 5) == offsets  # deterministic


def test_pack_of_nothing() -> None:
    assert pack([], 0) == []


def test_overlaps_finds_two_live_buffers_sharing_bytes() -> None:
    buffers = [Buffer(16, 0, 1), Buffer(16, 1, 2), Buffer(0, 1, 1)]
    assert overlaps(buffers, [0, 8, 0]) == (0, 1)
    assert overlaps(buffers, [0, 16, 0]) is None  # the empty buffer shares no byte


def test_range_max_answers_every_range() -> None:
    values = [3, 1, 4, 1, 5, 9, 2, 6]
    query = range_max(values)
    for lo in range(len(values)):
        for hi in range(lo, len(values)):
            assert query(lo, hi) == max(values[lo : hi + 1])
