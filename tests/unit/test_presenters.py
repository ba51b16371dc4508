"""Per-session presenters: built once with HoloViews, then data-only updates of Bokeh models.

Each test renders a presenter's panel into a fresh Bokeh document, as a
session does, and checks what lands on the session's Bokeh models.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent
from bokeh.models import DataRange1d, LinearColorMapper, LogColorMapper
from panel.io.document import _cleanup_doc

from app.prepare import Prepared, carry_unchanged, prepare
from app.presenters.cell import CellView, freshness_text, state_text
from app.presenters.plan import LayerSpec, PlotType, plan_cell
from app.presenters.plot import CellPresenter
from app.presenters.slicer import SlicerLayer
from livegrid.codec import Frame, FrameKind
from livegrid.lifecycle import LayerState

K = FrameKind
SECOND = 1_000_000_000


def image(
    offset: float = 0.0, *, log: bool = False, clim: tuple[float, float] = (1, 12)
) -> Prepared:
    values = np.arange(12, dtype=np.float32).reshape(3, 4) + 1 + offset
    return prepare(
        Frame(
            kind=K.IMAGE,
            labels={"x": "x position", "y": "y position", "values": "counts"},
            arrays={"x": np.arange(4.0), "y": np.arange(3.0), "values": values},
            attrs={"clim": list(clim), "log": log, "x_edges": [0, 4], "y_edges": [0, 3]},
            data_end=10 * SECOND,
        )
    )


def lines(offset: float = 0.0, *, log: bool = False, data_end: int | None = None) -> Prepared:
    x = np.linspace(0, 1, 5)
    return prepare(
        Frame(
            kind=K.LINES,
            arrays={"x": x, "values": x + 1 + offset},
            attrs={"log": log},
            data_end=data_end,
        )
    )


def slicer() -> Prepared:
    cube = np.arange(3 * 2 * 2, dtype=np.float32).reshape(3, 2, 2)
    return prepare(
        Frame(
            kind=K.SLICER,
            labels={"z": "tof"},
            arrays={"values": cube, "x": np.arange(2.0), "y": np.arange(2.0), "z": np.arange(3.0)},
            attrs={"clim": [0, 11], "log": False},
        )
    )


def bars(*names: str) -> Prepared:
    return prepare(
        Frame(
            kind=K.BARS,
            arrays={"names": np.array(names), "values": np.arange(len(names), dtype=float)},
        )
    )


def rectangles() -> Prepared:
    arrays = {name: np.array([0.5]) for name in ("x0", "y0")} | {
        name: np.array([1.5]) for name in ("x1", "y1")
    }
    return prepare(Frame(kind=K.RECTANGLES, arrays=arrays))


def render(viewable: Any) -> Document:
    """Render ``viewable`` into a new document, as a session does."""
    doc = Document()
    doc.add_root(viewable.get_root(doc))
    return doc


def source(presenter: CellPresenter, layer_id: str) -> Any:
    return presenter.layer(layer_id).handles["source"]


# --- which layers share a plot ---------------------------------------------------


def test_overlays_join_the_plot_of_the_first_data_layer() -> None:
    layers = [LayerSpec("r", K.RECTANGLES), LayerSpec("i", K.IMAGE), LayerSpec("v", K.VLINES)]
    (group,) = plan_cell(layers)
    assert group.plot is PlotType.RASTER
    assert [s.layer_id for s in group.layers] == ["i", "r", "v"]


def test_lines_layers_share_one_plot() -> None:
    (group,) = plan_cell([LayerSpec("a", K.LINES), LayerSpec("b", K.LINES)])
    assert [s.layer_id for s in group.layers] == ["a", "b"]


def test_layers_that_cannot_share_axes_get_plots_of_their_own() -> None:
    layers = [LayerSpec("i", K.IMAGE), LayerSpec("t", K.TABLE), LayerSpec("l", K.LINES)]
    assert [g.plot for g in plan_cell(layers)] == [PlotType.RASTER, PlotType.TABLE, PlotType.XY]


def test_horizontal_lines_can_mark_bars_but_rectangles_cannot() -> None:
    layers = [LayerSpec("b", K.BARS), LayerSpec("h", K.HLINES), LayerSpec("r", K.RECTANGLES)]
    groups = plan_cell(layers)
    assert [[s.layer_id for s in g.layers] for g in groups] == [["b", "h"], ["r"]]
    assert groups[1].plot is PlotType.SHAPES


# --- building and capturing ----------------------------------------------------------


def test_rendering_captures_the_bokeh_models_of_each_layer() -> None:
    presenter = CellPresenter("cell", [LayerSpec("i", K.IMAGE)], {"i": image()})
    assert not presenter.rendered
    render(presenter.panel)
    handles = presenter.layer("i").handles
    assert presenter.rendered
    assert {"source", "glyph_renderer", "color_mapper", "plot"} <= set(handles)
    assert handles["glyph_renderer"].data_source is handles["source"]


def test_rendering_shows_the_initial_frame_arrays_themselves() -> None:
    prepared = image()
    presenter = CellPresenter("cell", [LayerSpec("i", K.IMAGE)], {"i": prepared})
    render(presenter.panel)
    assert source(presenter, "i").data["image"][0] is prepared.data["image"][0]


@pytest.mark.parametrize(
    ("kind", "prepared"),
    [
        (K.IMAGE, image()),
        (K.SLICER, slicer()),
        (K.LINES, lines()),
        (K.BARS, bars("a", "b")),
        (K.RECTANGLES, rectangles()),
        (K.VLINES, prepare(Frame(kind=K.VLINES, arrays={"x": np.ones(1)}))),
        (K.HLINES, prepare(Frame(kind=K.HLINES, arrays={"y": np.ones(1)}))),
        (
            K.TIMESERIES,
            prepare(
                Frame(
                    kind=K.TIMESERIES,
                    arrays={"time": np.array([0], "datetime64[ns]"), "values": np.ones(1)},
                )
            ),
        ),
        (
            K.TABLE,
            prepare(Frame(kind=K.TABLE, arrays={"names": np.array(["a"]), "values": np.ones(1)})),
        ),
    ],
)
def test_holoviews_builds_the_columns_that_prepare_fills(
    kind: FrameKind, prepared: Prepared
) -> None:
    presenter = CellPresenter("cell", [LayerSpec("a", kind)])
    render(presenter.panel)
    assert set(source(presenter, "a").data) == set(prepared.data)


def test_a_cell_of_several_plots_renders_every_layer() -> None:
    layers = [
        LayerSpec("i", K.IMAGE),
        LayerSpec("t", K.TABLE),
        LayerSpec("l", K.LINES),
        LayerSpec("r", K.RECTANGLES),
    ]
    presenter = CellPresenter("cell", layers, {"i": image(), "l": lines()})
    render(presenter.panel)
    assert len(presenter.plots) == 3
    assert presenter.rendered


def test_overlays_without_a_data_layer_get_a_plot_of_their_own() -> None:
    overlay = rectangles()
    presenter = CellPresenter("cell", [LayerSpec("r", K.RECTANGLES)], {"r": overlay})
    render(presenter.panel)
    assert source(presenter, "r").data["top"] is overlay.data["top"]


def test_a_layer_without_a_frame_yet_shows_nothing() -> None:
    layers = [LayerSpec("a", K.LINES), LayerSpec("b", K.LINES)]
    presenter = CellPresenter("cell", layers, {"a": lines()})
    render(presenter.panel)
    assert all(len(column) == 0 for column in source(presenter, "b").data.values())


def test_update_before_rendering_is_not_applied_until_the_plot_renders() -> None:
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)])
    newer = lines(5)
    assert presenter.update("l", newer) is False
    render(presenter.panel)
    assert source(presenter, "l").data["y"] is newer.data["y"]


# --- data-only updates ----------------------------------------------------------------


def test_update_assigns_the_prepared_arrays_without_copy_or_new_models() -> None:
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)], {"l": lines()})
    doc = render(presenter.panel)
    models = len(doc.models)
    newer = lines(1)
    assert presenter.update("l", newer) is True
    data = source(presenter, "l").data
    assert data["x"] is newer.data["x"]
    assert data["y"] is newer.data["y"]
    assert len(doc.models) == models


def sent_columns(doc: Document, action: Any) -> list[list[str] | None]:
    """The ``cols`` of every ``ColumnDataChanged`` event ``action()`` makes (None: all)."""
    events: list[Any] = []
    doc.on_change(events.append)
    action()
    return [
        sorted(e.cols) if e.cols is not None else None
        for e in events
        if isinstance(e, ColumnDataChangedEvent)
    ]


def test_update_sends_only_the_columns_whose_values_changed() -> None:
    first = lines()
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)], {"l": first})
    doc = render(presenter.panel)
    newer = carry_unchanged(lines(1), first)
    assert sent_columns(doc, lambda: presenter.update("l", newer)) == [["y"]]
    data = source(presenter, "l").data
    assert data["x"] is first.data["x"]
    assert data["y"] is newer.data["y"]


def test_an_unchanged_frame_sends_nothing() -> None:
    first = lines()
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)], {"l": first})
    doc = render(presenter.panel)
    same = carry_unchanged(lines(), first)
    assert sent_columns(doc, lambda: presenter.update("l", same)) == []


def test_a_frame_not_carried_over_sends_every_column() -> None:
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)], {"l": lines()})
    doc = render(presenter.panel)
    assert sent_columns(doc, lambda: presenter.update("l", lines(1))) == [["x", "y"]]


def test_image_update_shares_the_frame_memory_and_follows_its_colour_limits() -> None:
    presenter = CellPresenter("cell", [LayerSpec("i", K.IMAGE)], {"i": image()})
    doc = render(presenter.panel)
    models = len(doc.models)
    newer = image(100, clim=(101, 112))
    presenter.update("i", newer)
    mapper = presenter.layer("i").handles["color_mapper"]
    assert np.shares_memory(source(presenter, "i").data["image"][0], newer.frame.arrays["values"])
    assert (mapper.low, mapper.high) == (101, 112)
    assert len(doc.models) == models


def test_log_image_gets_a_log_colour_mapper_and_a_colour_bar() -> None:
    presenter = CellPresenter("cell", [LayerSpec("i", K.IMAGE)], {"i": image(log=True)})
    render(presenter.panel)
    handles = presenter.layer("i").handles
    assert isinstance(handles["color_mapper"], LogColorMapper)
    assert handles["colorbar"].color_mapper is handles["color_mapper"]


def test_a_frame_that_turns_the_colour_scale_log_needs_a_rebuild() -> None:
    presenter = CellPresenter("cell", [LayerSpec("i", K.IMAGE)], {"i": image()})
    assert not presenter.needs_rebuild("i", image(1))
    assert presenter.needs_rebuild("i", image(1, log=True))


def test_a_frame_of_another_kind_is_rejected() -> None:
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)])
    with pytest.raises(ValueError, match="configured as lines but its frame is image"):
        presenter.update("l", image())


def test_clear_empties_the_layer_source() -> None:
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)], {"l": lines()})
    render(presenter.panel)
    assert presenter.clear("l") is True
    assert all(len(column) == 0 for column in source(presenter, "l").data.values())


def test_bars_update_changes_the_categories_without_new_models() -> None:
    presenter = CellPresenter("cell", [LayerSpec("b", K.BARS)], {"b": bars("a", "b")})
    doc = render(presenter.panel)
    models = len(doc.models)
    presenter.update("b", bars("c", "d", "e"))
    figure = presenter.layer("b").handles["plot"]
    assert list(figure.x_range.factors) == ["c", "d", "e"]
    assert len(doc.models) == models


def test_axes_rescale_in_the_browser_to_the_data_layers_only() -> None:
    layers = [LayerSpec("i", K.IMAGE), LayerSpec("r", K.RECTANGLES)]
    presenter = CellPresenter("cell", layers, {"i": image(), "r": rectangles()})
    render(presenter.panel)
    figure = presenter.layer("i").handles["plot"]
    image_renderer = presenter.layer("i").renderer
    for axis_range in (figure.x_range, figure.y_range):
        assert isinstance(axis_range, DataRange1d)
        assert axis_range.renderers == [image_renderer]


def test_axis_labels_follow_the_frame_labels() -> None:
    presenter = CellPresenter("cell", [LayerSpec("i", K.IMAGE)])
    render(presenter.panel)
    presenter.update("i", image())
    handles = presenter.layer("i").handles
    assert (handles["xaxis"].axis_label, handles["yaxis"].axis_label) == (
        "x position",
        "y position",
    )


# --- overlays in one figure -------------------------------------------------------------


def test_overlays_are_extra_renderers_in_the_same_figure() -> None:
    layers = [LayerSpec("i", K.IMAGE), LayerSpec("r", K.RECTANGLES)]
    overlay = rectangles()
    presenter = CellPresenter("cell", layers, {"i": image(), "r": overlay})
    render(presenter.panel)
    figure = presenter.layer("i").handles["plot"]
    assert presenter.layer("r").handles["plot"] is figure
    assert {presenter.layer("i").renderer, presenter.layer("r").renderer} <= set(figure.renderers)
    assert source(presenter, "r").data["left"] is overlay.data["left"]


def test_two_lines_layers_share_a_figure_with_a_legend() -> None:
    layers = [LayerSpec("a", K.LINES, "first"), LayerSpec("b", K.LINES, "second")]
    presenter = CellPresenter("cell", layers, {"a": lines(), "b": lines(1)})
    render(presenter.panel)
    figure = presenter.layer("a").handles["plot"]
    assert presenter.layer("b").handles["plot"] is figure
    labels = [item.label["value"] for item in figure.legend[0].items]
    assert labels == ["first", "second"]


def test_log_lines_get_a_log_y_axis() -> None:
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)], {"l": lines(log=True)})
    render(presenter.panel)
    assert type(presenter.layer("l").handles["plot"].y_scale).__name__ == "LogScale"


# --- slicer ---------------------------------------------------------------------------


def test_two_sessions_slice_the_same_cube_independently() -> None:
    prepared = slicer()
    first = CellPresenter("cell", [LayerSpec("s", K.SLICER)], {"s": prepared})
    second = CellPresenter("cell", [LayerSpec("s", K.SLICER)], {"s": prepared})
    render(first.panel)
    render(second.panel)
    first_layer = first.layer("s")
    assert isinstance(first_layer, SlicerLayer)
    first_layer.slider.value = 2
    cube = prepared.frame.arrays["values"]
    assert source(first, "s").data["image"][0] is prepared.slices[2]["image"][0]
    assert np.shares_memory(source(first, "s").data["image"][0], cube[2])
    assert source(second, "s").data["image"][0] is prepared.slices[0]["image"][0]


def test_slicer_keeps_the_session_slice_when_a_new_cube_arrives() -> None:
    presenter = CellPresenter("cell", [LayerSpec("s", K.SLICER)], {"s": slicer()})
    render(presenter.panel)
    layer = presenter.layer("s")
    assert isinstance(layer, SlicerLayer)
    layer.slider.value = 1
    newer = slicer()
    presenter.update("s", newer)
    assert source(presenter, "s").data["image"][0] is newer.slices[1]["image"][0]


def test_slicer_slider_names_the_slice_it_shows() -> None:
    presenter = CellPresenter("cell", [LayerSpec("s", K.SLICER)], {"s": slicer()})
    layer = presenter.layer("s")
    assert isinstance(layer, SlicerLayer)
    layer.slider.value = 2
    assert (layer.slider.end, layer.slider.label) == (2, "tof = 2")


# --- lifetime ---------------------------------------------------------------------------


def test_a_presenter_is_collected_after_its_session_ends() -> None:
    presenter = CellPresenter("cell", [LayerSpec("l", K.LINES)], {"l": lines()})
    doc = render(presenter.panel)
    refs = [weakref.ref(presenter), weakref.ref(presenter.plots[0])]
    refs.append(weakref.ref(presenter.layer("l")))
    presenter.dispose()
    _cleanup_doc(doc)  # what Panel runs when a session is destroyed
    del presenter, doc
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


# --- cell view ---------------------------------------------------------------------------


def cell_view(*layers: LayerSpec) -> CellView:
    return CellView(1, 2, "Detector <A>", layers or (LayerSpec("l", K.LINES, "counts"),))


def test_cell_view_has_stable_hooks_for_browser_tests() -> None:
    view = cell_view(LayerSpec("l", K.LINES), LayerSpec("v", K.VLINES))
    assert {"lg-cell", "lg-cell-1-2"} <= set(view.panel.css_classes)
    assert 'data-testid="cell-1-2"' in view.header_html
    assert 'data-testid="layer-state-l" data-state="waiting_for_job"' in view.header_html
    assert 'data-testid="layer-state-v" data-state="ready"' in view.header_html
    assert "Detector &lt;A&gt;" in view.header_html


def test_badge_shows_the_layer_state() -> None:
    view = cell_view()
    view.set_state("l", LayerState.WAITING_FOR_DATA)
    assert 'data-state="waiting_for_data"' in view.header_html
    assert ">waiting for data<" in view.header_html


def test_badge_shows_the_error_message_escaped() -> None:
    view = cell_view()
    view.set_state("l", LayerState.ERROR, "bad <frame>")
    assert 'data-state="error"' in view.header_html
    assert "error: bad &lt;frame&gt;" in view.header_html


def test_unchanged_state_does_not_resend_the_header() -> None:
    view = cell_view()
    view.set_state("l", LayerState.READY)
    before = view.header_html
    view.set_state("l", LayerState.READY)
    assert view.header_html is before  # same object: the pane was not assigned again


def test_stopped_layer_shows_the_cell_stale() -> None:
    view = cell_view()
    body = view.panel[1]
    view.set_state("l", LayerState.STOPPED)
    assert "lg-stale" in body.css_classes
    view.set_state("l", LayerState.READY)
    assert "lg-stale" not in body.css_classes


def test_freshness_ages_with_the_session_clock() -> None:
    view = cell_view()
    view.show("l", lines(data_end=100 * SECOND))
    view.age(103 * SECOND)
    assert view.freshness == "data < 5 s old"
    view.age(104 * SECOND)
    assert view.freshness == "data < 5 s old"
    view.age(107 * SECOND)
    assert view.freshness == "data 7 s old"
    view.age(100 * SECOND + 125 * SECOND)
    assert view.freshness == "data 2 min old"


def test_freshness_is_empty_before_any_frame() -> None:
    view = cell_view()
    view.age(5 * SECOND)
    assert view.freshness == ""


def test_cell_shows_a_placeholder_until_the_first_frame() -> None:
    view = cell_view()
    render(view.panel)
    assert view.presenter is None
    assert "Waiting for the job to start." in view.panel[1][0].object
    assert view.show("l", lines()) is True
    presenter = view.presenter
    assert presenter is not None
    assert view.panel[1].objects == [presenter.panel]


def test_later_frames_update_the_cell_without_rebuilding() -> None:
    view = cell_view()
    doc = render(view.panel)
    view.show("l", lines())
    presenter, models = view.presenter, len(doc.models)
    newer = lines(2)
    assert view.show("l", newer) is True
    assert view.presenter is presenter
    assert len(doc.models) == models
    assert presenter is not None
    assert source(presenter, "l").data["y"] is newer.data["y"]


def test_cell_rebuilds_when_the_frame_needs_other_bokeh_models() -> None:
    view = cell_view(LayerSpec("i", K.IMAGE))
    render(view.panel)
    view.show("i", image())
    first = view.presenter
    assert view.needs_rebuild("i", image(log=True))
    assert view.show("i", image(log=True)) is True
    assert view.presenter is not first
    assert view.presenter is not None
    assert isinstance(view.presenter.layer("i").handles["color_mapper"], LogColorMapper)


def test_cell_keeps_a_linear_colour_mapper_for_linear_frames() -> None:
    view = cell_view(LayerSpec("i", K.IMAGE))
    render(view.panel)
    view.show("i", image())
    assert view.presenter is not None
    assert isinstance(view.presenter.layer("i").handles["color_mapper"], LinearColorMapper)


def test_state_and_freshness_texts() -> None:
    assert state_text(LayerState.WAITING_FOR_JOB) == "waiting for job"
    assert state_text(LayerState.ERROR, "disk full") == "error: disk full"
    assert freshness_text(0) == freshness_text(4 * SECOND) == "data < 5 s old"
    assert freshness_text(5 * SECOND) == "data 5 s old"
    assert freshness_text(59 * SECOND) == "data 59 s old"
    assert freshness_text(2 * 3600 * SECOND) == "data 2 h old"
