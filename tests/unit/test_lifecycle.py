"""The layer lifecycle of docs/architecture.md, exhaustively and property-based."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livegrid.lifecycle import TRANSITIONS, LayerState, Lifecycle, Outcome, Transition

S, T = LayerState, Transition

EXPECTED = {
    (None, T.LAYER_ADDED): S.WAITING_FOR_JOB,
    (S.WAITING_FOR_JOB, T.JOB_STARTED): S.WAITING_FOR_DATA,
    (S.WAITING_FOR_JOB, T.ERROR_OCCURRED): S.ERROR,
    (S.WAITING_FOR_DATA, T.JOB_STARTED): S.WAITING_FOR_DATA,
    (S.WAITING_FOR_DATA, T.DATA_ARRIVED): S.READY,
    (S.WAITING_FOR_DATA, T.JOB_STOPPED): S.STOPPED,
    (S.WAITING_FOR_DATA, T.ERROR_OCCURRED): S.ERROR,
    (S.READY, T.JOB_STARTED): S.WAITING_FOR_DATA,
    (S.READY, T.JOB_STOPPED): S.STOPPED,
    (S.READY, T.ERROR_OCCURRED): S.ERROR,
    (S.STOPPED, T.JOB_STARTED): S.WAITING_FOR_DATA,
    (S.STOPPED, T.ERROR_OCCURRED): S.ERROR,
    (S.ERROR, T.JOB_STARTED): S.WAITING_FOR_DATA,
    (S.ERROR, T.DATA_ARRIVED): S.READY,
    (S.ERROR, T.JOB_STOPPED): S.STOPPED,
    (S.ERROR, T.ERROR_OCCURRED): S.ERROR,
}
ALL_PAIRS = [(s, t) for s in (None, *LayerState) for t in Transition]


def _at(state: LayerState | None, version: int = 5) -> Lifecycle:
    return Lifecycle(state=state, version=version, error="old" if state is S.ERROR else None)


def test_transition_table_is_the_documented_one() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("state", "transition"), ALL_PAIRS)
def test_every_state_and_transition_pair_behaves_as_documented(
    state: LayerState | None, transition: Transition
) -> None:
    before = _at(state)
    after, outcome = before.apply(transition, error="new failure")
    if (state, transition) == (S.READY, T.DATA_ARRIVED):
        assert (after, outcome) == (before, Outcome.UNCHANGED)
    elif (state, transition) in EXPECTED:
        assert outcome is Outcome.APPLIED
        assert after.state is EXPECTED[(state, transition)]
        assert after.version == before.version + 1
    else:
        assert (after, outcome) == (before, Outcome.REJECTED)


def test_added_layer_waits_for_its_job_at_version_one() -> None:
    assert Lifecycle.added() == Lifecycle(S.WAITING_FOR_JOB, 1, None)


def test_job_started_while_waiting_for_data_still_bumps_version() -> None:
    waiting = Lifecycle.added().apply(T.JOB_STARTED)[0]
    again, outcome = waiting.apply(T.JOB_STARTED)
    assert outcome is Outcome.APPLIED
    assert again.state is S.WAITING_FOR_DATA
    assert again.version == waiting.version + 1


def test_error_keeps_message_and_recovery_clears_it() -> None:
    ready = Lifecycle(S.READY, 3)
    failed = ready.apply(T.ERROR_OCCURRED, error="bad shape")[0]
    assert (failed.state, failed.error) == (S.ERROR, "bad shape")
    recovered = failed.apply(T.DATA_ARRIVED)[0]
    assert (recovered.state, recovered.error) == (S.READY, None)


def test_repeating_the_same_error_is_not_a_transition() -> None:
    failed = Lifecycle(S.ERROR, 4, "bad shape")
    assert failed.apply(T.ERROR_OCCURRED, error="bad shape") == (failed, Outcome.UNCHANGED)


def test_error_without_message_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="message"):
        Lifecycle(S.READY, 1).apply(T.ERROR_OCCURRED)


@given(st.lists(st.sampled_from(list(Transition)), max_size=60))
def test_version_is_monotonic_and_bumps_exactly_on_effective_transitions(
    transitions: list[Transition],
) -> None:
    lifecycle = Lifecycle()
    for index, transition in enumerate(transitions):
        after, outcome = lifecycle.apply(transition, error=f"failure {index % 3}")
        if outcome is Outcome.APPLIED:
            assert after.version == lifecycle.version + 1
            assert TRANSITIONS[(lifecycle.state, transition)] is after.state
        else:
            assert after == lifecycle
        assert (after.state is S.ERROR) == (after.error is not None)
        lifecycle = after
