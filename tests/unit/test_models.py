"""Specification of the workspace, job and notification models."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from livegrid.models import (
    Cell,
    Desired,
    Grid,
    JobSpec,
    Layer,
    Level,
    Notification,
    NotInWorkspaceError,
    Plotter,
    Workflow,
    Workspace,
)


def image(layer_id: str, job: str = "detector-0") -> Layer:
    return Layer(id=layer_id, job=job, output="cumulative", plotter=Plotter.IMAGE)


def cell(row: int, col: int, *layers: Layer, row_span: int = 1, col_span: int = 1) -> Cell:
    return Cell(row=row, col=col, row_span=row_span, col_span=col_span, layers=list(layers))


def grid(cells: list[Cell], grid_id: str = "g", rows: int = 2, cols: int = 2) -> Grid:
    return Grid(id=grid_id, rows=rows, cols=cols, cells=cells)


def error_of(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, Any]:
    (error,) = exc.value.errors()
    return dict(error)


@pytest.fixture
def workspace() -> Workspace:
    return Workspace(
        grids=[
            grid([cell(0, 0, image("a"), image("b", job="detector-1"))], grid_id="one"),
            grid([cell(1, 1, image("c"))], grid_id="two"),
        ],
        jobs=[JobSpec(id="detector-0", workflow=Workflow.CUMULATIVE, source="panel_0")],
    )


# --- layers ---


def test_layer_without_id_gets_a_short_unique_id() -> None:
    first, second = (Layer(job="j", output="latest", plotter="lines") for _ in range(2))
    assert first.id != second.id
    assert len(first.id) == 12


@pytest.mark.parametrize("bad_id", ["", "has space", "a:b", "x" * 65])
def test_layer_id_outside_the_id_pattern_is_rejected(bad_id: str) -> None:
    with pytest.raises(ValidationError):
        Layer(id=bad_id, job="j", output="latest", plotter="lines")


@pytest.mark.parametrize("plotter", ["rectangles", "vlines", "hlines"])
def test_static_layer_needs_no_job_and_is_static(plotter: str) -> None:
    layer = Layer(plotter=plotter, params={"y": [300]})
    assert layer.is_static
    assert layer.job is None


def test_static_layer_with_a_job_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"static overlay.*takes no job") as exc:
        Layer(job="detector-0", plotter="rectangles")
    assert error_of(exc)["ctx"]["at"] == ("job",)


def test_static_layer_with_an_output_is_rejected() -> None:
    with pytest.raises(ValidationError, match="takes no output"):
        Layer(output="latest", plotter="hlines")


@pytest.mark.parametrize("missing", ["job", "output"])
def test_data_layer_without_job_or_output_is_rejected(missing: str) -> None:
    fields: dict[str, Any] = {"job": "detector-0", "output": "latest", "plotter": "image"}
    del fields[missing]
    with pytest.raises(ValidationError, match=f"needs '{missing}'"):
        Layer(**fields)


def test_data_layer_is_not_static() -> None:
    assert not image("a").is_static


def test_unknown_plotter_is_rejected() -> None:
    with pytest.raises(ValidationError, match="plotter"):
        Layer(job="j", output="latest", plotter="pie")


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Layer.model_validate({"job": "j", "output": "latest", "plotter": "image", "colour": "red"})


def test_models_are_frozen() -> None:
    layer = image("a")
    with pytest.raises(ValidationError, match="frozen"):
        layer.title = "new"  # type: ignore[misc]


def test_changed_layer_gets_a_new_id_and_the_changes() -> None:
    layer = image("a")
    changed = layer.changed(params={"log": True})
    assert changed.id != layer.id
    assert changed.params == {"log": True}
    assert changed.job == layer.job


def test_changed_layer_is_validated() -> None:
    with pytest.raises(ValidationError, match="takes no job"):
        image("a").changed(plotter="vlines")


# --- grids: bounds and overlaps ---


def test_cells_side_by_side_do_not_overlap() -> None:
    g = grid([cell(0, 0), cell(0, 1), cell(1, 0, col_span=2)])
    assert len(g.cells) == 3


def test_cells_at_the_same_position_overlap() -> None:
    with pytest.raises(ValidationError, match="overlaps"):
        grid([cell(0, 0), cell(0, 0)])


def test_overlap_error_names_both_cells_with_spans_and_the_grid() -> None:
    with pytest.raises(ValidationError) as exc:
        grid([cell(0, 2), cell(0, 1, col_span=2)], grid_id="detectors", rows=1, cols=3)
    error = error_of(exc)
    assert error["msg"] == (
        "cell at row 0, col 1 (span 1\N{MULTIPLICATION SIGN}2) "
        "overlaps cell at row 0, col 2 in grid 'detectors'"
    )
    assert error["ctx"]["at"] == ("cells", 1)


def test_spanning_cell_overlaps_a_cell_inside_its_span() -> None:
    with pytest.raises(ValidationError, match="overlaps"):
        grid([cell(0, 0, row_span=2, col_span=2), cell(1, 1)])


@pytest.mark.parametrize(
    ("row", "col", "row_span", "col_span"),
    [(2, 0, 1, 1), (0, 2, 1, 1), (1, 0, 2, 1), (0, 1, 1, 2)],
)
def test_cell_reaching_beyond_the_grid_is_rejected(
    row: int, col: int, row_span: int, col_span: int
) -> None:
    with pytest.raises(ValidationError, match="reaches beyond grid 'g', which has 2 rows") as exc:
        grid([cell(0, 0), cell(row, col, row_span=row_span, col_span=col_span)])
    assert error_of(exc)["ctx"]["at"] == ("cells", 1)


@pytest.mark.parametrize(("rows", "cols"), [(0, 1), (1, 0), (13, 1), (1, 13)])
def test_grid_size_outside_1_to_12_is_rejected(rows: int, cols: int) -> None:
    with pytest.raises(ValidationError):
        Grid(id="g", rows=rows, cols=cols)


@pytest.mark.parametrize(("field", "value"), [("row", -1), ("col", -1), ("row_span", 0)])
def test_negative_position_or_empty_span_is_rejected(field: str, value: int) -> None:
    with pytest.raises(ValidationError):
        Cell(**{"row": 0, "col": 0, field: value})


@st.composite
def grids_with_cells(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    rows = draw(st.integers(1, 5))
    cols = draw(st.integers(1, 5))
    spec = st.integers(0, rows - 1).flatmap(
        lambda r: st.integers(0, cols - 1).flatmap(
            lambda c: st.tuples(
                st.just(r), st.just(c), st.integers(1, rows - r), st.integers(1, cols - c)
            )
        )
    )
    return rows, cols, draw(st.lists(spec, max_size=6))


@given(grids_with_cells())
def test_overlap_is_detected_exactly_when_two_cells_claim_a_slot(
    case: tuple[int, int, list[tuple[int, int, int, int]]],
) -> None:
    rows, cols, specs = case
    claimed: set[tuple[int, int]] = set()
    reference_overlap = False
    for row, col, row_span, col_span in specs:
        for slot in (
            (r, c) for r in range(row, row + row_span) for c in range(col, col + col_span)
        ):
            reference_overlap |= slot in claimed
            claimed.add(slot)
    cells = [cell(r, c, row_span=rs, col_span=cs) for r, c, rs, cs in specs]
    if reference_overlap:
        with pytest.raises(ValidationError, match="overlaps"):
            Grid(id="g", rows=rows, cols=cols, cells=cells)
    else:
        assert Grid(id="g", rows=rows, cols=cols, cells=cells).cells == cells


@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(1, 7), st.integers(1, 7)),
)
def test_bounds_are_checked_against_every_slot_of_the_span(
    rows: int, cols: int, spec: tuple[int, int, int, int]
) -> None:
    row, col, row_span, col_span = spec
    slots = [(r, c) for r in range(row, row + row_span) for c in range(col, col + col_span)]
    fits = all(r < rows and c < cols for r, c in slots)
    the_cell = cell(row, col, row_span=row_span, col_span=col_span)
    if fits:
        Grid(id="g", rows=rows, cols=cols, cells=[the_cell])
    else:
        with pytest.raises(ValidationError, match="reaches beyond"):
            Grid(id="g", rows=rows, cols=cols, cells=[the_cell])


def test_layer_id_twice_in_a_grid_is_rejected() -> None:
    with pytest.raises(ValidationError, match="layer id 'a' appears twice in grid 'g'") as exc:
        grid([cell(0, 0, image("a")), cell(0, 1, image("a"))])
    assert error_of(exc)["ctx"]["at"] == ("cells", 1, "layers", 0, "id")


def test_layer_id_twice_in_one_cell_is_rejected() -> None:
    with pytest.raises(ValidationError, match="appears twice"):
        grid([cell(0, 0, image("a"), image("a"))])


def test_grid_id_defaults_to_a_slug_of_the_title() -> None:
    data = {"title": "Beam Monitors (raw)", "rows": 1, "cols": 1}
    assert Grid.model_validate(data).id == "beam-monitors-raw"


def test_grid_without_id_or_title_is_rejected() -> None:
    with pytest.raises(ValidationError, match="id"):
        Grid.model_validate({"rows": 1, "cols": 1})


# --- workspace validation ---


def test_grid_ids_must_be_unique() -> None:
    with pytest.raises(ValidationError, match="grid id 'g' is used by more than one grid") as exc:
        Workspace(grids=[grid([]), grid([])])
    assert error_of(exc)["ctx"]["at"] == ("grids", 1, "id")


def test_job_ids_must_be_unique() -> None:
    job = JobSpec(id="j", workflow="latest", source="s")
    with pytest.raises(ValidationError, match="job id 'j' is used by more than one job"):
        Workspace(jobs=[job, job])


def test_layer_ids_must_be_unique_across_grids() -> None:
    with pytest.raises(ValidationError, match="used in grid 'one' and in grid 'two'") as exc:
        Workspace(
            grids=[
                grid([cell(0, 0, image("a"))], grid_id="one"),
                grid([cell(0, 0, image("a"))], grid_id="two"),
            ]
        )
    assert error_of(exc)["ctx"]["at"] == ("grids", 1, "cells", 0, "layers", 0, "id")


def test_layer_job_need_not_be_a_workspace_job() -> None:
    ws = Workspace(grids=[grid([cell(0, 0, image("a", job="elsewhere"))])])
    assert ws.layer("a").job == "elsewhere"


# --- lookups ---


def test_layers_iterates_grid_cell_and_layer_in_order(workspace: Workspace) -> None:
    found = [(g.id, (c.row, c.col), layer.id) for g, c, layer in workspace.layers()]
    assert found == [("one", (0, 0), "a"), ("one", (0, 0), "b"), ("two", (1, 1), "c")]


def test_layers_of_job_finds_every_layer_bound_to_it(workspace: Workspace) -> None:
    assert [layer.id for layer in workspace.layers_of_job("detector-0")] == ["a", "c"]
    assert workspace.layers_of_job("nobody") == []


def test_unknown_layer_or_grid_raises_not_in_workspace(workspace: Workspace) -> None:
    with pytest.raises(NotInWorkspaceError, match="no layer 'zz'"):
        workspace.layer("zz")
    with pytest.raises(NotInWorkspaceError, match="no grid 'zz'"):
        workspace.grid("zz")


# --- edits return new workspaces ---


def test_with_layer_adds_on_top_of_an_existing_cell(workspace: Workspace) -> None:
    edited = workspace.with_layer("one", 0, 0, image("d"))
    assert [x.id for x in edited.grid("one").cells[0].layers] == ["a", "b", "d"]


def test_with_layer_leaves_the_original_workspace_unchanged(workspace: Workspace) -> None:
    before = workspace.to_json()
    workspace.with_layer("one", 0, 0, image("d"))
    assert workspace.to_json() == before


def test_with_layer_creates_a_cell_with_the_given_span(workspace: Workspace) -> None:
    edited = workspace.with_layer("two", 0, 0, image("d"), col_span=2)
    new_cell = edited.grid("two").cell_at(0, 0)
    assert new_cell is not None
    assert (new_cell.row_span, new_cell.col_span) == (1, 2)
    assert [x.id for x in new_cell.layers] == ["d"]


def test_with_layer_keeps_the_span_of_an_existing_cell() -> None:
    ws = Workspace(grids=[grid([cell(0, 0, image("a"), col_span=2)])])
    edited = ws.with_layer("g", 0, 0, image("b"))
    assert edited.grid("g").cells[0].col_span == 2


def test_with_layer_rejects_a_span_that_differs_from_the_existing_cell(
    workspace: Workspace,
) -> None:
    with pytest.raises(ValueError, match="does not span 2\N{MULTIPLICATION SIGN}1"):
        workspace.with_layer("one", 0, 0, image("d"), row_span=2)


def test_with_layer_rejects_a_new_cell_that_overlaps() -> None:
    ws = Workspace(grids=[grid([cell(0, 0, image("a"), col_span=2)])])
    with pytest.raises(ValidationError, match="overlaps"):
        ws.with_layer("g", 0, 1, image("b"))


def test_with_layer_rejects_a_layer_id_used_elsewhere(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="layer id 'c'"):
        workspace.with_layer("one", 0, 1, image("c"))


def test_with_layer_on_an_unknown_grid_raises_not_in_workspace(workspace: Workspace) -> None:
    with pytest.raises(NotInWorkspaceError):
        workspace.with_layer("zz", 0, 0, image("d"))


def test_without_layer_removes_only_that_layer(workspace: Workspace) -> None:
    edited = workspace.without_layer("a")
    assert [layer.id for _, _, layer in edited.layers()] == ["b", "c"]


def test_without_layer_removes_a_cell_left_empty(workspace: Workspace) -> None:
    assert workspace.without_layer("c").grid("two").cells == []


def test_without_unknown_layer_raises_not_in_workspace(workspace: Workspace) -> None:
    with pytest.raises(NotInWorkspaceError):
        workspace.without_layer("zz")


def test_replace_layer_keeps_cell_and_stacking_position(workspace: Workspace) -> None:
    new = workspace.layer("a").changed(title="renamed")
    edited = workspace.replace_layer("a", new)
    assert [x.id for x in edited.grid("one").cells[0].layers] == [new.id, "b"]
    assert edited.layer(new.id).title == "renamed"


def test_replace_layer_requires_a_new_id(workspace: Workspace) -> None:
    same_id = image("a").model_copy(update={"title": "renamed"})
    with pytest.raises(ValueError, match="reuses its id"):
        workspace.replace_layer("a", same_id)


def test_replace_layer_rejects_an_id_used_by_another_layer(workspace: Workspace) -> None:
    with pytest.raises(ValidationError, match="layer id 'c'"):
        workspace.replace_layer("a", image("c"))


def test_with_grid_replaces_a_grid_with_the_same_id_in_place(workspace: Workspace) -> None:
    edited = workspace.with_grid(Grid(id="one", title="New", rows=3, cols=3))
    assert [(g.id, g.title) for g in edited.grids] == [("one", "New"), ("two", "")]


def test_with_grid_appends_a_new_grid(workspace: Workspace) -> None:
    edited = workspace.with_grid(Grid(id="three", rows=1, cols=1))
    assert [g.id for g in edited.grids] == ["one", "two", "three"]


def test_without_grid_removes_it(workspace: Workspace) -> None:
    assert [g.id for g in workspace.without_grid("one").grids] == ["two"]


def test_without_unknown_grid_raises_not_in_workspace(workspace: Workspace) -> None:
    with pytest.raises(NotInWorkspaceError):
        workspace.without_grid("zz")


# --- JSON ---


def test_workspace_round_trips_through_json(workspace: Workspace) -> None:
    assert Workspace.from_json(workspace.to_json()) == workspace


def test_workspace_json_is_compact(workspace: Workspace) -> None:
    assert b": " not in workspace.to_json()
    assert b"\n" not in workspace.to_json()


def test_job_spec_round_trips_through_json() -> None:
    job = JobSpec(
        id="monitor-1",
        workflow=Workflow.WINDOW,
        source="monitor_1",
        params={"window_s": 5},
        desired=Desired.STOPPED,
        reset_epoch=3,
        version=7,
        updated_by="alice",
    )
    assert JobSpec.from_json(job.to_json()) == job
    assert JobSpec.from_json(job.to_json().decode()) == job


def test_job_spec_defaults_to_running_at_epoch_and_version_zero() -> None:
    job = JobSpec(id="j", workflow="latest", source="s")
    assert (job.desired, job.reset_epoch, job.version, job.updated_by) == ("running", 0, 0, "")


def test_job_spec_rejects_unknown_workflow() -> None:
    with pytest.raises(ValidationError, match="workflow"):
        JobSpec(id="j", workflow="median", source="s")


# --- notifications ---


def test_notification_fields_are_all_strings() -> None:
    fields = Notification(level=Level.ERROR, message="boom", ts=5, seq=2).to_fields()
    assert fields == {
        "level": "error",
        "message": "boom",
        "user": "",
        "job": "",
        "ts": "5",
        "seq": "2",
    }


def test_notification_round_trips_through_bytes_fields() -> None:
    note = Notification(level="warning", message="slow ✓", user="bob", job="cube", ts=9, seq=4)
    raw = {k.encode(): v.encode() for k, v in note.to_fields().items()}
    assert Notification.from_fields(raw) == note
    assert Notification.from_fields(note.to_fields()) == note


def test_notification_timestamp_defaults_to_now_in_ns() -> None:
    assert Notification(level="info", message="hi").ts > 1_600_000_000 * 10**9


@pytest.mark.parametrize("message", ["", "x" * 1001])
def test_notification_message_must_be_1_to_1000_chars(message: str) -> None:
    with pytest.raises(ValidationError):
        Notification(level="info", message=message)


def test_notification_rejects_unknown_level() -> None:
    with pytest.raises(ValidationError):
        Notification(level="debug", message="x")
