"""Kafka positions: the last consumed offset per partition, and messages lost to retention."""

from __future__ import annotations

from worker.sources.kafka_offsets import OffsetTracker


def test_a_new_job_starts_at_the_end_and_tracks_every_partition() -> None:
    tracker = OffsetTracker()
    assert tracker.start_offset(0) is None
    tracker.consumed(0, 41)
    tracker.consumed(1, 7)
    tracker.consumed(0, 42)
    assert tracker.offsets == {0: 42, 1: 7}
    assert tracker.take_skipped() == 0


def test_a_resume_starts_after_the_checkpoint_and_counts_what_retention_dropped() -> None:
    tracker = OffsetTracker()
    tracker.resume({0: 99, 1: 10})
    assert tracker.start_offset(0) == 100
    assert tracker.start_offset(1) == 11
    assert tracker.start_offset(2) is None
    tracker.consumed(0, 112)  # retention kept only offsets >= 112: 100..111 are lost
    tracker.consumed(1, 11)  # nothing lost here
    tracker.consumed(0, 113)
    assert tracker.take_skipped() == 12
    assert tracker.take_skipped() == 0
    tracker.consumed(1, 15)  # a later gap is not retention at resume: not counted
    assert tracker.take_skipped() == 0
    assert tracker.offsets == {0: 113, 1: 15}
