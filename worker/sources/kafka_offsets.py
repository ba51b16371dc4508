"""Where a Kafka job is in its topic, and what retention cost it after a resume.

Pure bookkeeping for :class:`worker.sources.kafka.KafkaSource`: the offset of the
last consumed message per partition (the checkpointed position), and after a
resume at ``offset + 1`` the first offset actually delivered per partition. When
retention dropped the messages in between, the consumer starts at the earliest
kept one (``auto.offset.reset=earliest``), and the gap is the number lost.
(Transaction markers and compaction also leave offset gaps; on such topics the
count is an upper bound.)
"""

from __future__ import annotations


class OffsetTracker:
    def __init__(self) -> None:
        #: Offset of the last consumed message per partition.
        self.offsets: dict[int, int] = {}
        self._expected: dict[int, int] = {}
        self._skipped = 0

    def resume(self, offsets: dict[int, int]) -> None:
        """Continue after ``offsets``; the next message of each partition should follow."""
        self.offsets = dict(offsets)
        self._expected = {p: o + 1 for p, o in offsets.items()}

    def start_offset(self, partition: int) -> int | None:
        """Where to assign ``partition``: after its last consumed message, None: at the end."""
        last = self.offsets.get(partition)
        return None if last is None else last + 1

    def consumed(self, partition: int, offset: int) -> None:
        expected = self._expected.pop(partition, None)
        if expected is not None and offset > expected:
            self._skipped += offset - expected
        self.offsets[partition] = offset

    def take_skipped(self) -> int:
        """Messages lost to retention since the last call."""
        skipped, self._skipped = self._skipped, 0
        return skipped
