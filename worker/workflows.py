"""What a job does to its source's stream: latest value, running sums, history.

A workflow takes messages one by one (``push``), can start over (``reset``) and
offers named outputs (``outputs``), each with the data time range it covers
(``time_range``). Memory is bounded for any stream length. Input that does not
fit what the workflow holds (a detector that changed shape, a new unit) raises
:class:`WorkflowError` with a sentence for the user; the workflow keeps its
state, so the job can report the error and go on or be reset. Sums hold float64
values only: variances are dropped, and the newest message's masks apply.

=========== ======================= ================================================
workflow    outputs                 params
=========== ======================= ================================================
latest      latest                  none
cumulative  cumulative, latest      none (sum since start or the last reset)
window      window                  ``seconds`` (default 10): sum over that data time
history     history                 ``max_points`` (default 10000): 0-D values along
                                    ``time``, oldest dropped first
=========== ======================= ================================================
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
import scipp as sc
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from worker.sources.base import Message
from worker.state_codec import State

_SUMMABLE = (sc.DType.float64, sc.DType.float32, sc.DType.int64, sc.DType.int32, sc.DType.bool)

#: The window keeps at most this many partial sums, so its memory is bounded and
#: its left edge is exact to ``seconds / WINDOW_BUCKETS``.
WINDOW_BUCKETS = 64


class WorkflowError(Exception):
    """Input the workflow cannot combine with what it holds; the message is for the user."""


class Workflow(Protocol):
    def push(self, message: Message) -> None:
        """Take one message; raises :class:`WorkflowError` if it does not fit."""
        ...

    def reset(self) -> None:
        """Forget everything pushed so far."""
        ...

    def outputs(self) -> dict[str, sc.DataArray]:
        """Snapshots of the outputs that have data (none before the first push)."""
        ...

    def time_range(self, output: str) -> tuple[int, int] | None:
        """``(start_ns, end_ns)`` of the data behind ``output``, or None before data."""
        ...

    def snapshot(self) -> State:
        """Everything pushed so far, as a checkpoint's state (copies nothing it need not)."""
        ...

    def restore(self, state: State) -> None:
        """Continue from ``snapshot()``'s ``state``: same outputs, same future sums.

        Raises ``KeyError``/``ValueError`` for a state of another workflow."""
        ...


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class NoParams(_Params):
    pass


class WindowParams(_Params):
    seconds: float = Field(10.0, gt=0, le=86_400, description="Width of the window in seconds.")


class HistoryParams(_Params):
    max_points: int = Field(
        10_000, ge=2, le=1_000_000, description="Values kept; the oldest go first."
    )


# --- shared checks -------------------------------------------------------------------------


def _who(data: sc.DataArray, *, start: bool = True) -> str:
    """The data's name for a message, or "the source" (capitalised at a sentence ``start``)."""
    if data.name:
        return repr(data.name)
    return "The source" if start else "the source"


def _shape(data: sc.DataArray) -> str:
    if data.ndim == 0:
        return "0-D"
    sizes = ", ".join(f"{dim}: {size}" for dim, size in data.sizes.items())
    return f"{data.ndim}-D ({sizes})"


def _check_summable(data: sc.DataArray) -> None:
    if data.is_binned or data.dtype not in _SUMMABLE:
        raise WorkflowError(f"{_who(data)} delivers {data.dtype} values, which cannot be summed.")


def _float_copy(data: sc.DataArray) -> sc.DataArray:
    """A float64 copy of the values, without variances and without scalar coords
    (e.g. a time stamp that differs per message)."""
    _check_summable(data)
    values = data.data.astype("float64", copy=True)
    values.variances = None
    coords = {name: coord for name, coord in data.coords.items() if coord.ndim > 0}
    masks = {name: mask.copy() for name, mask in data.masks.items()}
    return sc.DataArray(values, coords=coords, masks=masks, name=data.name)


def _check_fits(held: sc.DataArray, new: sc.DataArray) -> None:
    """Raise :class:`WorkflowError` unless ``new`` can be added to ``held``."""
    _check_summable(new)
    what = _who(new)
    if held.sizes != new.sizes:
        raise WorkflowError(
            f"{what} changed shape from {_shape(held)} to {_shape(new)}; "
            "reset the job to start summing the new shape."
        )
    if held.unit != new.unit:
        raise WorkflowError(
            f"{what} changed unit from {held.unit} to {new.unit}; "
            "reset the job to start summing in the new unit."
        )
    for name, coord in held.coords.items():
        other = new.coords.get(name)
        if other is None or not sc.identical(coord, other):
            raise WorkflowError(
                f"{what} changed its {name!r} coordinate; "
                "reset the job to start summing on the new coordinate."
            )


def _take_masks(held: sc.DataArray, new: sc.DataArray) -> None:
    """Sums show the newest message's masks: the latest knowledge of bad pixels."""
    held.masks.clear()
    for name, mask in new.masks.items():
        held.masks[name] = mask.copy()


# --- workflows -----------------------------------------------------------------------------


class Latest:
    """The most recent message."""

    def __init__(self) -> None:
        self._latest: Message | None = None

    def push(self, message: Message) -> None:
        self._latest = message

    def reset(self) -> None:
        self._latest = None

    def outputs(self) -> dict[str, sc.DataArray]:
        return {} if self._latest is None else {"latest": self._latest.data.copy()}

    def time_range(self, output: str) -> tuple[int, int] | None:
        _known(output, ("latest",))
        return None if self._latest is None else (self._latest.start_ns, self._latest.end_ns)

    def snapshot(self) -> State:
        state = State()
        self.snapshot_into(state, "latest")
        return state

    def snapshot_into(self, state: State, prefix: str) -> None:
        if self._latest is not None:
            latest = self._latest
            state.put_data(prefix, latest.data, shared=True)  # messages are never changed
            state.meta[prefix + ".msg"] = [latest.source, latest.start_ns, latest.end_ns]

    def restore(self, state: State) -> None:
        self.restore_from(state, "latest")

    def restore_from(self, state: State, prefix: str) -> None:
        if prefix not in state.meta:
            self._latest = None
            return
        source, start_ns, end_ns = state.meta[prefix + ".msg"]
        self._latest = Message(str(source), state.get_data(prefix), int(start_ns), int(end_ns))


class Cumulative:
    """The sum of every message since start or the last reset, and the latest message."""

    def __init__(self) -> None:
        self._latest = Latest()
        self._sum: sc.DataArray | None = None
        self._start_ns = 0
        self._end_ns = 0

    def push(self, message: Message) -> None:
        if self._sum is None:
            self._sum = _float_copy(message.data)
            self._start_ns = message.start_ns
        else:
            _check_fits(self._sum, message.data)
            self._sum.values += message.data.values
            _take_masks(self._sum, message.data)
        self._end_ns = message.end_ns
        self._latest.push(message)

    def reset(self) -> None:
        self._latest.reset()
        self._sum = None

    def outputs(self) -> dict[str, sc.DataArray]:
        if self._sum is None:
            return {}
        return {"cumulative": self._sum.copy(), **self._latest.outputs()}

    def time_range(self, output: str) -> tuple[int, int] | None:
        if _known(output, ("cumulative", "latest")) == "latest":
            return self._latest.time_range(output)
        return None if self._sum is None else (self._start_ns, self._end_ns)

    def snapshot(self) -> State:
        state = State()
        self._latest.snapshot_into(state, "latest")
        if self._sum is not None:
            state.put_data("sum", self._sum)
            state.meta["range"] = [self._start_ns, self._end_ns]
        return state

    def restore(self, state: State) -> None:
        self._latest.restore_from(state, "latest")
        if "sum" not in state.meta:
            self._sum = None
            return
        self._sum = state.get_data("sum")
        self._start_ns, self._end_ns = (int(v) for v in state.meta["range"])


@dataclass
class _Bucket:
    index: int
    start_ns: int
    end_ns: int
    values: np.ndarray


class Window:
    """The sum of the messages that ended within ``seconds`` of the newest one.

    Messages are summed into buckets of ``seconds / WINDOW_BUCKETS`` (by end time),
    and whole buckets leave the window, so memory stays at most
    ``WINDOW_BUCKETS + 1`` arrays whatever the rate. The window follows data
    time, not the wall clock: when the source pauses, it keeps its last sum.
    """

    def __init__(self, seconds: float) -> None:
        self._span_ns = round(seconds * 1e9)
        self._bucket_ns = max(1, self._span_ns // WINDOW_BUCKETS)
        self._template: sc.DataArray | None = None
        self._buckets: deque[_Bucket] = deque()
        self._newest_end_ns = 0

    def push(self, message: Message) -> None:
        if self._template is None:
            self._template = _float_copy(message.data)
        else:
            _check_fits(self._template, message.data)
            if message.end_ns <= self._newest_end_ns - self._span_ns:
                return  # older than the whole window
            _take_masks(self._template, message.data)
        index = message.end_ns // self._bucket_ns
        newest = self._buckets[-1] if self._buckets else None
        if newest is not None and index <= newest.index:
            # Same bucket, or late within the window: the newest bucket takes it, so
            # bucket indices only grow and at most WINDOW_BUCKETS + 1 are ever held.
            newest.values += message.data.values
            newest.start_ns = min(newest.start_ns, message.start_ns)
            newest.end_ns = max(newest.end_ns, message.end_ns)
        else:
            values = message.data.values.astype(np.float64)
            self._buckets.append(_Bucket(index, message.start_ns, message.end_ns, values))
        self._newest_end_ns = max(self._newest_end_ns, message.end_ns)
        while self._buckets[0].end_ns <= self._newest_end_ns - self._span_ns:
            self._buckets.popleft()

    def reset(self) -> None:
        self._template = None
        self._buckets.clear()
        self._newest_end_ns = 0

    def outputs(self) -> dict[str, sc.DataArray]:
        if self._template is None:
            return {}
        total = self._buckets[0].values.copy()
        for bucket in list(self._buckets)[1:]:
            total += bucket.values
        template = self._template
        return {
            "window": sc.DataArray(
                sc.array(dims=template.dims, values=total, unit=template.unit),
                coords=dict(template.coords),
                masks={name: mask.copy() for name, mask in template.masks.items()},
                name=template.name,
            )
        }

    def time_range(self, output: str) -> tuple[int, int] | None:
        _known(output, ("window",))
        if not self._buckets:
            return None
        return min(b.start_ns for b in self._buckets), max(b.end_ns for b in self._buckets)

    def snapshot(self) -> State:
        state = State()
        if self._template is None:
            return state
        state.put_data("template", self._template)
        state.meta["window"] = {
            "span_ns": self._span_ns,
            "newest_end_ns": self._newest_end_ns,
            "buckets": [[b.index, b.start_ns, b.end_ns] for b in self._buckets],
        }
        for i, bucket in enumerate(self._buckets):
            state.arrays[f"bucket.{i}"] = bucket.values
        return state

    def restore(self, state: State) -> None:
        self.reset()
        if "template" not in state.meta:
            return
        window = state.meta["window"]
        if int(window["span_ns"]) != self._span_ns:
            raise ValueError("the checkpoint's window has another width")
        self._template = state.get_data("template")
        self._newest_end_ns = int(window["newest_end_ns"])
        for i, (index, start_ns, end_ns) in enumerate(window["buckets"]):
            values = state.arrays[f"bucket.{i}"]
            self._buckets.append(_Bucket(int(index), int(start_ns), int(end_ns), values))


class History:
    """0-D values along ``time`` in a ring of ``max_points``; the oldest are dropped first.

    A value's time is its ``time`` coordinate if it has one, else its message's end;
    the output's time range runs from the oldest kept value's time to the newest's.
    """

    def __init__(self, max_points: int) -> None:
        self._times = np.zeros(max_points, dtype="datetime64[ns]")
        self._values = np.zeros(max_points, dtype=np.float64)
        self._count = 0  # values pushed since reset; the ring holds the last min(count, size)
        self._unit: sc.Unit | None = None
        self._name = ""

    def push(self, message: Message) -> None:
        data = message.data
        if data.ndim != 0:
            raise WorkflowError(
                f"The history workflow records single values, but {_who(data, start=False)} "
                f"delivers {_shape(data)} data; use the latest, cumulative or window workflow."
            )
        if self._count and data.unit != self._unit:
            raise WorkflowError(
                f"{_who(data)} changed unit from {self._unit} to {data.unit}; "
                "reset the job to start a new history."
            )
        try:
            value = float(data.value)
        except (TypeError, ValueError) as exc:
            raise WorkflowError(
                f"{_who(data)} delivers {data.dtype} values, which cannot be plotted over time."
            ) from exc
        stamp = _time_of(data, message.end_ns)
        slot = self._count % self._values.size
        self._values[slot] = value
        self._times[slot] = stamp
        if self._count == 0:
            self._unit = data.unit
            self._name = data.name
        self._count += 1

    def reset(self) -> None:
        self._count = 0

    def outputs(self) -> dict[str, sc.DataArray]:
        if self._count == 0:
            return {}
        order = self._order()
        times = sc.array(dims=["time"], values=self._times[order], unit="ns")
        values = sc.array(dims=["time"], values=self._values[order], unit=self._unit)
        return {"history": sc.DataArray(values, coords={"time": times}, name=self._name)}

    def time_range(self, output: str) -> tuple[int, int] | None:
        _known(output, ("history",))
        if self._count == 0:
            return None
        order = self._order()
        stamps = self._times[order[[0, -1]]].astype(np.int64)
        return int(stamps[0]), int(stamps[1])

    def snapshot(self) -> State:
        state = State()
        state.meta["history"] = {
            "count": self._count,
            "unit": None if self._unit is None else str(self._unit),
            "name": self._name,
        }
        state.arrays["times"] = self._times.astype(np.int64)
        state.arrays["values"] = self._values
        return state

    def restore(self, state: State) -> None:
        history = state.meta["history"]
        values = state.arrays["values"]
        if values.shape != self._values.shape:
            raise ValueError("the checkpoint's history keeps another number of points")
        self._values = values.astype(np.float64)
        self._times = state.arrays["times"].astype("datetime64[ns]")
        self._count = int(history["count"])
        self._unit = None if history["unit"] is None else sc.Unit(history["unit"])
        self._name = str(history["name"])

    def _order(self) -> np.ndarray:
        """Ring slots from the oldest to the newest value."""
        size = self._values.size
        if self._count <= size:
            return np.arange(self._count)
        return (np.arange(size) + self._count) % size


def _time_of(data: sc.DataArray, default_ns: int) -> np.datetime64:
    coord = data.coords.get("time")
    if coord is None or coord.ndim != 0 or coord.dtype != sc.DType.datetime64:
        return np.datetime64(default_ns, "ns")
    return np.datetime64(coord.to(unit="ns", copy=False).value, "ns")


def _known(output: str, names: tuple[str, ...]) -> str:
    if output not in names:
        raise KeyError(f"no output {output!r}; this workflow offers {', '.join(names)}")
    return output


# --- registry ------------------------------------------------------------------------------

_P = TypeVar("_P", bound=BaseModel)


@dataclass(frozen=True)
class WorkflowSpec:
    """A workflow as the UI offers it: outputs, params model and how to build it."""

    name: str
    description: str
    outputs: tuple[str, ...]
    params: type[_Params]
    build: Callable[[Any], Workflow]
    #: Input dimensionality it needs; None: any.
    input_ndim: int | None = None
    #: Dimensionality of its outputs; None: that of its input.
    output_ndim: int | None = None


WORKFLOWS: dict[str, WorkflowSpec] = {
    spec.name: spec
    for spec in (
        WorkflowSpec("latest", "The most recent data.", ("latest",), NoParams, lambda p: Latest()),
        WorkflowSpec(
            "cumulative",
            "Sum of all data since the job started or was reset.",
            ("cumulative", "latest"),
            NoParams,
            lambda p: Cumulative(),
        ),
        WorkflowSpec(
            "window",
            "Sum of the data of the last few seconds.",
            ("window",),
            WindowParams,
            lambda p: Window(p.seconds),
        ),
        WorkflowSpec(
            "history",
            "Single values over time.",
            ("history",),
            HistoryParams,
            lambda p: History(p.max_points),
            input_ndim=0,
            output_ndim=1,
        ),
    )
}


def _parse(model: type[_P], params: Mapping[str, Any], what: str) -> _P:
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'params'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(f"The {what} has invalid parameters ({problems}).") from exc


def make_workflow(name: str, params: Mapping[str, Any] | None = None) -> Workflow:
    """A new workflow; ``ValueError`` with a readable message for unknown names or bad params."""
    spec = WORKFLOWS.get(name)
    if spec is None:
        raise ValueError(f"There is no workflow {name!r}; choose one of {', '.join(WORKFLOWS)}.")
    return spec.build(_parse(spec.params, params or {}, f"{name} workflow"))
