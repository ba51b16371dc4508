"""ROI masks and per-ROI reductions: pure numpy over pixel centres, no I/O.

A pixel belongs to an ROI when its centre lies inside the ROI or on its edge, so
two rectangles that share an edge both take the pixels on it, and an ROI thinner
than a pixel takes the pixels whose centres it crosses. An ROI outside the image,
or one that holds no pixel centre, has an empty mask: its spectrum is all zeros.

Shapes: a detector panel is ``(ny, nx)`` with centres ``y`` (ny) and ``x`` (nx);
a detector x time-of-flight cube is ``(ny, nx, ntof)``. NaN pixels add nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from livegrid.models import PolygonROI, RectangleROI

AnyROI = RectangleROI | PolygonROI


def rectangle_mask(roi: RectangleROI, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(ny, nx)`` bool: pixel centres within the rectangle, edges included."""
    inside_x = (x >= roi.x0) & (x <= roi.x1)
    inside_y = (y >= roi.y0) & (y <= roi.y1)
    return np.outer(inside_y, inside_x)


def polygon_mask(roi: PolygonROI, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(ny, nx)`` bool: pixel centres inside the polygon (even-odd rule) or on an edge.

    Only the polygon's bounding box is tested point by point, so a small polygon on
    a large panel costs little.
    """
    vx, vy = np.asarray(roi.x, dtype=np.float64), np.asarray(roi.y, dtype=np.float64)
    mask = np.zeros((y.size, x.size), dtype=bool)
    cols = np.flatnonzero((x >= vx.min()) & (x <= vx.max()))
    rows = np.flatnonzero((y >= vy.min()) & (y <= vy.max()))
    if cols.size == 0 or rows.size == 0:
        return mask
    px, py = np.meshgrid(x[cols], y[rows])
    inside = np.zeros(px.shape, dtype=bool)
    on_edge = np.zeros(px.shape, dtype=bool)
    for ax, ay, bx, by in zip(vx, vy, np.roll(vx, -1), np.roll(vy, -1), strict=True):
        crosses = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            at_x = ax + (py - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (px < at_x)
        cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
        scale = max(abs(bx - ax), abs(by - ay), 1.0)
        within = (
            (px >= min(ax, bx)) & (px <= max(ax, bx)) & (py >= min(ay, by)) & (py <= max(ay, by))
        )
        on_edge |= within & (np.abs(cross) <= 1e-12 * scale * scale)
    mask[np.ix_(rows, cols)] = inside | on_edge
    return mask


def roi_mask(roi: AnyROI, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(ny, nx)`` bool mask of ``roi`` over pixel centres ``x`` and ``y``."""
    if isinstance(roi, RectangleROI):
        return rectangle_mask(roi, np.asarray(x), np.asarray(y))
    return polygon_mask(roi, np.asarray(x), np.asarray(y))


def roi_masks(rois: Sequence[AnyROI], x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``(n_roi, ny, nx)`` bool: one mask per ROI, in order."""
    masks = np.zeros((len(rois), np.size(y), np.size(x)), dtype=bool)
    for i, roi in enumerate(rois):
        masks[i] = roi_mask(roi, x, y)
    return masks


def _without_nan(values: np.ndarray) -> np.ndarray:
    nan = np.isnan(values)
    return np.where(nan, 0.0, values) if nan.any() else values


def roi_spectra(cube: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``(n_roi, ntof)``: for each ROI, the sum over its pixels per tof bin.

    ``cube`` is ``(ny, nx, ntof)``, ``masks`` ``(n_roi, ny, nx)``. Only the pixels of
    some ROI are read (gathered once), then one matrix product serves all ROIs.
    """
    ny, nx, ntof = cube.shape
    if masks.shape[1:] != (ny, nx):
        raise ValueError(f"masks of shape {masks.shape[1:]} do not fit a cube of {ny}x{nx} pixels")
    flat_masks = masks.reshape(masks.shape[0], ny * nx)
    used = flat_masks.any(axis=0)
    pixels = np.asarray(cube, dtype=np.float64).reshape(ny * nx, ntof)[used]
    weights = flat_masks[:, used].astype(np.float64)
    result: np.ndarray = weights @ _without_nan(pixels)
    return result


def roi_counts(panel: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """``(n_roi,)``: the sum of a 2-D ``panel`` over each ROI's pixels."""
    ny, nx = panel.shape
    if masks.shape[1:] != (ny, nx):
        raise ValueError(f"masks of shape {masks.shape[1:]} do not fit a {ny}x{nx} panel")
    values = _without_nan(np.asarray(panel, dtype=np.float64)).reshape(-1)
    result: np.ndarray = masks.reshape(masks.shape[0], -1).astype(np.float64) @ values
    return result
