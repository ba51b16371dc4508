"""The synthetic instrument: what each source delivers, when, and that it is reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import scipp as sc

from worker.sources.base import Source
from worker.sources.synthetic import (
    DEFAULT_RATE_HZ,
    MAX_BATCH,
    MAX_RATE_HZ,
    SOURCE_NAMES,
    SyntheticInstrument,
    describe,
)

T0 = 1_700_000_000 * 10**9  # a whole second, so periods of 1 Hz align with it


class FakeClock:
    def __init__(self, now_ns: int = T0) -> None:
        self.now_ns = now_ns
        self.slept: list[float] = []

    def __call__(self) -> int:
        return self.now_ns

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now_ns += round(seconds * 1e9)


def instrument(
    seed: int = 0, rates: dict[str, float] | None = None, clock: FakeClock | None = None
) -> SyntheticInstrument:
    clock = clock or FakeClock()
    return SyntheticInstrument(rates, seed, clock=clock, sleep=clock.sleep)


def first_data(name: str, seed: int = 0) -> sc.DataArray:
    return instrument(seed).source(name).message(0).data


def test_source_names_are_the_ones_workspace_templates_use() -> None:
    assert set(SOURCE_NAMES) == {
        "detector_panel_0",
        "detector_panel_1",
        "monitor_1",
        "monitor_2",
        "detector_cube",
        "temperature",
        "pressure",
        "motor_position",
    }


@pytest.mark.parametrize("name", SOURCE_NAMES)
def test_messages_match_their_description(name: str) -> None:
    info = describe()[name]
    data = first_data(name)
    assert data.ndim == info.ndim
    assert data.dims == info.dims
    assert data.unit == sc.Unit(info.unit)
    assert data.name == name


@pytest.mark.parametrize("name", ["detector_panel_0", "detector_panel_1"])
def test_detector_panels_are_128_by_128_counts_on_pixel_centres_in_mm(name: str) -> None:
    data = first_data(name)
    assert data.sizes == {"y": 128, "x": 128}
    assert data.unit == sc.units.counts
    for dim in ("y", "x"):
        assert data.coords[dim].unit == sc.Unit("mm")
        assert data.coords[dim].sizes == {dim: 128}


def test_detector_panels_hold_nonnegative_whole_counts() -> None:
    values = first_data("detector_panel_0").values
    assert values.min() >= 0
    assert np.array_equal(values, np.round(values))
    assert values.sum() > 0


@pytest.mark.parametrize("name", ["monitor_1", "monitor_2"])
def test_monitors_are_spectra_on_tof_bin_edges_in_microseconds(name: str) -> None:
    data = first_data(name)
    assert data.dims == ("tof",)
    assert data.unit == sc.units.counts
    assert data.coords.is_edges("tof")
    assert data.coords["tof"].sizes["tof"] == data.sizes["tof"] + 1
    assert data.coords["tof"].unit == sc.Unit("us")


def test_detector_cube_is_tof_by_y_by_x_with_tof_bin_edges() -> None:
    data = first_data("detector_cube")
    assert data.sizes == {"tof": 32, "y": 64, "x": 64}
    assert data.coords.is_edges("tof")
    assert data.coords["x"].unit == sc.Unit("mm")


@pytest.mark.parametrize(
    ("name", "unit"), [("temperature", "K"), ("pressure", "mbar"), ("motor_position", "mm")]
)
def test_slow_logs_are_scalars_with_unit_and_time_of_the_message_end(name: str, unit: str) -> None:
    message = instrument().source(name).message(7)
    data = message.data
    assert data.ndim == 0
    assert data.unit == sc.Unit(unit)
    assert data.coords["time"].dtype == sc.DType.datetime64
    assert data.coords["time"].value == np.datetime64(message.end_ns, "ns")


def test_same_seed_gives_identical_messages() -> None:
    for name in SOURCE_NAMES:
        assert sc.identical(first_data(name, seed=5), first_data(name, seed=5))


def test_different_seeds_give_different_messages() -> None:
    assert not sc.identical(first_data("detector_panel_0", 1), first_data("detector_panel_0", 2))


def test_a_message_does_not_depend_on_when_the_source_was_started() -> None:
    early = instrument(clock=FakeClock(T0)).source("monitor_1")
    late = instrument(clock=FakeClock(T0 + 3600 * 10**9)).source("monitor_1")
    assert sc.identical(early.message(42).data, late.message(42).data)


def test_consecutive_detector_images_differ() -> None:
    source = instrument().source("detector_panel_0")
    assert not sc.identical(source.message(0).data, source.message(1).data)


def test_default_rate_is_one_hertz() -> None:
    assert instrument().rates == dict.fromkeys(SOURCE_NAMES, DEFAULT_RATE_HZ)
    assert instrument().source("temperature").period_ns == 10**9


def test_poll_delivers_one_message_per_period_at_the_configured_rate() -> None:
    source = instrument(rates={"detector_panel_0": 10.0}).source("detector_panel_0")
    messages = source.poll(T0 + 2 * 10**9)
    assert len(messages) == 20


def test_poll_before_the_current_period_ends_delivers_nothing() -> None:
    source = instrument().source("monitor_1")
    assert source.poll(T0 + 999_999_999) == []


def test_poll_never_delivers_a_message_twice() -> None:
    source = instrument().source("monitor_1")
    first = source.poll(T0 + 3 * 10**9)
    second = source.poll(T0 + 3 * 10**9)
    third = source.poll(T0 + 4 * 10**9)
    assert len(first) == 3
    assert second == []
    assert [m.start_ns for m in third] == [first[-1].end_ns]


def test_messages_cover_consecutive_periods_starting_with_the_one_in_progress() -> None:
    source = instrument(clock=FakeClock(T0 + 300_000_000)).source("pressure")
    messages = source.poll(T0 + 3 * 10**9)
    assert [(m.start_ns, m.end_ns) for m in messages] == [
        (T0, T0 + 10**9),
        (T0 + 10**9, T0 + 2 * 10**9),
        (T0 + 2 * 10**9, T0 + 3 * 10**9),
    ]
    assert all(m.source == "pressure" for m in messages)


def test_poll_after_a_stall_delivers_only_the_most_recent_batch() -> None:
    source = instrument(rates={"monitor_1": MAX_RATE_HZ}).source("monitor_1")
    now = T0 + 100 * 10**9
    messages = source.poll(now)
    assert len(messages) == MAX_BATCH
    assert messages[-1].end_ns <= now < messages[-1].end_ns + source.period_ns


def test_read_waits_for_the_next_message_at_most_max_wait() -> None:
    clock = FakeClock(T0 + 500_000_000)
    source = instrument(clock=clock).source("temperature")
    assert source.read(0.1) == []
    assert clock.slept == [pytest.approx(0.1)]
    messages = source.read(5.0)
    assert len(messages) == 1
    assert clock.now_ns == T0 + 10**9


def test_read_without_wait_returns_at_once() -> None:
    clock = FakeClock()
    source: Source = instrument(clock=clock).source("temperature")
    assert source.read(0.0) == []
    assert clock.slept == []


def test_unknown_source_name_is_rejected_with_the_valid_names() -> None:
    with pytest.raises(ValueError, match="detector_panel_0") as info:
        instrument().source("detector_panel_9")
    assert "detector_panel_9" in str(info.value)


@pytest.mark.parametrize("rate", [0.0, -1.0, MAX_RATE_HZ + 0.1, float("nan"), True])
def test_rate_outside_the_supported_range_is_rejected(rate: float) -> None:
    with pytest.raises(ValueError, match="rate of 'monitor_1'"):
        instrument(rates={"monitor_1": rate})


def test_rate_for_an_unknown_source_is_rejected() -> None:
    with pytest.raises(ValueError, match="no synthetic source 'monitor_9'"):
        instrument(rates={"monitor_9": 1.0})


def test_negative_seed_is_rejected() -> None:
    with pytest.raises(ValueError, match="seed"):
        instrument(seed=-1)
