"""What a worker does with a job it holds when its stored spec changed (worker/held_jobs.py)."""

from __future__ import annotations

import pytest

from livegrid.models import Desired, JobSpec, Workflow
from worker.held_jobs import HeldJobPlan, plan_held_job

HELD = JobSpec(id="j", workflow=Workflow.CUMULATIVE, source="detector_panel_0", params={"a": 1})


def _changed(**changes: object) -> JobSpec:
    return HELD.model_copy(update=changes)


@pytest.mark.parametrize(
    ("case", "current", "expected"),
    [
        ("unchanged", HELD, HeldJobPlan()),
        ("only its version moved", _changed(version=7), HeldJobPlan()),
        ("removed from ns:jobs", None, HeldJobPlan(stop=True)),
        ("desired stopped", _changed(desired=Desired.STOPPED), HeldJobPlan(stop=True)),
        ("reset", _changed(reset_epoch=1), HeldJobPlan(reset=True)),
        ("new params", _changed(params={"a": 2}), HeldJobPlan(restart=True)),
        ("new source", _changed(source="monitor_1"), HeldJobPlan(restart=True)),
        ("new workflow", _changed(workflow=Workflow.LATEST), HeldJobPlan(restart=True)),
        (
            "reset and new params",
            _changed(reset_epoch=1, params={"a": 2}),
            HeldJobPlan(reset=True, restart=True),
        ),
        (
            "stopped and reset: the stop wins",
            _changed(desired=Desired.STOPPED, reset_epoch=1),
            HeldJobPlan(stop=True),
        ),
        (
            "stopped with new params: the runner still learns them",
            _changed(desired=Desired.STOPPED, params={"a": 2}),
            HeldJobPlan(stop=True, restart=True),
        ),
    ],
)
def test_held_job_plan(case: str, current: JobSpec | None, expected: HeldJobPlan) -> None:
    assert plan_held_job(HELD, current) == expected, case


def test_params_equal_in_another_order_are_the_same_definition() -> None:
    held = _changed(params={"a": 1, "b": 2})
    assert plan_held_job(held, _changed(params={"b": 2, "a": 1})) == HeldJobPlan()
