"""Correlation histograms: the 1-D one is drawn as a curve, the 2-D one as an image."""

from __future__ import annotations

from typing import ClassVar

from app.presenters.image import ImageLayer
from app.presenters.lines import LinesLayer
from livegrid.codec import FrameKind


class Correlation1DLayer(LinesLayer):
    """Summed data per bin of another series, over the bins' centres."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.CORRELATION_1D})


class Correlation2DLayer(ImageLayer):
    """Summed data per bin of two other series, as a colour map."""

    kinds: ClassVar[frozenset[FrameKind]] = frozenset({FrameKind.CORRELATION_2D})
