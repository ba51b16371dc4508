"""Presenters of overlay_1d, flatten and the correlation histograms, in a session's document.

Frames come from the real plotters (compute, codec, prepare), as in a replica.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipp as sc
from bokeh.document import Document
from bokeh.models import CustomJSHover, LinearColorMapper, LogAxis
from bokeh.models.annotations import Legend

from app.prepare import Prepared, carry_unchanged, prepare
from app.presenters.plan import LayerSpec, PlotType, plan_cell
from app.presenters.plot import CellPresenter
from livegrid.codec import FrameKind, decode_frame, encode_frame
from livegrid.palette import colour_of
from worker.plotters import compute_frame

K = FrameKind
S = 1_000_000_000


def prepared(
    plotter: str, data: sc.DataArray, params: dict[str, Any] | None = None, **kw: Any
) -> Prepared:
    frame = compute_frame(plotter, data, params or {}, display_max=512, now_ns=1, **kw)
    return prepare(decode_frame(encode_frame(frame)))


def spectra(rows: int, offset: float = 0.0) -> sc.DataArray:
    values = np.arange(rows * 5, dtype=np.float64).reshape(rows, 5) + 1 + offset
    return sc.DataArray(
        sc.array(dims=["roi", "tof"], values=values, unit="counts"),
        coords={"tof": sc.arange("tof", 5.0, unit="ms")},
        name="spectra",
    )


def cube(offset: float = 0.0) -> sc.DataArray:
    values = np.arange(24.0).reshape(2, 3, 4) + offset
    return sc.DataArray(sc.array(dims=["a", "b", "c"], values=values), name="cube")


def series(values: list[float], name: str) -> sc.DataArray:
    times = sc.array(
        dims=["time"], values=np.arange(len(values)) * S, unit="ns", dtype="datetime64"
    )
    data = sc.DataArray(
        sc.array(dims=["time"], values=values, unit="counts"), coords={"time": times}
    )
    data.name = name
    return data


def render(presenter: CellPresenter) -> Document:
    doc = Document()
    doc.add_root(presenter.panel.get_root(doc))
    return doc


def test_new_kinds_share_plots_like_their_relatives() -> None:
    layers = [LayerSpec("o", K.OVERLAY_1D), LayerSpec("l", K.LINES), LayerSpec("f", K.FLATTEN)]
    assert [g.plot for g in plan_cell(layers)] == [PlotType.XY, PlotType.RASTER]
    assert plan_cell([LayerSpec("c", K.CORRELATION_2D)])[0].plot is PlotType.RASTER


def test_overlay_draws_every_row_in_its_palette_colour_with_a_legend() -> None:
    presenter = CellPresenter(
        "c", [LayerSpec("o", K.OVERLAY_1D, "ROIs")], {"o": prepared("overlay_1d", spectra(3))}
    )
    render(presenter)
    layer = presenter.layer("o")
    data = layer.handles["source"].data
    assert len(data["ys"]) == 3
    assert data["color"] == [colour_of(i) for i in range(3)]
    assert data["label"] == ["roi 0", "roi 1", "roi 2"]
    assert layer.renderer.glyph.line_color.field == "color"
    legends = [m for m in layer.handles["plot"].center if isinstance(m, Legend)]
    assert any(item.label.field == "label" for legend in legends for item in legend.items)


def test_overlay_with_another_number_of_rows_is_a_data_only_update() -> None:
    presenter = CellPresenter(
        "c", [LayerSpec("o", K.OVERLAY_1D)], {"o": prepared("overlay_1d", spectra(2))}
    )
    render(presenter)
    source = presenter.layer("o").handles["source"]
    new = prepared("overlay_1d", spectra(4, offset=1))
    assert not presenter.needs_rebuild("o", new)
    assert presenter.update("o", new)
    assert presenter.layer("o").handles["source"] is source
    assert len(source.data["ys"]) == 4
    assert source.data["ys"][3] is new.data["ys"][3]


def test_overlay_log_axes_come_from_the_frame_and_params() -> None:
    first = prepared("overlay_1d", spectra(2), {"log": True, "log_x": True})
    presenter = CellPresenter(
        "c", [LayerSpec("o", K.OVERLAY_1D, params={"log": True, "log_x": True})], {"o": first}
    )
    render(presenter)
    figure = presenter.plots[0].figure
    assert isinstance(figure.yaxis[0], LogAxis)
    assert isinstance(figure.xaxis[0], LogAxis)


def test_flatten_hover_names_each_original_coordinate() -> None:
    first = prepared("flatten", cube(), {"y_dims": ["a"], "x_dims": ["b", "c"]})
    presenter = CellPresenter("c", [LayerSpec("f", K.FLATTEN)], {"f": first})
    render(presenter)
    hover = presenter.layer("f").handles["hover"]
    x_format = hover.formatters["$x"]
    assert isinstance(x_format, CustomJSHover)
    assert x_format.args["labels"][5] == "b=1, c=1"
    assert presenter.layer("f").handles["source"].data["image"][0].shape == (2, 12)


def test_flatten_update_keeps_the_hover_when_labels_are_unchanged() -> None:
    first = prepared("flatten", cube())
    presenter = CellPresenter("c", [LayerSpec("f", K.FLATTEN)], {"f": first})
    render(presenter)
    formatter = presenter.layer("f").handles["hover"].formatters["$x"]
    presenter.update("f", carry_unchanged(prepared("flatten", cube(offset=5)), first))
    assert presenter.layer("f").handles["hover"].formatters["$x"] is formatter
    assert presenter.layer("f").handles["source"].data["image"][0][0, 0] == 5


def test_correlation_1d_is_a_curve_over_the_bin_centres() -> None:
    first = prepared(
        "correlation_histogram_1d",
        series([1, 2, 3, 4], "counts"),
        {"bins": 2},
        inputs=[series([0, 0, 1, 1], "log")],
    )
    presenter = CellPresenter("c", [LayerSpec("h", K.CORRELATION_1D)], {"h": first})
    render(presenter)
    source = presenter.layer("h").handles["source"]
    assert source.data["y"].tolist() == [3.0, 7.0]
    assert presenter.plots[0].figure.xaxis[0].axis_label == "log [counts]"


def test_correlation_2d_is_an_image_with_its_colour_limits() -> None:
    first = prepared(
        "correlation_histogram_2d",
        series([1, 2, 4, 8], "counts"),
        {"x_bins": 2, "y_bins": 2, "clim": [0, 10]},
        inputs=[series([0, 1, 0, 1], "x"), series([0, 0, 1, 1], "y")],
    )
    presenter = CellPresenter("c", [LayerSpec("h", K.CORRELATION_2D)], {"h": first})
    render(presenter)
    layer = presenter.layer("h")
    assert layer.handles["source"].data["image"][0].tolist() == [[1.0, 2.0], [4.0, 8.0]]
    mapper = layer.handles["color_mapper"]
    assert isinstance(mapper, LinearColorMapper)
    assert (mapper.low, mapper.high) == (0, 10)


def test_square_aspect_reaches_the_figure() -> None:
    first = prepared("image", sc.DataArray(sc.array(dims=["y", "x"], values=np.ones((3, 4)))))
    presenter = CellPresenter(
        "c", [LayerSpec("i", K.IMAGE, params={"aspect": "square"})], {"i": first}
    )
    render(presenter)
    assert presenter.plots[0].figure.aspect_ratio == 1
