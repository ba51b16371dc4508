"""The claim and rebalance policy (worker/claims.py), as tables."""

from __future__ import annotations

import pytest

from worker.claims import CLAIM_STEP_S, MAX_CLAIM_WAIT_S, may_claim, should_hand_over


@pytest.mark.parametrize(
    ("held", "claimable_for_s", "expected"),
    [
        (0, 0.0, True),  # an idle worker claims at once
        (1, 0.0, False),
        (1, CLAIM_STEP_S - 0.01, False),
        (1, CLAIM_STEP_S, True),
        (2, CLAIM_STEP_S, False),
        (2, 2 * CLAIM_STEP_S, True),
        (3, 0.74, False),
        (3, 0.75, True),
        (10, MAX_CLAIM_WAIT_S - 0.01, False),  # the wait is capped...
        (10, MAX_CLAIM_WAIT_S, True),  # ...so a takeover stays quick for a busy worker
        (100, MAX_CLAIM_WAIT_S, True),
    ],
)
def test_a_worker_waits_longer_the_more_jobs_it_holds_up_to_a_cap(
    held: int, claimable_for_s: float, expected: bool
) -> None:
    assert may_claim(held=held, claimable_for_s=claimable_for_s) is expected


def test_the_worker_with_fewer_jobs_may_claim_first() -> None:
    waited = CLAIM_STEP_S
    assert may_claim(held=1, claimable_for_s=waited)
    assert not may_claim(held=2, claimable_for_s=waited)


@pytest.mark.parametrize(
    ("mine", "others", "expected"),
    [
        (5, [], False),  # alone: nobody to hand to
        (0, [0], False),
        (1, [0], False),  # a difference of one is balance
        (2, [0], True),
        (2, [1], False),
        (3, [1], True),
        (4, [3, 2], True),  # the emptiest peer counts
        (4, [3, 3], False),
        (6, [6, 1, 5], True),
        (1, [3], False),  # fewer than the peer: never
    ],
)
def test_a_job_is_handed_over_only_to_a_peer_with_at_least_two_fewer(
    mine: int, others: list[int], expected: bool
) -> None:
    assert should_hand_over(mine=mine, others=others) is expected
