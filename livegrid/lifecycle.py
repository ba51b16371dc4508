"""The plot layer lifecycle as a pure state machine (no Redis, no Panel).

``version`` tells sessions "rebuild the presenter": it bumps by one on every
effective transition, and on ``job_started`` even when the layer already waits
for data (a new plotter replaces the old one). ``frame_seq`` (kept by the layer
store, not here) tells sessions "send the new data".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum


class LayerState(StrEnum):
    WAITING_FOR_JOB = "waiting_for_job"
    WAITING_FOR_DATA = "waiting_for_data"
    READY = "ready"
    STOPPED = "stopped"
    ERROR = "error"


class Transition(StrEnum):
    LAYER_ADDED = "layer_added"
    JOB_STARTED = "job_started"
    DATA_ARRIVED = "data_arrived"
    JOB_STOPPED = "job_stopped"
    ERROR_OCCURRED = "error_occurred"


class Outcome(StrEnum):
    APPLIED = "applied"  # effective transition: version bumped
    UNCHANGED = "unchanged"  # allowed no-op (data in READY, same error again)
    REJECTED = "rejected"  # invalid in this state: nothing changes


_S = LayerState
_T = Transition

# (state, transition) -> next state, for the effective transitions.
# ``None`` as a state is a layer not yet added.
TRANSITIONS: dict[tuple[LayerState | None, Transition], LayerState] = {
    (None, _T.LAYER_ADDED): _S.WAITING_FOR_JOB,
    (_S.WAITING_FOR_JOB, _T.JOB_STARTED): _S.WAITING_FOR_DATA,
    (_S.WAITING_FOR_DATA, _T.JOB_STARTED): _S.WAITING_FOR_DATA,
    (_S.WAITING_FOR_DATA, _T.DATA_ARRIVED): _S.READY,
    (_S.WAITING_FOR_DATA, _T.JOB_STOPPED): _S.STOPPED,
    (_S.READY, _T.JOB_STARTED): _S.WAITING_FOR_DATA,
    (_S.READY, _T.JOB_STOPPED): _S.STOPPED,
    (_S.STOPPED, _T.JOB_STARTED): _S.WAITING_FOR_DATA,
    (_S.ERROR, _T.JOB_STARTED): _S.WAITING_FOR_DATA,
    (_S.ERROR, _T.DATA_ARRIVED): _S.READY,
    (_S.ERROR, _T.JOB_STOPPED): _S.STOPPED,
}
for _state in (None, *LayerState):
    if _state is not None:
        TRANSITIONS[(_state, _T.ERROR_OCCURRED)] = _S.ERROR

#: Allowed no-ops: a stream of data keeps a READY layer READY.
NO_OPS: frozenset[tuple[LayerState, Transition]] = frozenset({(_S.READY, _T.DATA_ARRIVED)})


@dataclass(frozen=True)
class Lifecycle:
    """A layer's lifecycle state; ``state is None`` before ``layer_added``."""

    state: LayerState | None = None
    version: int = 0
    error: str | None = None

    @classmethod
    def added(cls) -> Lifecycle:
        return cls().apply(Transition.LAYER_ADDED)[0]

    def apply(self, transition: Transition, error: str | None = None) -> tuple[Lifecycle, Outcome]:
        """Return the lifecycle after ``transition`` and whether it was effective.

        ``error`` is the user-facing message and is required for ``error_occurred``.
        """
        if transition is Transition.ERROR_OCCURRED:
            if not error:
                raise ValueError("error_occurred needs a message for the user")
            if self.state is LayerState.ERROR and self.error == error:
                return self, Outcome.UNCHANGED
        if self.state is not None and (self.state, transition) in NO_OPS:
            return self, Outcome.UNCHANGED
        target = TRANSITIONS.get((self.state, transition))
        if target is None:
            return self, Outcome.REJECTED
        message = error if target is LayerState.ERROR else None
        return replace(self, state=target, version=self.version + 1, error=message), (
            Outcome.APPLIED
        )

    @property
    def has_frame_to_show(self) -> bool:
        """READY shows live data; STOPPED shows its last frame as stale."""
        return self.state in (LayerState.READY, LayerState.STOPPED)
