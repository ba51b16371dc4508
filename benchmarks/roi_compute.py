"""Compute cost per frame of the ROI spectra and the correlation histograms, and the
per-session present cost of the new presenters beside ``lines`` and ``image``.

Usage: .venv/bin/python benchmarks/roi_compute.py [--iterations N]

ROI spectra: 10 ROIs (5 rectangles, 5 polygons) over a 256x256x100 detector x tof
cube: masks once per ROI set (as the job does when the set changes), then the
per-frame reduction, then the overlay_1d frame. Correlation histograms: a 10 000
point history binned against one (1-D, 50 bins) and two (2-D, 50x50) others, with
time pairing. Present: one session's ``CellPresenter.update`` of a prepared frame.
Prints a Markdown table of medians. Pure CPU, no Redis. Not part of the tests.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import scipp as sc
from bokeh.document import Document

from app.prepare import carry_unchanged, prepare
from app.presenters.plan import LayerSpec
from app.presenters.plot import CellPresenter
from livegrid.codec import FrameKind
from livegrid.models import PolygonROI, RectangleROI
from worker.plotters import compute_frame
from worker.roi import roi_masks, roi_spectra

S = 1_000_000_000


def _median_ms(action: Callable[[], object], iterations: int) -> float:
    action()  # warm up
    times = []
    for _ in range(iterations):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1e3)
    return statistics.median(times)


def _rois() -> list[RectangleROI | PolygonROI]:
    rois: list[RectangleROI | PolygonROI] = []
    for i in range(5):
        rois.append(RectangleROI(x0=10 + 40 * i, x1=40 + 40 * i, y0=20, y1=120))
        cx, cy = 30 + 45 * i, 190
        angles = np.linspace(0, 2 * np.pi, 7)[:-1]
        rois.append(PolygonROI(x=list(cx + 25 * np.cos(angles)), y=list(cy + 25 * np.sin(angles))))
    return rois


def _series(n: int, name: str, rng: np.random.Generator) -> sc.DataArray:
    times = sc.array(dims=["time"], values=np.arange(n) * S // 10, unit="ns", dtype="datetime64")
    data = sc.DataArray(
        sc.array(dims=["time"], values=rng.random(n), unit="counts"), coords={"time": times}
    )
    data.name = name
    return data


def _present_ms(kind: FrameKind, frames: list[object], iterations: int) -> float:
    prepared = [prepare(f) for f in frames]  # type: ignore[arg-type]
    prepared[1] = carry_unchanged(prepared[1], prepared[0])
    presenter = CellPresenter("bench", [LayerSpec("l", kind)], {"l": prepared[0]})
    doc = Document()
    doc.add_root(presenter.panel.get_root(doc))
    state = {"i": 0}

    def update() -> None:
        state["i"] ^= 1
        presenter.update("l", prepared[state["i"]])

    return _median_ms(update, iterations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    n = args.iterations
    rng = np.random.default_rng(0)
    cube = rng.poisson(2.0, size=(256, 256, 100)).astype(np.float64)
    x = y = np.arange(256.0)
    rois = _rois()
    masks = roi_masks(rois, x, y)
    spectra = sc.DataArray(
        sc.array(dims=["roi", "tof"], values=roi_spectra(cube, masks), unit="counts"),
        coords={"tof": sc.arange("tof", 101.0, unit="us")},
        name="roi spectra",
    )
    data, ax, ay = (_series(10_000, name, rng) for name in ("counts", "temperature", "pressure"))

    def frame(plotter: str, d: sc.DataArray, **kw: object) -> object:
        return compute_frame(plotter, d, {}, display_max=512, now_ns=1, **kw)  # type: ignore[arg-type]

    rows = [
        (
            "ROI masks, 10 ROIs on 256x256 (once per ROI set)",
            _median_ms(lambda: roi_masks(rois, x, y), n),
        ),
        (
            "ROI spectra, 10 ROIs x 256x256x100 (per frame)",
            _median_ms(lambda: roi_spectra(cube, masks), n),
        ),
        ("overlay_1d frame of the 10 spectra", _median_ms(lambda: frame("overlay_1d", spectra), n)),
        (
            "correlation_histogram_1d, 10 000 points, 50 bins",
            _median_ms(lambda: frame("correlation_histogram_1d", data, inputs=[ax]), n),
        ),
        (
            "correlation_histogram_2d, 10 000 points, 50x50 bins",
            _median_ms(lambda: frame("correlation_histogram_2d", data, inputs=[ax, ay]), n),
        ),
    ]
    image = sc.DataArray(sc.array(dims=["y", "x"], values=rng.random((256, 256))), name="i")
    image2 = image.copy()
    image2.values += 1
    line = sc.DataArray(sc.array(dims=["tof"], values=rng.random(1000)), name="l")
    line2 = line.copy()
    line2.values += 1
    spectra2 = spectra.copy()
    spectra2.values += 1
    present = [
        ("lines (1 curve of 1000 points)", FrameKind.LINES, "lines", line, line2),
        (
            "overlay_1d (10 curves of 100 points)",
            FrameKind.OVERLAY_1D,
            "overlay_1d",
            spectra,
            spectra2,
        ),
        ("image 256x256", FrameKind.IMAGE, "image", image, image2),
    ]
    for label, kind, plotter, first, second in present:
        rows.append(
            (
                f"present, one session: {label}",
                _present_ms(kind, [frame(plotter, first), frame(plotter, second)], n * 10),
            )
        )
    print(f"python {platform.python_version()}, {n} iterations (present: {n * 10}), medians\n")
    print("| step | ms |\n|---|---|")
    for label, ms in rows:
        print(f"| {label} | {ms:.3f} |")


if __name__ == "__main__":
    main()
