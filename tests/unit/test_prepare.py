"""Per-replica preparation: pure, copy-free where no transformation is needed."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from app.prepare import FrameLayoutError, carry_unchanged, empty_data, prepare
from livegrid.codec import Frame, FrameKind, decode_frame, encode_frame


def image_frame(**attrs: Any) -> Frame:
    values = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    return Frame(
        kind=FrameKind.IMAGE,
        title="detector",
        labels={"x": "x position", "y": "y position", "values": "counts"},
        units={"x": "mm", "y": "mm"},
        arrays={"x": np.linspace(0.5, 3.5, 4), "y": np.linspace(1, 5, 3), "values": values},
        attrs={"clim": [1.0, 12.0], "log": False, "x_edges": [0, 4], "y_edges": [0, 6]} | attrs,
        data_end=5,
    )


def lines_frame(values: Any = None, **attrs: Any) -> Frame:
    y = np.array([1.0, 4.0, 9.0, 16.0]) if values is None else np.asarray(values, dtype=float)
    return Frame(
        kind=FrameKind.LINES,
        labels={"x": "tof", "values": "intensity"},
        units={"x": "ms"},
        arrays={"x": np.arange(len(y), dtype=np.float64), "values": y},
        attrs={"log": False} | attrs,
    )


def slicer_frame() -> Frame:
    cube = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    return Frame(
        kind=FrameKind.SLICER,
        labels={"z": "time of flight"},
        units={"z": "ms"},
        arrays={
            "values": cube,
            "x": np.arange(4.0),
            "y": np.arange(3.0),
            "z": np.array([0.5, 1.5]),
        },
        attrs={"clim": [0.0, 23.0], "log": False, "slice_dim": "tof"},
    )


def named_frame(kind: FrameKind, names: list[str], **attrs: Any) -> Frame:
    return Frame(
        kind=kind,
        arrays={"names": np.array(names), "values": np.arange(len(names), dtype=np.float64)},
        attrs=attrs,
    )


# --- image ------------------------------------------------------------------


def test_image_data_holds_the_frame_values_themselves() -> None:
    frame = image_frame()
    prepared = prepare(frame)
    assert prepared.data["image"][0] is frame.arrays["values"]


def test_image_is_placed_at_its_edges() -> None:
    data = prepare(image_frame()).data
    assert (data["x"], data["y"], data["dw"], data["dh"]) == ([0.0], [0.0], [4.0], [6.0])


def test_image_with_descending_y_edges_is_flipped_to_ascending_once() -> None:
    frame = image_frame(y_edges=[6, 0])
    data = prepare(frame).data
    assert (data["y"], data["dh"]) == ([0.0], [6.0])
    np.testing.assert_array_equal(data["image"][0], frame.arrays["values"][::-1])
    assert data["image"][0].flags.c_contiguous


def test_image_colour_limits_come_from_the_frame() -> None:
    assert prepare(image_frame(clim=[2, 7])).clim == (2.0, 7.0)


def test_image_without_colour_limits_gets_the_finite_data_range() -> None:
    frame = image_frame()
    attrs = {k: v for k, v in frame.attrs.items() if k != "clim"}
    prepared = prepare(Frame(kind=frame.kind, arrays=frame.arrays, attrs=attrs))
    assert prepared.clim == (1.0, 12.0)


def test_log_image_lower_colour_limit_is_raised_to_the_smallest_positive_value() -> None:
    assert prepare(image_frame(log=True, clim=[0, 12])).clim == (1.0, 12.0)


def test_image_labels_carry_their_units() -> None:
    prepared = prepare(image_frame())
    assert (prepared.x_label, prepared.y_label, prepared.value_label) == (
        "x position [mm]",
        "y position [mm]",
        "counts",
    )


def test_decoded_read_only_image_is_used_without_copy() -> None:
    frame = decode_frame(encode_frame(image_frame()))
    assert not frame.arrays["values"].flags.writeable
    assert prepare(frame).data["image"][0] is frame.arrays["values"]


# --- slicer -----------------------------------------------------------------


def test_slicer_slices_are_views_of_the_cube() -> None:
    frame = slicer_frame()
    prepared = prepare(frame)
    cube = frame.arrays["values"]
    assert len(prepared.slices) == 2
    for index, data in enumerate(prepared.slices):
        assert np.shares_memory(data["image"][0], cube)
        np.testing.assert_array_equal(data["image"][0], cube[index])


def test_slicer_default_data_is_the_first_slice() -> None:
    prepared = prepare(slicer_frame())
    assert prepared.data is prepared.slices[0]


def test_slicer_names_each_slice_by_its_coordinate() -> None:
    prepared = prepare(slicer_frame())
    assert prepared.slice_label == "time of flight"
    assert prepared.slice_values == ("0.5 ms", "1.5 ms")


def test_slicer_keeps_global_colour_limits() -> None:
    assert prepare(slicer_frame()).clim == (0.0, 23.0)


# --- lines and time series --------------------------------------------------


def test_lines_data_holds_the_frame_arrays_themselves() -> None:
    frame = lines_frame()
    data = prepare(frame).data
    assert data["x"] is frame.arrays["x"]
    assert data["y"] is frame.arrays["values"]


def test_log_lines_show_non_positive_values_as_gaps() -> None:
    frame = lines_frame([2.0, 0.0, -1.0, 3.0], log=True)
    data = prepare(frame).data
    np.testing.assert_array_equal(data["y"], [2.0, np.nan, np.nan, 3.0])
    assert frame.arrays["values"][1] == 0.0


def test_log_lines_with_only_positive_values_keep_the_frame_array() -> None:
    frame = lines_frame(log=True)
    assert prepare(frame).data["y"] is frame.arrays["values"]


def test_integer_arrays_become_float_once_so_bokeh_need_not_convert_per_session() -> None:
    frame = Frame(
        kind=FrameKind.LINES,
        arrays={"x": np.arange(3, dtype=np.int64), "values": np.ones(3)},
    )
    assert prepare(frame).data["x"].dtype == np.float64


def test_timeseries_times_become_milliseconds_since_the_epoch() -> None:
    time = np.array(["1970-01-01T00:00:01", "NaT"], dtype="datetime64[ns]")
    frame = Frame(
        kind=FrameKind.TIMESERIES,
        arrays={"time": time, "values": np.array([1.0, 2.0])},
    )
    data = prepare(frame).data
    np.testing.assert_array_equal(data["x"], [1000.0, np.nan])
    assert data["y"] is frame.arrays["values"]


# --- named values and overlays ----------------------------------------------


def test_bars_names_become_categories_in_order() -> None:
    prepared = prepare(named_frame(FrameKind.BARS, ["b", "a", "c"]))
    assert prepared.factors == ("b", "a", "c")
    assert prepared.data["x"] == ["b", "a", "c"]


def test_bars_with_repeated_names_are_rejected() -> None:
    with pytest.raises(FrameLayoutError, match="repeated names"):
        prepare(named_frame(FrameKind.BARS, ["a", "a"]))


def test_table_rows_are_name_value_and_unit() -> None:
    frame = named_frame(FrameKind.TABLE, ["T", "p"], units=["K", "bar"])
    data = prepare(frame).data
    assert data["name"] == ["T", "p"]
    assert data["value"] is frame.arrays["values"]
    assert data["unit"] == ["K", "bar"]


def test_rectangles_become_quad_edges_without_copy() -> None:
    arrays = {name: np.array([float(i)]) for i, name in enumerate(("x0", "y0", "x1", "y1"))}
    data = prepare(Frame(kind=FrameKind.RECTANGLES, arrays=arrays)).data
    assert data["left"] is arrays["x0"]
    assert data["bottom"] is arrays["y0"]
    assert data["right"] is arrays["x1"]
    assert data["top"] is arrays["y1"]


@pytest.mark.parametrize(("kind", "array", "column"), [("vlines", "x", "x"), ("hlines", "y", "y")])
def test_lines_overlays_hold_their_positions_without_copy(
    kind: str, array: str, column: str
) -> None:
    positions = np.array([1.0, 2.0])
    data = prepare(Frame(kind=FrameKind(kind), arrays={array: positions})).data
    assert data[column] is positions


@pytest.mark.parametrize("kind", list(FrameKind))
def test_empty_data_has_the_columns_of_prepared_data(kind: FrameKind) -> None:
    frames = {
        FrameKind.IMAGE: image_frame(),
        FrameKind.SLICER: slicer_frame(),
        FrameKind.LINES: lines_frame(),
        FrameKind.TIMESERIES: Frame(
            kind=FrameKind.TIMESERIES,
            arrays={"time": np.array([0], dtype="datetime64[ns]"), "values": np.ones(1)},
        ),
        FrameKind.BARS: named_frame(FrameKind.BARS, ["a"]),
        FrameKind.TABLE: named_frame(FrameKind.TABLE, ["a"]),
        FrameKind.RECTANGLES: Frame(
            kind=FrameKind.RECTANGLES, arrays={n: np.ones(1) for n in ("x0", "y0", "x1", "y1")}
        ),
        FrameKind.VLINES: Frame(kind=FrameKind.VLINES, arrays={"x": np.ones(1)}),
        FrameKind.HLINES: Frame(kind=FrameKind.HLINES, arrays={"y": np.ones(1)}),
        FrameKind.OVERLAY_1D: Frame(
            kind=FrameKind.OVERLAY_1D,
            arrays={"x": np.ones(2), "values": np.ones((1, 2)), "names": np.array(["a"])},
            attrs={"colours": ["#000000"]},
        ),
        FrameKind.FLATTEN: replace(
            image_frame(),
            kind=FrameKind.FLATTEN,
            arrays={
                **image_frame().arrays,
                "x_labels": np.array(["x"] * image_frame().arrays["x"].size),
                "y_labels": np.array(["y"] * image_frame().arrays["y"].size),
            },
        ),
        FrameKind.CORRELATION_1D: replace(lines_frame(), kind=FrameKind.CORRELATION_1D),
        FrameKind.CORRELATION_2D: replace(image_frame(), kind=FrameKind.CORRELATION_2D),
    }
    assert set(empty_data(kind)) == set(prepare(frames[kind]).data)


# --- malformed frames ---------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (Frame(kind=FrameKind.IMAGE, arrays={"x": np.ones(2)}), "needs an array 'values'"),
        (
            Frame(kind=FrameKind.IMAGE, arrays={"values": np.ones(3), "x": np.ones(3)}),
            "should have 2 dimension",
        ),
        (
            Frame(
                kind=FrameKind.IMAGE,
                arrays={"values": np.ones((2, 3)), "x": np.ones(2), "y": np.ones(2)},
            ),
            "'x' has 2 entries, expected 3",
        ),
        (
            Frame(kind=FrameKind.LINES, arrays={"values": np.ones(2), "x": np.array(["a", "b"])}),
            "unusable dtype",
        ),
        (
            Frame(kind=FrameKind.TIMESERIES, arrays={"time": np.ones(2), "values": np.ones(2)}),
            "'time' has unusable dtype",
        ),
        (image_frame(clim="low"), "'clim' should be two numbers"),
        (image_frame(clim=[0, np.inf]), "'clim' is not finite"),
        (image_frame(log="yes"), "'log' should be true or false"),
        (image_frame(x_edges=[1, 1]), "'x_edges' spans nothing"),
        (named_frame(FrameKind.TABLE, ["a", "b"], units=["K"]), "'units' should be a list of 2"),
    ],
)
def test_malformed_frame_raises_a_value_error_that_says_what_is_wrong(
    frame: Frame, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        prepare(frame)


def test_slicer_without_slices_is_rejected() -> None:
    frame = Frame(
        kind=FrameKind.SLICER,
        arrays={
            "values": np.ones((0, 2, 2)),
            "x": np.ones(2),
            "y": np.ones(2),
            "z": np.ones(0),
        },
    )
    with pytest.raises(FrameLayoutError, match="no slices"):
        prepare(frame)


def test_prepare_imports_no_panel_bokeh_or_holoviews() -> None:
    code = (
        "import sys, app.prepare; "
        "print(sorted(m for m in ('panel', 'bokeh', 'holoviews') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- carrying unchanged columns over ----------------------------------------------


def test_equal_columns_keep_the_previous_frames_objects() -> None:
    previous = prepare(lines_frame([1, 2, 3, 4]))
    carried = carry_unchanged(prepare(lines_frame([5, 6, 7, 8])), previous)
    assert carried.data["x"] is previous.data["x"]
    assert carried.data["y"] is not previous.data["y"]
    assert carried.data["y"].tolist() == [5, 6, 7, 8]


def test_an_image_with_new_values_keeps_its_extent_columns() -> None:
    previous = prepare(image_frame())
    newer = image_frame()
    newer.arrays["values"] = newer.arrays["values"] * 2
    carried = carry_unchanged(prepare(newer), previous)
    for column in ("x", "y", "dw", "dh"):
        assert carried.data[column] is previous.data[column]
    assert carried.data["image"] is not previous.data["image"]


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0]),
        ([1.0, 2.0, np.nan], [1.0, 2.0, np.nan]),
        ([1.0, 2.0, 3.0], np.array([1, 2, 3], dtype=np.float32)),
    ],
    ids=["other length", "nan", "other dtype"],
)
def test_columns_that_differ_in_shape_dtype_or_nan_are_not_carried(before: Any, after: Any) -> None:
    previous = prepare(lines_frame(before))
    frame = lines_frame([0.0] * len(after))
    frame.arrays["values"] = np.asarray(after)
    carried = carry_unchanged(prepare(frame), previous)
    assert carried.data["y"] is not previous.data["y"]
    assert carried.data["y"] is frame.arrays["values"]


def test_nothing_is_carried_from_another_kind_or_into_a_slicer() -> None:
    lines = prepare(lines_frame())
    image = prepare(image_frame())
    assert carry_unchanged(image, lines) is image
    cube = prepare(slicer_frame())
    assert carry_unchanged(cube, prepare(slicer_frame())) is cube
    assert carry_unchanged(lines, None) is lines
