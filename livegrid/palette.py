"""The fixed palette that keys colours by index: curve ``i`` of an overlay and ROI ``i``.

Shared by the worker (overlay_1d frames name each curve's colour) and replicas
(an ROI outline drawn in the same colour as its spectrum). Bokeh's Category10.
"""

from __future__ import annotations

PALETTE: tuple[str, ...] = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def colour_of(index: int) -> str:
    """The colour of item ``index`` (ROI or curve); repeats after ``len(PALETTE)``."""
    if index < 0:
        raise ValueError(f"a colour index is at least 0, not {index}")
    return PALETTE[index % len(PALETTE)]
