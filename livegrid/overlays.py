"""Static overlays: frames computed from their params alone, no data.

Workers and replicas both build them (a replica can draw a static layer without
waiting for a worker), so they live in the shared contract.

==========  ================================  ==========================
kind        params                            arrays (float64)
==========  ================================  ==========================
rectangles  ``rects: [[x0, y0, x1, y1], ...]``  ``x0``, ``y0``, ``x1``, ``y1``
vlines      ``x: [...]``                      ``x``
hlines      ``y: [...]``                      ``y``
==========  ================================  ==========================

Every number must be finite, and a layer holds at most ``MAX_SHAPES`` shapes.
Other params (``color``, ...) are display settings for the presenter, passed over here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from livegrid.codec import Frame, FrameKind

MAX_SHAPES = 1000


class _OverlayParams(BaseModel):
    # Other keys (``color``, ...) are display settings for the presenter.
    model_config = ConfigDict(extra="ignore", strict=True, frozen=True, allow_inf_nan=False)


Rect = Annotated[list[float], Field(min_length=4, max_length=4)]


class RectanglesParams(_OverlayParams):
    rects: list[Rect] = Field(
        default_factory=list, max_length=MAX_SHAPES, description="[x0, y0, x1, y1] corners."
    )


class VLinesParams(_OverlayParams):
    x: list[float] = Field(
        default_factory=list, max_length=MAX_SHAPES, description="x of each vertical line."
    )


class HLinesParams(_OverlayParams):
    y: list[float] = Field(
        default_factory=list, max_length=MAX_SHAPES, description="y of each horizontal line."
    )


OVERLAY_PARAMS: dict[FrameKind, type[_OverlayParams]] = {
    FrameKind.RECTANGLES: RectanglesParams,
    FrameKind.VLINES: VLinesParams,
    FrameKind.HLINES: HLinesParams,
}

STATIC_KINDS: frozenset[FrameKind] = frozenset(OVERLAY_PARAMS)


def _parse(kind: FrameKind, params: Mapping[str, Any]) -> _OverlayParams:
    try:
        return OVERLAY_PARAMS[kind].model_validate(dict(params))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'params'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(f"The {kind.value} overlay has invalid parameters ({problems}).") from exc


def _arrays(parsed: _OverlayParams) -> dict[str, np.ndarray]:
    if isinstance(parsed, RectanglesParams):
        corners = np.array(parsed.rects, dtype=np.float64).reshape(-1, 4)
        return {
            name: np.ascontiguousarray(corners[:, i])
            for i, name in enumerate(("x0", "y0", "x1", "y1"))
        }
    if isinstance(parsed, VLinesParams):
        return {"x": np.array(parsed.x, dtype=np.float64)}
    assert isinstance(parsed, HLinesParams)
    return {"y": np.array(parsed.y, dtype=np.float64)}


def compute_overlay(kind: str, params: Mapping[str, Any], now_ns: int, *, title: str = "") -> Frame:
    """The frame of a static overlay; ``ValueError`` with a readable message for bad input."""
    try:
        frame_kind = FrameKind(kind)
    except ValueError:
        frame_kind = None
    if frame_kind not in STATIC_KINDS:
        names = ", ".join(sorted(k.value for k in STATIC_KINDS))
        raise ValueError(f"There is no static overlay {kind!r}; choose one of {names}.")
    assert frame_kind is not None
    return Frame(
        kind=frame_kind,
        title=title,
        arrays=_arrays(_parse(frame_kind, params)),
        computed_at=now_ns,
    )
