"""Claim and rebalance policy: pure functions over plain numbers."""

from __future__ import annotations

from collections.abc import Sequence

#: A worker holding n jobs waits n times this long before claiming another...
CLAIM_STEP_S = 0.25
#: ...but never longer than this, so a takeover after a worker loss stays quick.
MAX_CLAIM_WAIT_S = 1.0


def may_claim(*, held: int, claimable_for_s: float) -> bool:
    """Workers with fewer jobs claim first: the wait grows with the jobs already held."""
    return claimable_for_s >= min(held * CLAIM_STEP_S, MAX_CLAIM_WAIT_S)


def should_hand_over(*, mine: int, others: Sequence[int]) -> bool:
    """Give one job away when another live worker holds at least two fewer."""
    return bool(others) and mine - min(others) >= 2
