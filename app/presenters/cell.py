"""A grid cell in one session: a header (title, a state badge per layer, freshness) and a body.

The body is a placeholder message until any layer has a frame, then the cell's
:class:`CellPresenter`. Header updates are cheap: each HTML pane's ``object``
is assigned only when its text changed.

Stable hooks for browser tests: the outer container has the CSS classes
``lg-cell`` and ``lg-cell-<row>-<col>``; inside the header,
``data-testid="cell-<row>-<col>"``, each badge
``data-testid="layer-state-<layer_id>"`` with ``data-state="<state>"``, and
the freshness text ``data-testid="freshness-<row>-<col>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import panel as pn

from app.html import escape_text
from app.prepare import Prepared, is_overlay
from app.presenters.base import check_kind
from app.presenters.plan import LayerSpec
from app.presenters.plot import CellPresenter
from livegrid.lifecycle import LayerState

_STATE_TEXT = {
    LayerState.WAITING_FOR_JOB: "waiting for job",
    LayerState.WAITING_FOR_DATA: "waiting for data",
    LayerState.READY: "ready",
    LayerState.STOPPED: "stopped",
    LayerState.ERROR: "error",
}

_PLACEHOLDER_TEXT = {
    LayerState.WAITING_FOR_JOB: "Waiting for the job to start.",
    LayerState.WAITING_FOR_DATA: "Waiting for the first data.",
    LayerState.READY: "Waiting for the first data.",
    LayerState.STOPPED: "The job stopped before any data arrived.",
    LayerState.ERROR: "No data: the layer failed (see its badge).",
}

#: Longest error message shown in a badge; the full text is the badge's tooltip.
_BADGE_MESSAGE_CHARS = 120

_HEADER_CSS = """
.lg-cell-header { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.lg-cell-title { font-weight: 600; }
.lg-badge { border-radius: 8px; padding: 0 6px; font-size: 0.8em; background: #e9ecef; }
.lg-badge[data-state="ready"] { background: #d3f9d8; }
.lg-badge[data-state="stopped"] { background: #fff3bf; }
.lg-badge[data-state="error"] { background: #ffe3e3; color: #c92a2a; }
.lg-freshness { font-size: 0.8em; color: #666; }
"""

_BODY_CSS = ":host(.lg-stale) { opacity: 0.55; }"


def state_text(state: LayerState, error: str | None = None) -> str:
    """The badge text of a layer state: "waiting for job", ..., "error: <message>"."""
    text = _STATE_TEXT[state]
    return f"{text}: {error}" if state is LayerState.ERROR and error else text


#: Data younger than this reads "data < 5 s old": a text that changed with every
#: second of a live plot's age would cost each session an update per cell per second.
FRESH_S = 5


def freshness_text(age_ns: int) -> str:
    """How old the shown data is: "data < 5 s old", then in the largest whole unit."""
    seconds = max(age_ns, 0) // 1_000_000_000
    if seconds < FRESH_S:
        return f"data < {FRESH_S} s old"
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"data {seconds // size} {unit} old"
    return f"data {seconds} s old"


class CellView:
    """One cell of one session's grid; ``panel`` goes into the grid.

    ``states`` are the layers' lifecycle states to start from; by default data
    layers wait for their job and static overlays are ready.
    """

    def __init__(
        self,
        row: int,
        col: int,
        title: str,
        layers: Sequence[LayerSpec],
        states: Mapping[str, LayerState] | None = None,
    ) -> None:
        if not layers:
            raise ValueError(f"cell {title!r} at ({row}, {col}) has no layers to show")
        self.row, self.col, self.title = row, col, title
        self._layers = {spec.layer_id: spec for spec in layers}
        initial = states or {}
        self._states: dict[str, tuple[LayerState, str | None]] = {
            spec.layer_id: (initial.get(spec.layer_id, _initial_state(spec)), None)
            for spec in layers
        }
        self._frames: dict[str, Prepared] = {}
        self._presenter: CellPresenter | None = None
        self._stale = False
        self._freshness_text = ""
        self._header = pn.pane.HTML(
            self._header_html(), stylesheets=[_HEADER_CSS], sizing_mode="stretch_width"
        )
        self._freshness = pn.pane.HTML("", stylesheets=[_HEADER_CSS], margin=(5, 10))
        self._placeholder = pn.pane.HTML(self._placeholder_html(), sizing_mode="stretch_width")
        self._body = pn.Column(
            self._placeholder,
            css_classes=["lg-cell-body"],
            stylesheets=[_BODY_CSS],
            sizing_mode="stretch_both",
        )
        self.panel = pn.Column(
            pn.Row(self._header, self._freshness, sizing_mode="stretch_width"),
            self._body,
            css_classes=["lg-cell", f"lg-cell-{row}-{col}"],
            sizing_mode="stretch_both",
        )
        self._set_stale(self._any_stopped())

    @property
    def presenter(self) -> CellPresenter | None:
        """The cell's plots, once any layer had a frame."""
        return self._presenter

    @property
    def layer_ids(self) -> tuple[str, ...]:
        return tuple(self._layers)

    @property
    def header_html(self) -> str:
        """The header as shown: title and state badges."""
        return str(self._header.object)

    @property
    def freshness(self) -> str:
        """The freshness text as shown ("" before any frame with a data time)."""
        return self._freshness_text

    def state(self, layer_id: str) -> LayerState:
        """The lifecycle state a layer's badge shows."""
        self._spec(layer_id)
        return self._states[layer_id][0]

    def set_state(self, layer_id: str, state: LayerState, error: str | None = None) -> None:
        """Show a layer's lifecycle state in its badge (and stale styling when stopped)."""
        self._spec(layer_id)
        self._states[layer_id] = (state, error if state is LayerState.ERROR else None)
        _assign_if_changed(self._header, self._header_html())
        self._set_stale(self._any_stopped())
        if self._presenter is None:
            _assign_if_changed(self._placeholder, self._placeholder_html())

    def needs_rebuild(self, layer_id: str, prepared: Prepared) -> bool:
        """Whether :meth:`show` will build new Bokeh models (wrap it in ``doc.models.freeze()``)."""
        return self._presenter is None or self._presenter.needs_rebuild(layer_id, prepared)

    def show(self, layer_id: str, prepared: Prepared) -> bool:
        """Show a layer's new frame; True when it is on the session's Bokeh models now.

        Data-only unless :meth:`needs_rebuild`. False means the cell is not rendered
        yet; it shows the frame once it is. Raises ``ValueError`` for a frame of
        another kind than the layer's (show that as the layer's error).
        """
        check_kind(self._spec(layer_id), prepared)
        self._frames[layer_id] = prepared
        presenter = self._presenter
        if presenter is None or presenter.needs_rebuild(layer_id, prepared):
            return self._rebuild().layer(layer_id).rendered
        return presenter.update(layer_id, prepared)

    def clear(self, layer_id: str) -> None:
        """Stop showing a layer's frame (a new plotter replaces the old, or it failed)."""
        self._frames.pop(layer_id, None)
        if self._presenter is not None:
            self._presenter.clear(layer_id)

    def age(self, now_ns: int) -> None:
        """Re-age the freshness text; call every 1-2 s. The oldest shown data counts."""
        ends = [p.frame.data_end for p in self._frames.values() if p.frame.data_end is not None]
        text = freshness_text(now_ns - min(ends)) if ends else ""
        if text != self._freshness_text:
            self._freshness_text = text
            self._freshness.object = self._freshness_html(text)

    def dispose(self) -> None:
        """Release the presenter and frames; call when the cell leaves the session."""
        if self._presenter is not None:
            self._presenter.dispose()
        self._presenter = None
        self._frames.clear()

    # --- rendering ----------------------------------------------------------

    def _spec(self, layer_id: str) -> LayerSpec:
        try:
            return self._layers[layer_id]
        except KeyError:
            raise KeyError(f"layer {layer_id!r} is not in cell {self.title!r}") from None

    def _rebuild(self) -> CellPresenter:
        old = self._presenter
        presenter = CellPresenter(self.title, list(self._layers.values()), self._frames)
        self._presenter = presenter
        self._body.objects = [presenter.panel]
        if old is not None:
            old.dispose()
        return presenter

    def _any_stopped(self) -> bool:
        return any(
            state is LayerState.STOPPED
            for layer_id, (state, _) in self._states.items()
            if not is_overlay(self._layers[layer_id].kind)
        )

    def _set_stale(self, stale: bool) -> None:
        if stale != self._stale:
            self._stale = stale
            self._body.css_classes = ["lg-cell-body", "lg-stale"] if stale else ["lg-cell-body"]

    def _header_html(self) -> str:
        badges = "".join(self._badge_html(spec) for spec in self._layers.values())
        return (
            f'<div class="lg-cell-header" data-testid="cell-{self.row}-{self.col}">'
            f'<span class="lg-cell-title">{escape_text(self.title)}</span>{badges}</div>'
        )

    def _badge_html(self, spec: LayerSpec) -> str:
        state, error = self._states[spec.layer_id]
        full = state_text(state, error)
        text = full if len(full) <= _BADGE_MESSAGE_CHARS else full[: _BADGE_MESSAGE_CHARS - 1] + "…"
        if len(self._layers) > 1 and spec.title:
            text = f"{spec.title}: {text}"
        return (
            f'<span class="lg-badge" data-testid="layer-state-{escape_text(spec.layer_id)}" '
            f'data-state="{state.value}" title="{escape_text(full)}">{escape_text(text)}</span>'
        )

    def _freshness_html(self, text: str) -> str:
        if not text:
            return ""
        return (
            f'<span class="lg-freshness" data-testid="freshness-{self.row}-{self.col}">'
            f"{text}</span>"
        )

    def _placeholder_html(self) -> str:
        first = next(
            (lid for lid, spec in self._layers.items() if not is_overlay(spec.kind)),
            next(iter(self._layers)),
        )
        text = _PLACEHOLDER_TEXT[self._states[first][0]]
        return (
            f'<div class="lg-placeholder" data-testid="placeholder-{self.row}-{self.col}">'
            f"{text}</div>"
        )


def _initial_state(spec: LayerSpec) -> LayerState:
    """Static overlays are ready as soon as they are added; data layers wait for their job."""
    return LayerState.READY if is_overlay(spec.kind) else LayerState.WAITING_FOR_JOB


def _assign_if_changed(pane: pn.pane.HTML, html: str) -> None:
    if pane.object != html:
        pane.object = html
