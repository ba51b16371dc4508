"""One layer in one session's plot: a HoloViews element built once, then direct Bokeh updates.

HoloViews builds the layer's glyph, styling and tools once per session, from a
small structural stand-in for the data. A hook captures the Bokeh models the
plot made (source, renderer, colour mapper, axes) when the plot is rendered into
the session's document, and assigns the layer's data at once. From then on every
frame is a data-only update of the captured source: only the columns whose
object differs from the ones last shown are sent (``source.data.update``; the
feed reuses a column's object when its values did not change, see
``app.prepare.carry_unchanged``), so a spectrum's fixed x axis or an image's
extent is not re-sent with every frame. Scalar properties change only when
their value changed. No HoloViews call, no array copy, no new Bokeh model.

All methods run on the owning session's IOLoop.
"""

from __future__ import annotations

import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import holoviews as hv
import holoviews.plotting.bokeh  # registers the Bokeh backend, needed by .opts(backend=...)
from panel.viewable import Viewable

from app.prepare import ColumnData, Prepared, empty_data
from app.presenters.plan import LayerSpec
from livegrid.codec import FrameKind

#: ``plot.handles`` a layer keeps: the Bokeh models its updates touch.
CAPTURED_HANDLES = (
    "source",
    "glyph_renderer",
    "color_mapper",
    "colorbar",
    "plot",
    "xaxis",
    "yaxis",
    "table",
    "hover",
)

Hook = Callable[[Any, Any], None]


def weak_hook(method: Hook) -> Hook:
    """A HoloViews hook that calls the bound ``method`` without keeping its object alive.

    HoloViews keeps element options, hooks included, in a process-wide store
    until the element is collected. A hook holding its presenter, which holds
    the element, would keep both and all their Bokeh models alive forever.
    """
    ref = weakref.WeakMethod(method)

    def hook(plot: Any, element: Any) -> None:
        target = ref()
        if target is not None:
            target(plot, element)

    return hook


def check_kind(spec: LayerSpec, prepared: Prepared) -> None:
    """Raise ``ValueError`` for a frame of another kind than its layer's."""
    if prepared.kind != spec.kind:
        raise ValueError(
            f"layer {spec.layer_id!r} is configured as {spec.kind} but its frame is "
            f"{prepared.kind}; remove the layer and add it again"
        )


def colour_opts(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``color`` option from a layer's ``params``, if it sets one."""
    colour = params.get("color")
    return {"color": colour} if colour else {}


def aspect_opts(params: Mapping[str, Any]) -> dict[str, Any]:
    """HoloViews plot options for the layer's ``aspect`` param: free, square or equal."""
    aspect = params.get("aspect", "free")
    if aspect == "square":
        return {"aspect": "square"}
    if aspect == "equal":
        return {"data_aspect": 1}
    return {}


def dimension(name: str, label: str) -> hv.Dimension:
    """A HoloViews dimension whose ``name`` is the Bokeh column it becomes."""
    return hv.Dimension(name, label=label or name)


class LayerPresenter(ABC):
    """Presents one layer of one cell in one session.

    ``base`` is true for the layer that decides its plot's axes and scales;
    only the base layer updates axis labels.
    """

    kinds: ClassVar[frozenset[FrameKind]] = frozenset()
    #: The data dict the source shows, to send only the columns that change.
    _shown_data: ColumnData | None

    def __init__(self, spec: LayerSpec, prepared: Prepared | None, *, base: bool) -> None:
        if prepared is not None:
            check_kind(spec, prepared)
        self.spec = spec
        self.is_base = base
        self.handles: dict[str, Any] = {}
        self._latest = prepared
        self._built_log = prepared.log if prepared is not None else bool(spec.params.get("log"))
        self._forget_shown()

    # --- building (once) -----------------------------------------------------

    def element(self) -> hv.Element:
        """The layer's HoloViews element, with the hook that captures its Bokeh models."""
        return self._element(self._latest).opts(hooks=[weak_hook(self._capture)], backend="bokeh")

    def figure_opts(self) -> dict[str, Any]:
        """HoloViews plot options this layer sets on its whole plot when it is the base."""
        return aspect_opts(self.spec.params)

    def decorate(self, figure: Any) -> None:
        """Add what the layer needs on its plot's Bokeh figure once it is built (a legend)."""
        return

    def widgets(self) -> list[Viewable]:
        """Per-session controls shown above the plot."""
        return []

    @abstractmethod
    def _element(self, prepared: Prepared | None) -> hv.Element:
        """The kind's HoloViews element for ``prepared`` (a stand-in when None)."""

    def _capture(self, plot: Any, element: Any) -> None:
        self.handles = {
            name: plot.handles[name] for name in CAPTURED_HANDLES if name in plot.handles
        }
        self._forget_shown()
        self._apply(self._latest)

    # --- updating (per frame) ------------------------------------------------

    @property
    def rendered(self) -> bool:
        """Whether the plot is in a document and its Bokeh models are captured."""
        return "source" in self.handles

    @property
    def renderer(self) -> Any:
        """The layer's Bokeh glyph renderer, once rendered."""
        return self.handles.get("glyph_renderer")

    @property
    def latest(self) -> Prepared | None:
        """The frame this layer shows (or will show once rendered)."""
        return self._latest

    def needs_rebuild(self, prepared: Prepared) -> bool:
        """Whether showing ``prepared`` needs new Bokeh models (a rebuild), not just data."""
        check_kind(self.spec, prepared)
        return False

    def update(self, prepared: Prepared) -> bool:
        """Show ``prepared``; False if the plot is not rendered yet (it shows it when it is)."""
        check_kind(self.spec, prepared)
        self._latest = prepared
        if not self.rendered:
            return False
        self._apply(prepared)
        return True

    def clear(self) -> bool:
        """Show no data for this layer; False if the plot is not rendered yet."""
        self._latest = None
        if not self.rendered:
            return False
        self._apply(None)
        return True

    def dispose(self) -> None:
        """Drop the Bokeh models and the frame; the presenter shows nothing afterwards."""
        self.handles = {}
        self._latest = None

    def _apply(self, prepared: Prepared | None) -> None:
        self._show(self._data(prepared))
        if prepared is not None and self.is_base:
            self._show_labels(prepared.x_label, prepared.y_label)

    def _data(self, prepared: Prepared | None) -> ColumnData:
        return prepared.data if prepared is not None else empty_data(self.spec.kind)

    def _show(self, data: ColumnData) -> None:
        """Put ``data`` in the source, sending only the columns whose object changed.

        ``source.data.update`` makes Bokeh send a ``ColumnDataChanged`` patch
        with just those columns; BokehJS keeps the others.
        """
        source = self.handles["source"]
        shown = self._shown_data
        if shown is not None and shown.keys() == data.keys():
            changed = {name: column for name, column in data.items() if column is not shown[name]}
            if changed:
                source.data.update(changed)
        else:
            source.data = data
        self._shown_data = data

    def _forget_shown(self) -> None:
        """Forget what the Bokeh models show: the captured models are new."""
        self._shown_labels: tuple[str, str] | None = None
        self._shown_data = None

    def _show_labels(self, x_label: str, y_label: str) -> None:
        if (x_label, y_label) == self._shown_labels:
            return
        self._shown_labels = (x_label, y_label)
        if "xaxis" in self.handles:
            self.handles["xaxis"].axis_label = x_label
        if "yaxis" in self.handles:
            self.handles["yaxis"].axis_label = y_label
