"""The built-in synthetic instrument: deterministic, cheap, live-looking data.

Every source emits one message per period on a grid aligned to the Unix epoch:
message ``k`` covers ``[k * period, (k + 1) * period)`` and is due at its end.
Its content depends only on the seed, the source and ``k``, so any worker that
takes a job over continues the same stream, and tests can ask for message ``k``
directly. Sources:

- ``detector_panel_0``, ``detector_panel_1``: 128x128 images (``y``, ``x`` pixel
  centres in mm) of moving Gaussian blobs with Poisson noise, in counts.
- ``monitor_1``, ``monitor_2``: time-of-flight spectra, ``tof`` bin edges in µs.
- ``detector_cube``: a ``tof`` x ``y`` x ``x`` cube (32x64x64), ``tof`` bin edges.
- ``temperature`` (K), ``pressure`` (mbar), ``motor_position`` (mm): drifting 0-D
  values with a ``time`` coordinate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import scipp as sc

from worker.sources.base import Message

DEFAULT_RATE_HZ = 1.0
MAX_RATE_HZ = 14.0
#: A poll returns at most this many messages; older overdue ones are skipped,
#: so a stalled reader catches up with the present instead of replaying a backlog.
MAX_BATCH = 32

_TOF_PERIOD_US = 71_000.0  # one ESS pulse period


@dataclass(frozen=True)
class SourceInfo:
    """What a source delivers, so a UI can offer compatible workflows and plotters."""

    ndim: int
    dims: tuple[str, ...]
    unit: str
    description: str


_INFO: dict[str, SourceInfo] = {
    "detector_panel_0": SourceInfo(2, ("y", "x"), "counts", "128x128 detector panel"),
    "detector_panel_1": SourceInfo(2, ("y", "x"), "counts", "128x128 detector panel"),
    "monitor_1": SourceInfo(1, ("tof",), "counts", "beam monitor time-of-flight spectrum"),
    "monitor_2": SourceInfo(1, ("tof",), "counts", "beam monitor time-of-flight spectrum"),
    "detector_cube": SourceInfo(3, ("tof", "y", "x"), "counts", "detector x time-of-flight cube"),
    "temperature": SourceInfo(0, (), "K", "sample temperature"),
    "pressure": SourceInfo(0, (), "mbar", "sample pressure"),
    "motor_position": SourceInfo(0, (), "mm", "sample stage motor position"),
}

SOURCE_NAMES: tuple[str, ...] = tuple(_INFO)


def describe() -> dict[str, SourceInfo]:
    """Every synthetic source by name."""
    return dict(_INFO)


def _check_name(name: str) -> int:
    if name not in _INFO:
        raise ValueError(
            f"There is no synthetic source {name!r}; choose one of {', '.join(SOURCE_NAMES)}."
        )
    return SOURCE_NAMES.index(name)


def _rng(seed: int, source_index: int, *key: int) -> np.random.Generator:
    return np.random.default_rng([seed, source_index, *key])


_Generate = Callable[[np.random.Generator, float, int], sc.DataArray]
"""Build one message's data from its random generator, time in s and time in ns."""


def _centres(n: int, pitch_mm: float) -> np.ndarray:
    return (np.arange(n) - (n - 1) / 2) * pitch_mm


def _tof_edges(n: int) -> sc.Variable:
    return sc.linspace("tof", 0.0, _TOF_PERIOD_US, n + 1, unit="us")


class _MovingBlobs:
    """Gaussian blobs circling the detector centre; separable, so each image is an outer product."""

    def __init__(self, params: np.random.Generator, n: int, pitch_mm: float, blobs: int) -> None:
        self.centres = _centres(n, pitch_mm)
        half = n * pitch_mm / 2
        self.orbit = params.uniform(0.1, 0.6, blobs) * half
        self.speed = params.uniform(0.05, 0.4, blobs) * params.choice([-1.0, 1.0], blobs)
        self.phase = params.uniform(0, 2 * np.pi, blobs)
        self.sigma = params.uniform(0.03, 0.08, blobs) * 2 * half
        self.amplitude = params.uniform(5.0, 40.0, blobs)

    def profiles(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """Per-blob ``(k, n)`` profiles along y and x, amplitude folded into y."""
        angle = self.speed * t_s + self.phase
        cx = self.orbit * np.cos(angle)
        cy = self.orbit * np.sin(angle)
        width = 2 * self.sigma[:, None] ** 2
        gx = np.exp(-((self.centres[None, :] - cx[:, None]) ** 2) / width)
        gy = np.exp(-((self.centres[None, :] - cy[:, None]) ** 2) / width)
        return gy * self.amplitude[:, None], gx


def _panel(name: str, params: np.random.Generator) -> _Generate:
    blobs = _MovingBlobs(params, 128, 1.0, 3)
    coord = sc.array(dims=["x"], values=blobs.centres, unit="mm")
    coords = {"y": coord.rename_dims(x="y"), "x": coord}
    background = params.uniform(0.2, 1.0)

    def generate(rng: np.random.Generator, t_s: float, time_ns: int) -> sc.DataArray:
        gy, gx = blobs.profiles(t_s)
        expected = background + gy.T @ gx
        counts = rng.poisson(expected).astype(np.float64)
        return sc.DataArray(
            sc.array(dims=["y", "x"], values=counts, unit="counts"), coords=coords, name=name
        )

    return generate


def _monitor(name: str, params: np.random.Generator) -> _Generate:
    edges = _tof_edges(200)
    tof = sc.midpoints(edges).values
    peak = params.uniform(0.15, 0.3) * _TOF_PERIOD_US
    amplitude = params.uniform(200.0, 1000.0)
    wobble = params.uniform(0.01, 0.1)
    # A moderator-like pulse: fast rise, slow Maxwellian tail.
    shape = (tof / peak) ** 2 * np.exp(1 - (tof / peak) ** 2)

    def generate(rng: np.random.Generator, t_s: float, time_ns: int) -> sc.DataArray:
        expected = 1.0 + amplitude * (1 + 0.2 * np.sin(wobble * t_s)) * shape
        counts = rng.poisson(expected).astype(np.float64)
        return sc.DataArray(
            sc.array(dims=["tof"], values=counts, unit="counts"),
            coords={"tof": edges},
            name=name,
        )

    return generate


def _cube(name: str, params: np.random.Generator) -> _Generate:
    blobs = _MovingBlobs(params, 64, 2.0, 2)
    edges = _tof_edges(32)
    tof = sc.midpoints(edges).values
    coord = sc.array(dims=["x"], values=blobs.centres, unit="mm")
    coords = {"tof": edges, "y": coord.rename_dims(x="y"), "x": coord}
    peak = params.uniform(0.2, 0.5, 2) * _TOF_PERIOD_US
    spread = 0.1 * _TOF_PERIOD_US

    def generate(rng: np.random.Generator, t_s: float, time_ns: int) -> sc.DataArray:
        gy, gx = blobs.profiles(t_s)
        centre = peak * (1 + 0.2 * np.sin(0.1 * t_s))
        gt = np.exp(-((tof[None, :] - centre[:, None]) ** 2) / (2 * spread**2))
        expected = 0.1 + np.einsum("kt,ky,kx->tyx", gt, gy, gx)
        counts = rng.poisson(expected).astype(np.float64)
        return sc.DataArray(
            sc.array(dims=["tof", "y", "x"], values=counts, unit="counts"),
            coords=coords,
            name=name,
        )

    return generate


def _slow_log(
    name: str, params: np.random.Generator, *, base: float, swing: float, noise: float, unit: str
) -> _Generate:
    period_s = params.uniform(120.0, 900.0)
    phase = params.uniform(0, 2 * np.pi)

    def generate(rng: np.random.Generator, t_s: float, time_ns: int) -> sc.DataArray:
        value = base + swing * np.sin(2 * np.pi * t_s / period_s + phase) + rng.normal(0, noise)
        return sc.DataArray(
            sc.scalar(float(value), unit=unit),
            coords={"time": sc.datetime(time_ns, unit="ns")},
            name=name,
        )

    return generate


def _generator(name: str, params: np.random.Generator) -> _Generate:
    if name.startswith("detector_panel"):
        return _panel(name, params)
    if name.startswith("monitor"):
        return _monitor(name, params)
    if name == "detector_cube":
        return _cube(name, params)
    if name == "temperature":
        return _slow_log(name, params, base=295.0, swing=2.0, noise=0.05, unit="K")
    if name == "pressure":
        return _slow_log(name, params, base=1013.0, swing=5.0, noise=0.2, unit="mbar")
    return _slow_log(name, params, base=50.0, swing=40.0, noise=0.01, unit="mm")


class SyntheticSource:
    """One synthetic stream. ``poll`` is the pure, clock-free core; ``read`` adds waiting."""

    def __init__(
        self,
        name: str,
        rate_hz: float,
        seed: int,
        *,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._index = _check_name(name)
        self._name = name
        self._seed = seed
        self._period_ns = round(1e9 / rate_hz)
        self._clock = clock
        self._sleep = sleep
        self._generate = _generator(name, _rng(seed, self._index, 0))
        # The interval in progress when the source is created is the first one delivered.
        self._next = clock() // self._period_ns
        self._first = self._next
        #: After ``resume``: deliver every message from the checkpoint on, none skipped.
        self._catching_up = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def period_ns(self) -> int:
        return self._period_ns

    def message(self, k: int) -> Message:
        """The ``k``-th message since the epoch; the same for the same seed on every worker."""
        start = k * self._period_ns
        end = start + self._period_ns
        data = self._generate(_rng(self._seed, self._index, 1, k), end * 1e-9, end)
        return Message(source=self._name, data=data, start_ns=start, end_ns=end)

    def poll(self, now_ns: int) -> list[Message]:
        """Messages whose interval ended by ``now_ns`` and were not returned before."""
        last = now_ns // self._period_ns - 1
        if self._catching_up:
            first = self._next
            if last - first + 1 <= MAX_BATCH:
                self._catching_up = False
            last = min(last, first + MAX_BATCH - 1)
        else:
            first = max(self._next, last - MAX_BATCH + 1)
        if last < first:
            return []
        self._next = last + 1
        return [self.message(k) for k in range(first, last + 1)]

    def read(self, max_wait_s: float) -> list[Message]:
        messages = self.poll(self._clock())
        if messages or max_wait_s <= 0:
            return messages
        due_ns = (self._next + 1) * self._period_ns
        wait_s = min(max_wait_s, (due_ns - self._clock()) * 1e-9)
        if wait_s > 0:
            self._sleep(wait_s)
        return self.poll(self._clock())

    def position(self) -> dict[str, int]:
        """Where the stream is: ``first`` message delivered and ``next`` one to deliver."""
        return {"first": self._first, "next": self._next}

    def resume(self, position: dict[str, int]) -> str:
        """Continue right after a checkpoint's ``position``; what to tell the user.

        The messages due since are delivered ``MAX_BATCH`` per poll, none skipped,
        so a restored job catches up with the present without losing data.
        """
        first, following = int(position["first"]), int(position["next"])
        if not 0 <= first <= following:
            raise ValueError(f"the checkpoint's position {position!r} is not a synthetic one")
        self._first, self._next = first, following
        self._catching_up = True
        return f"resumed at message {following - first}"

    def take_skipped(self) -> int:
        """The synthetic instrument regenerates any message: none is ever lost."""
        return 0

    def close(self) -> None:
        """Nothing to release."""


class SyntheticInstrument:
    """All synthetic sources with their rates; ``source(name)`` starts a stream."""

    def __init__(
        self,
        rates: Mapping[str, float] | None = None,
        seed: int = 0,
        *,
        clock: Callable[[], int] = time.time_ns,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(
                f"The synthetic instrument's seed must be an integer ≥ 0, not {seed!r}."
            )
        self._rates = dict.fromkeys(SOURCE_NAMES, DEFAULT_RATE_HZ)
        for name, rate in (rates or {}).items():
            _check_name(name)
            if isinstance(rate, bool) or not (
                isinstance(rate, int | float) and 0 < rate <= MAX_RATE_HZ
            ):
                raise ValueError(
                    f"The rate of {name!r} must be a number in (0, {MAX_RATE_HZ:g}] Hz, "
                    f"not {rate!r}."
                )
            self._rates[name] = float(rate)
        self._seed = seed
        self._clock = clock
        self._sleep = sleep

    @property
    def rates(self) -> dict[str, float]:
        """Rate in Hz of every source."""
        return dict(self._rates)

    def source(self, name: str) -> SyntheticSource:
        """A new stream of ``name``, starting with the interval now in progress."""
        _check_name(name)
        return SyntheticSource(
            name, self._rates[name], self._seed, clock=self._clock, sleep=self._sleep
        )
