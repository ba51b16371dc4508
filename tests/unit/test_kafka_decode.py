"""ESS flatbuffers in, scipp out; bad bytes raise DecodeError and nothing else."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipp as sc
from hypothesis import given
from hypothesis import strategies as st
from streaming_data_types import serialise_da00, serialise_ev44, serialise_f144, serialise_x5f2
from streaming_data_types.dataarray_da00 import Variable

from worker.sources.ess_decode import (
    DecodeError,
    decode_da00,
    decode_f144,
    decode_x5f2,
    schema_of,
    source_name_of,
)
from worker.sources.ess_encode import encode_da00, encode_f144

T = 1_700_000_000_123_456_789


def _spectrum() -> bytes:
    return serialise_da00(  # type: ignore[no-any-return]
        "mon1",
        T,
        [
            Variable(name="signal", data=np.array([1.0, 4.0, 9.0]), axes=["tof"], shape=(3,),
                     unit="counts", label="monitor"),
            Variable(name="errors", data=np.array([1.0, 2.0, 3.0]), axes=["tof"], shape=(3,)),
            Variable(name="tof", data=np.array([0.0, 10.0, 20.0, 30.0]), axes=["tof"],
                     shape=(4,), unit="us"),
        ],
    )  # fmt: skip


def test_da00_signal_errors_and_bin_edges_become_a_data_array_with_variances() -> None:
    decoded = decode_da00(_spectrum())

    expected = sc.DataArray(
        sc.array(dims=["tof"], values=[1.0, 4.0, 9.0], variances=[1.0, 4.0, 9.0], unit="counts"),
        coords={"tof": sc.array(dims=["tof"], values=[0.0, 10.0, 20.0, 30.0], unit="us")},
        name="monitor",
    )
    assert sc.identical(decoded.data, expected)
    assert decoded.data.coords.is_edges("tof")
    assert decoded.time_ns == T


def test_da00_image_keeps_its_dims_dtype_and_pixel_coords() -> None:
    values = np.arange(12, dtype=np.int32).reshape(3, 4)
    payload = serialise_da00(
        "cam",
        T,
        [
            Variable(name="signal", data=values, axes=["y", "x"], shape=(3, 4), unit="counts"),
            Variable(name="x", data=np.arange(4.0), axes=["x"], shape=(4,), unit="mm"),
            Variable(name="y", data=np.arange(3.0), axes=["y"], shape=(3,), unit="mm"),
        ],
    )

    data = decode_da00(payload).data

    assert data.dims == ("y", "x")
    assert data.dtype == sc.DType.int32
    np.testing.assert_array_equal(data.values, values)
    assert data.coords["x"].unit == sc.Unit("mm")
    assert not data.coords.is_edges("x")


def test_da00_datetime_offsets_become_datetimes() -> None:
    stamps = np.array([T, T + 1000], dtype=np.int64)
    payload = serialise_da00(
        "s",
        T,
        [
            Variable(name="signal", data=np.ones(2), axes=["time"], shape=(2,), unit="K"),
            Variable(name="time", data=stamps, axes=["time"], shape=(2,), unit="datetime64[ns]"),
        ],
    )

    time = decode_da00(payload).data.coords["time"]

    assert time.dtype == sc.DType.datetime64
    np.testing.assert_array_equal(time.values, stamps.astype("datetime64[ns]"))


def test_encode_da00_round_trips_through_decode() -> None:
    data = sc.DataArray(
        sc.array(dims=["y", "x"], values=np.arange(6.0).reshape(2, 3), unit="counts"),
        coords={"x": sc.array(dims=["x"], values=[0.0, 1.0, 2.0, 3.0], unit="mm")},
        name="panel",
    )

    decoded = decode_da00(encode_da00("panel", T, data))

    assert sc.identical(decoded.data, data.astype("float32"))


def test_f144_value_becomes_0d_with_the_mapped_unit_and_its_time() -> None:
    decoded = decode_f144(serialise_f144("temp", 295.5, T), "K")

    assert decoded.data.ndim == 0
    assert decoded.data.value == 295.5
    assert decoded.data.unit == sc.Unit("K")
    assert decoded.data.coords["time"].value == np.datetime64(T, "ns")
    assert decoded.time_ns == T


def test_encode_f144_round_trips_through_decode() -> None:
    data = sc.DataArray(sc.scalar(1013.25, unit="mbar"))

    assert decode_f144(encode_f144("p", T, data), "mbar").data.value == 1013.25


def test_x5f2_status_gives_service_host_and_state() -> None:
    payload = serialise_x5f2("reducer", "2.1", "reducer-1", "node7", 4242, 2000,
                             json.dumps({"state": "running", "jobs": 3}))  # fmt: skip

    status = decode_x5f2(payload)

    assert (status.service_id, status.host, status.state) == ("reducer-1", "node7", "running")
    assert (status.software, status.version, status.pid) == ("reducer", "2.1", 4242)
    assert status.update_interval_ms == 2000


def test_x5f2_state_may_sit_in_a_nested_message() -> None:
    payload = serialise_x5f2("s", "1", "id", "h", 1, 1000, '{"message": {"state": "error"}}')

    assert decode_x5f2(payload).state == "error"


def test_source_name_is_read_without_decoding_the_arrays() -> None:
    assert source_name_of(_spectrum(), "da00") == "mon1"
    assert source_name_of(serialise_f144("temp", 1.0, T), "f144") == "temp"


@pytest.mark.parametrize("payload", [b"", b"abc", b"1234zzzz", b"\x00" * 64])
def test_bytes_in_no_ess_format_have_an_unknown_schema(payload: bytes) -> None:
    with pytest.raises(DecodeError) as raised:
        schema_of(payload)
    assert raised.value.reason == "schema"


def test_other_ess_schemas_are_known_but_are_not_da00() -> None:
    ev44 = serialise_ev44("det", 0, [T], [0], [1], [2])

    assert schema_of(ev44) == "ev44"


def test_truncated_da00_raises_decode_error_unless_it_lost_only_trailing_text() -> None:
    payload = _spectrum()
    full = decode_da00(payload).data
    failed = 0
    for length in range(8, len(payload)):
        try:
            decoded = decode_da00(payload[:length]).data
        except DecodeError:
            failed += 1
        else:  # flatbuffers slices strings without bounds checks: a label may lose its end
            assert sc.identical(decoded.data, full.data)
            assert sc.identical(decoded.coords["tof"], full.coords["tof"])
    assert failed > len(payload) * 0.9


@given(st.data())
def test_fuzzed_da00_bytes_decode_or_raise_decode_error_and_nothing_else(
    data: st.DataObject,
) -> None:
    payload = bytearray(_spectrum())
    flips = data.draw(st.lists(st.integers(8, len(payload) - 1), min_size=1, max_size=8))
    for index in flips:
        payload[index] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_da00(bytes(payload))
    except DecodeError as exc:
        assert exc.reason in {"decode", "shape"}
        assert str(exc).endswith(".")
    else:
        assert isinstance(decoded.data, sc.DataArray)


def test_a_coordinate_that_fits_no_dim_is_a_shape_error_naming_it() -> None:
    payload = serialise_da00(
        "s",
        T,
        [
            Variable(name="signal", data=np.ones(4), axes=["x"], shape=(4,)),
            Variable(name="x", data=np.ones(7), axes=["x"], shape=(7,), unit="mm"),
        ],
    )

    with pytest.raises(DecodeError, match="'x' has 7 values along 'x'") as raised:
        decode_da00(payload)
    assert raised.value.reason == "shape"


def test_errors_of_another_shape_than_the_signal_are_a_shape_error() -> None:
    payload = serialise_da00(
        "s",
        T,
        [
            Variable(name="signal", data=np.ones(4), axes=["x"], shape=(4,)),
            Variable(name="errors", data=np.ones(3), axes=["x"], shape=(3,)),
        ],
    )

    with pytest.raises(DecodeError) as raised:
        decode_da00(payload)
    assert raised.value.reason == "shape"


def test_a_da00_message_without_signal_says_what_it_has() -> None:
    payload = serialise_da00("s", T, [Variable(name="counts", data=np.ones(2), axes=["x"])])

    with pytest.raises(DecodeError, match=r"no 'signal' variable.*'counts'"):
        decode_da00(payload)
