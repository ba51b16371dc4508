"""Turning a layer's stored frame into a :class:`LayerView`, once per replica.

Pure functions over bytes and config: no Redis, no Panel. The feed calls them
for every new ``frame_seq`` of a layer shown on this replica, and for every
static overlay when it enters the workspace (docs/adr/0002).
"""

from __future__ import annotations

import time

from app.prepare import FrameLayoutError, carry_unchanged, prepare
from app.view import LayerView
from livegrid.codec import FrameDecodeError, decode_frame
from livegrid.lifecycle import LayerState, Lifecycle
from livegrid.models import Layer
from livegrid.overlays import compute_overlay
from livegrid.stores.layers import LayerSnapshot


def view_of_frame(
    snapshot: LayerSnapshot, raw: bytes | None, previous: LayerView | None = None
) -> LayerView:
    """Decode and prepare a stored frame; a broken frame becomes the layer's error.

    Columns equal to those of ``previous`` (the layer's view so far) keep its
    objects, so sessions do not send them again (:func:`carry_unchanged`).
    """
    if raw is None:
        return LayerView(snapshot)
    try:
        prepared = carry_unchanged(
            prepare(decode_frame(raw)), previous.prepared if previous else None
        )
    except (FrameDecodeError, FrameLayoutError) as exc:
        return LayerView(
            snapshot,
            problem=f"This replica cannot show frame {snapshot.frame_seq}: {exc}",
            frame_seq=snapshot.frame_seq,
        )
    return LayerView(snapshot, prepared, frame_seq=snapshot.frame_seq)


def view_of_overlay(layer: Layer) -> LayerView:
    """A static overlay, drawn from its params; always READY unless the params are wrong."""
    snapshot = LayerSnapshot(layer.id, Lifecycle(LayerState.READY, 1), frame_seq=1)
    try:
        frame = compute_overlay(layer.plotter, layer.params, time.time_ns(), title=layer.title)
        prepared = prepare(frame)
    except (ValueError, FrameLayoutError) as exc:
        return LayerView(snapshot, problem=f"The overlay cannot be drawn: {exc}", frame_seq=1)
    return LayerView(snapshot, prepared, frame_seq=1)


def waiting(layer_id: str) -> LayerView:
    """A layer this replica has no state of yet: waiting for its job (docs/adr/0003)."""
    return LayerView(LayerSnapshot(layer_id, Lifecycle(LayerState.WAITING_FOR_JOB, 0)))
