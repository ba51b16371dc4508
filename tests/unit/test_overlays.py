"""Static overlays: frames from params alone, with their params validated."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from livegrid.codec import FrameKind, decode_frame, encode_frame
from livegrid.overlays import MAX_SHAPES, STATIC_KINDS, compute_overlay

NOW = 1_700_000_000_000_000_000


def test_static_kinds_are_rectangles_and_lines() -> None:
    assert {FrameKind.RECTANGLES, FrameKind.VLINES, FrameKind.HLINES} == STATIC_KINDS


def test_rectangles_become_one_array_per_corner_coordinate() -> None:
    frame = compute_overlay("rectangles", {"rects": [[0, 1, 2, 3], [-4, -5, 6.5, 7]]}, NOW)
    assert frame.kind == FrameKind.RECTANGLES
    assert set(frame.arrays) == {"x0", "y0", "x1", "y1"}
    assert frame.arrays["x0"].tolist() == [0.0, -4.0]
    assert frame.arrays["y0"].tolist() == [1.0, -5.0]
    assert frame.arrays["x1"].tolist() == [2.0, 6.5]
    assert frame.arrays["y1"].tolist() == [3.0, 7.0]
    assert all(a.dtype == np.float64 for a in frame.arrays.values())


def test_vlines_become_an_x_array() -> None:
    frame = compute_overlay("vlines", {"x": [1, 2.5]}, NOW)
    assert frame.kind == FrameKind.VLINES
    assert list(frame.arrays) == ["x"]
    assert frame.arrays["x"].tolist() == [1.0, 2.5]


def test_hlines_become_a_y_array() -> None:
    frame = compute_overlay("hlines", {"y": [300]}, NOW)
    assert frame.kind == FrameKind.HLINES
    assert list(frame.arrays) == ["y"]
    assert frame.arrays["y"].tolist() == [300.0]


def test_no_shapes_give_empty_arrays() -> None:
    frame = compute_overlay("rectangles", {}, NOW)
    assert all(a.shape == (0,) for a in frame.arrays.values())
    assert len(frame.arrays) == 4


def test_overlay_frames_carry_compute_time_title_and_no_data_times() -> None:
    frame = compute_overlay("vlines", {"x": [1]}, NOW, title="Edge")
    assert (frame.computed_at, frame.title, frame.data_start, frame.data_end) == (
        NOW,
        "Edge",
        None,
        None,
    )


def test_display_settings_in_params_are_passed_over() -> None:
    frame = compute_overlay("hlines", {"y": [1], "color": "red"}, NOW)
    assert frame.arrays["y"].tolist() == [1.0]


@pytest.mark.parametrize(
    ("kind", "params", "problem"),
    [
        ("vlines", {"x": [float("nan")]}, "x.0: Input should be a finite number"),
        ("hlines", {"y": [float("inf")]}, "y.0: Input should be a finite number"),
        ("hlines", {"y": ["300"]}, "y.0: Input should be a valid number"),
        ("hlines", {"y": 300}, "y: Input should be a valid list"),
        ("rectangles", {"rects": [[0, 0, 1]]}, "rects.0: List should have at least 4 items"),
        ("rectangles", {"rects": [[0, 0, 1, 1, 2]]}, "rects.0: List should have at most 4 items"),
        ("vlines", {"x": [0.0] * (MAX_SHAPES + 1)}, "x: List should have at most 1000 items"),
    ],
)
def test_invalid_params_are_rejected_with_a_readable_message(
    kind: str, params: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=f"The {kind} overlay has invalid parameters") as info:
        compute_overlay(kind, params, NOW)
    assert problem in str(info.value)


def test_up_to_max_shapes_are_accepted() -> None:
    frame = compute_overlay("rectangles", {"rects": [[0, 0, 1, 1]] * MAX_SHAPES}, NOW)
    assert frame.arrays["x0"].shape == (MAX_SHAPES,)


@pytest.mark.parametrize("kind", ["image", "circles"])
def test_kinds_that_are_not_static_overlays_are_rejected(kind: str) -> None:
    with pytest.raises(ValueError, match=f"no static overlay '{kind}'; choose one of hlines"):
        compute_overlay(kind, {}, NOW)


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("rectangles", {"rects": [[-20, -20, 20, 20]]}),
        ("vlines", {"x": [1, 2]}),
        ("hlines", {"y": [300]}),
    ],
)
def test_overlay_frames_round_trip_through_the_codec(kind: str, params: dict[str, Any]) -> None:
    frame = compute_overlay(kind, params, NOW)
    decoded = decode_frame(encode_frame(frame))
    assert decoded.kind == frame.kind
    assert decoded.computed_at == NOW
    for name, array in frame.arrays.items():
        np.testing.assert_array_equal(decoded.arrays[name], array)
        assert decoded.arrays[name].dtype == np.float64
