"""The value of ``ns:cursor:{tab_id}`` (livegrid.stores.cursors)."""

from __future__ import annotations

import pytest

from livegrid.stores.cursors import StoredCursor, format_cursor, parse_cursor


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"12:3", StoredCursor(12, 3)),
        ("12:3", StoredCursor(12, 3)),
        (b"12", StoredCursor(12, 0)),  # no epoch: the stream's first
        (None, None),
        (b"", None),
        (b"x:1", None),  # unreadable: the tab starts at the stream's end
        (b"1:y", None),
    ],
)
def test_parse_cursor(raw: bytes | str | None, expected: StoredCursor | None) -> None:
    assert parse_cursor(raw) == expected


def test_format_reads_back() -> None:
    cursor = StoredCursor(40, 2)
    assert format_cursor(cursor) == "40:2"
    assert parse_cursor(format_cursor(cursor).encode()) == cursor
