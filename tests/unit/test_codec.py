"""Frames survive msgpack byte for byte; anything unreadable raises FrameDecodeError."""

from __future__ import annotations

import contextlib

import msgpack
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from livegrid.codec import (
    SCHEMA_VERSION,
    Frame,
    FrameDecodeError,
    FrameEncodeError,
    FrameKind,
    decode_frame,
    encode_frame,
)


def _roundtrip(array: np.ndarray) -> np.ndarray:
    frame = Frame(kind=FrameKind.IMAGE, arrays={"a": array})
    return decode_frame(encode_frame(frame)).arrays["a"]


@pytest.mark.parametrize(
    "dtype",
    ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
     "float16", "float32", "float64", "complex64", "complex128",
     "datetime64[ns]", "datetime64[s]", "timedelta64[ms]", ">f8", "<U5"],
)  # fmt: skip
def test_every_supported_dtype_roundtrips(dtype: str) -> None:
    array = np.arange(6).astype(dtype).reshape(2, 3)
    out = _roundtrip(array)
    assert out.dtype == array.dtype
    np.testing.assert_array_equal(out, array)


def test_zero_dimensional_array_keeps_its_shape() -> None:
    out = _roundtrip(np.array(2.5, dtype=np.float32))
    assert out.shape == ()
    assert out == np.float32(2.5)


def test_empty_array_keeps_its_shape() -> None:
    out = _roundtrip(np.zeros((0, 7), dtype=np.int32))
    assert out.shape == (0, 7)


def test_non_contiguous_array_roundtrips() -> None:
    base = np.arange(40, dtype=np.float64).reshape(5, 8)
    view = base[::2, 1::3].T
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(_roundtrip(view), view)


def test_nan_and_inf_are_preserved_bit_for_bit() -> None:
    array = np.array([np.nan, np.inf, -np.inf, -0.0, 1.0])
    out = _roundtrip(array)
    assert out.tobytes() == array.tobytes()


def test_decoded_arrays_are_read_only_views_not_copies() -> None:
    out = _roundtrip(np.ones((64, 64), dtype=np.float32))
    assert not out.flags.writeable
    assert out.base is not None


def test_all_frame_fields_roundtrip() -> None:
    frame = Frame(
        kind=FrameKind.LINES,
        title="Monitor 1",
        labels={"x": "tof", "values": "counts"},
        units={"x": "µs", "values": "counts"},
        arrays={"x": np.linspace(0, 1, 5), "values": np.arange(5.0)},
        attrs={"log": True, "clim": [0.5, 10.0]},
        data_start=1,
        data_end=2,
        computed_at=3,
    )
    out = decode_frame(encode_frame(frame))
    assert (out.kind, out.title, out.labels, out.units, out.attrs) == (
        frame.kind, frame.title, frame.labels, frame.units, frame.attrs,
    )  # fmt: skip
    assert (out.data_start, out.data_end, out.computed_at) == (1, 2, 3)


@given(
    hnp.arrays(
        dtype=st.one_of(hnp.integer_dtypes(), hnp.floating_dtypes(), hnp.boolean_dtypes()),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    )
)
def test_arbitrary_arrays_roundtrip_exactly(array: np.ndarray) -> None:
    out = _roundtrip(array)
    assert out.dtype == array.dtype
    assert out.shape == array.shape
    assert out.tobytes() == array.tobytes()


def test_object_arrays_are_refused_with_a_readable_error() -> None:
    with pytest.raises(FrameEncodeError, match="object"):
        encode_frame(Frame(kind=FrameKind.TABLE, arrays={"a": np.array([{}, []], dtype=object)}))


def test_unknown_schema_is_refused_with_the_versions_named() -> None:
    data = msgpack.packb({"schema": SCHEMA_VERSION + 1, "kind": "image"})
    with pytest.raises(FrameDecodeError, match=f"schema {SCHEMA_VERSION + 1}"):
        decode_frame(data)


def test_truncated_bytes_raise_frame_decode_error() -> None:
    data = encode_frame(Frame(kind=FrameKind.IMAGE, arrays={"a": np.ones(100)}))
    with pytest.raises(FrameDecodeError):
        decode_frame(data[: len(data) // 2])


def test_array_with_wrong_byte_count_is_refused() -> None:
    payload = msgpack.unpackb(encode_frame(Frame(kind="image", arrays={"a": np.ones(4)})))
    payload["arrays"]["a"]["shape"] = [5]
    with pytest.raises(FrameDecodeError, match="should hold 40 bytes"):
        decode_frame(msgpack.packb(payload))


def test_unknown_kind_is_refused() -> None:
    payload = msgpack.unpackb(encode_frame(Frame(kind="image")))
    payload["kind"] = "hologram"
    with pytest.raises(FrameDecodeError):
        decode_frame(msgpack.packb(payload))


@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_frame_decode_error(data: bytes) -> None:
    with contextlib.suppress(FrameDecodeError):
        decode_frame(data)
