"""ROI masks, per-ROI reductions and the ROI model on a layer."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from livegrid.models import Layer, PolygonROI, RectangleROI, Workspace
from worker.roi import roi_counts, roi_mask, roi_masks, roi_spectra

X = np.arange(6.0)  # pixel centres 0..5
Y = np.arange(4.0)  # pixel centres 0..3


def rect(x0: float, x1: float, y0: float, y1: float) -> RectangleROI:
    return RectangleROI(x0=x0, x1=x1, y0=y0, y1=y1)


def test_rectangle_takes_the_pixels_whose_centres_it_covers() -> None:
    mask = roi_mask(rect(0.6, 3.4, 0.6, 2.4), X, Y)
    assert mask.shape == (4, 6)
    assert np.argwhere(mask).tolist() == [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]


def test_rectangle_includes_pixels_on_its_edge() -> None:
    mask = roi_mask(rect(1.0, 2.0, 1.0, 1.0), X, Y)
    assert np.argwhere(mask).tolist() == [[1, 1], [1, 2]]


def test_rectangle_outside_the_image_is_empty() -> None:
    assert not roi_mask(rect(10, 20, 10, 20), X, Y).any()
    assert not roi_mask(rect(-5, -1, 0, 3), X, Y).any()


def test_rectangle_partly_outside_takes_only_the_pixels_inside() -> None:
    assert roi_mask(rect(4.5, 100, -100, 100), X, Y).sum() == 4  # column 5, all rows


def test_rectangle_between_pixel_centres_is_empty() -> None:
    assert not roi_mask(rect(1.2, 1.8, 0.0, 3.0), X, Y).any()


def test_polygon_takes_the_pixels_inside_it() -> None:
    triangle = PolygonROI(x=[0, 4, 0], y=[0, 0, 3])  # hypotenuse x = 4 - 4y/3
    mask = roi_mask(triangle, X, Y)
    assert mask.sum(axis=1).tolist() == [5, 3, 2, 1]


def test_polygon_includes_pixels_on_its_edges_and_vertices() -> None:
    square = PolygonROI(x=[1, 3, 3, 1], y=[1, 1, 2, 2])
    mask = roi_mask(square, X, Y)
    assert np.argwhere(mask).tolist() == [[1, 1], [1, 2], [1, 3], [2, 1], [2, 2], [2, 3]]


def test_concave_polygon_leaves_its_notch_out() -> None:
    # A U shape: columns 0 and 4 up to y=3, joined at the bottom row.
    u_shape = PolygonROI(x=[0, 4, 4, 3.5, 3.5, 0.5, 0.5, 0], y=[0, 0, 3, 3, 0.5, 0.5, 3, 3])
    mask = roi_mask(u_shape, X, Y)
    assert mask[0, :5].all()
    assert mask[2, 0] and mask[2, 4]
    assert not mask[2, 1:4].any()


def test_polygon_outside_the_image_is_empty() -> None:
    assert not roi_mask(PolygonROI(x=[10, 12, 11], y=[10, 10, 12]), X, Y).any()


def test_degenerate_polygon_takes_only_the_pixels_on_its_line() -> None:
    line = PolygonROI(x=[0, 2, 1], y=[0, 0, 0])
    assert np.argwhere(roi_mask(line, X, Y)).tolist() == [[0, 0], [0, 1], [0, 2]]


def test_masks_stack_one_per_roi_and_none_for_an_empty_set() -> None:
    assert roi_masks([rect(0, 1, 0, 1), rect(4, 5, 2, 3)], X, Y).shape == (2, 4, 6)
    assert roi_masks([], X, Y).shape == (0, 4, 6)


def test_spectra_sum_each_rois_pixels_per_tof_bin() -> None:
    rng = np.random.default_rng(1)
    cube = rng.random((4, 6, 7))
    rois = [rect(0, 1, 0, 1), PolygonROI(x=[2, 5, 5], y=[0, 0, 3]), rect(10, 11, 10, 11)]
    masks = roi_masks(rois, X, Y)
    spectra = roi_spectra(cube, masks)
    assert spectra.shape == (3, 7)
    for i in range(3):
        np.testing.assert_allclose(spectra[i], cube[masks[i]].sum(axis=0))
    assert not spectra[2].any()  # the ROI outside the image


def test_spectra_of_no_rois_are_empty() -> None:
    assert roi_spectra(np.ones((4, 6, 3)), roi_masks([], X, Y)).shape == (0, 3)


def test_nan_pixels_add_nothing_and_do_not_spread_to_other_rois() -> None:
    cube = np.ones((4, 6, 2))
    cube[0, 0, 0] = np.nan
    spectra = roi_spectra(cube, roi_masks([rect(0, 1, 0, 1), rect(4, 5, 2, 3)], X, Y))
    assert spectra.tolist() == [[3.0, 4.0], [4.0, 4.0]]


def test_counts_sum_a_panel_over_each_roi() -> None:
    panel = np.arange(24.0).reshape(4, 6)
    counts = roi_counts(panel, roi_masks([rect(0, 1, 0, 0), rect(5, 5, 3, 3)], X, Y))
    assert counts.tolist() == [1.0, 23.0]


def test_masks_of_another_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        roi_spectra(np.ones((3, 3, 2)), roi_masks([rect(0, 1, 0, 1)], X, Y))


# --- the model ---


def image_layer(**fields: object) -> Layer:
    return Layer(job="det", output="cumulative", plotter="image", **fields)  # type: ignore[arg-type]


def test_a_layer_holds_rectangles_and_polygons_through_json() -> None:
    layer = image_layer().with_rois([rect(0, 1, 0, 1), PolygonROI(x=[0, 1, 1], y=[0, 0, 1])])
    back = Layer.from_json(layer.to_json())
    assert back == layer
    assert [roi.kind for roi in back.rois] == ["rectangle", "polygon"]


def test_with_rois_keeps_the_layer_id() -> None:
    layer = image_layer()
    assert layer.with_rois([rect(0, 1, 0, 1)]).id == layer.id


def test_more_rois_than_the_layer_allows_are_refused_with_a_sentence() -> None:
    layer = image_layer(max_rois=2)
    with pytest.raises(ValidationError, match=r"allows at most 2 ROIs, and 3 were drawn"):
        layer.with_rois([rect(0, 1, 0, 1)] * 3)


def test_the_roi_limit_is_checked_in_a_loaded_workspace_too() -> None:
    layer = image_layer(max_rois=1)
    data = {
        "grids": [
            {
                "id": "g",
                "rows": 1,
                "cols": 1,
                "cells": [
                    {
                        "row": 0,
                        "col": 0,
                        "layers": [
                            {
                                **layer.model_dump(mode="json"),
                                "rois": [rect(0, 1, 0, 1).model_dump()] * 2,
                            }
                        ],
                    }
                ],
            }
        ]
    }
    with pytest.raises(ValidationError, match="allows at most 1 ROI, and 2 were drawn"):
        Workspace.model_validate(data)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: rect(2, 1, 0, 1), "x0 <= x1 and y0 <= y1"),
        (lambda: PolygonROI(x=[0, 1, 2], y=[0, 1]), "at least 3 items"),
        (lambda: PolygonROI(x=[0, 1, 2, 3], y=[0, 1, 2]), "one y per x"),
        (lambda: rect(0, float("inf"), 0, 1), "finite number"),
    ],
)
def test_malformed_rois_are_refused_with_a_sentence(make: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make()  # type: ignore[operator]


def test_static_overlays_take_no_inputs() -> None:
    with pytest.raises(ValidationError, match="takes no inputs"):
        Layer(plotter="hlines", params={"y": [1]}, inputs=["history"])  # type: ignore[arg-type]
