"""Specification of YAML workspace files: loading, errors with line and path, dumping."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from livegrid.models import Plotter, Workspace
from livegrid.workspace_file import (
    FileProblem,
    WorkspaceFileError,
    default_template_path,
    dump_workspace,
    load_workspace_file,
    loads_workspace,
)


def problems_of(text: str) -> tuple[FileProblem, ...]:
    with pytest.raises(WorkspaceFileError) as exc:
        loads_workspace(dedent(text), source_name="t.yaml")
    return exc.value.problems


def only_problem_of(text: str) -> FileProblem:
    (problem,) = problems_of(text)
    return problem


MINIMAL = """\
jobs:
  - {id: detector-0, workflow: cumulative, source: detector_panel_0}
grids:
  - id: detectors
    title: Detectors
    rows: 1
    cols: 2
    cells:
      - row: 0
        col: 0
        layers:
          - {job: detector-0, output: cumulative, plotter: image, title: Panel 0}
"""


# --- loading ---


def test_template_format_loads() -> None:
    ws = loads_workspace(MINIMAL)
    (layer,) = ws.layers_of_job("detector-0")
    assert layer.plotter is Plotter.IMAGE
    assert ws.jobs[0].source == "detector_panel_0"


def test_load_workspace_file_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ws.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    ws = load_workspace_file(path)
    assert [job.id for job in ws.jobs] == ["detector-0"]
    assert [layer.title for _, _, layer in ws.layers()] == ["Panel 0"]


def test_errors_from_a_file_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("grids: [{id: g, rows: 0, cols: 1}]\n", encoding="utf-8")
    with pytest.raises(WorkspaceFileError, match=rf"^{path}:1: grids\[0\]\.rows: "):
        load_workspace_file(path)


# --- errors name the line and the path ---


def test_overlap_error_names_the_line_and_path_of_the_offending_cell() -> None:
    text = """\
        grids:
          - id: detectors
            rows: 1
            cols: 3
            cells:
              - row: 0
                col: 2
              - row: 0
                col: 1
                col_span: 2
        """
    with pytest.raises(WorkspaceFileError) as exc:
        loads_workspace(dedent(text), source_name="default.yaml")
    assert str(exc.value) == (
        "default.yaml:8: grids[0].cells[1]: "
        "cell at row 0, col 1 (span 1\N{MULTIPLICATION SIGN}2) overlaps "
        "cell at row 0, col 2 in grid 'detectors'"
    )


def test_out_of_range_value_names_its_line_and_field() -> None:
    problem = only_problem_of(
        """\
        grids:
          - id: g
            rows: 20
            cols: 2
        """
    )
    assert (problem.line, problem.path) == (3, "grids[0].rows")
    assert "less than or equal to 12 (got 20)" in problem.message


def test_missing_field_names_the_mapping_that_lacks_it() -> None:
    problem = only_problem_of(
        """\
        jobs: []
        grids:
          - id: g
            rows: 1
        """
    )
    assert (problem.line, problem.path, problem.message) == (
        3,
        "grids[0].cols",
        "is required but missing",
    )


def test_misspelt_field_is_reported_at_its_line() -> None:
    problem = only_problem_of(
        """\
        grids:
          - id: g
            rows: 1
            cols: 1
            cells:
              - {row: 0, col: 0, colspan: 2}
        """
    )
    assert (problem.line, problem.path) == (6, "grids[0].cells[0].colspan")
    assert "not a field" in problem.message


def test_every_invalid_layer_is_reported_with_its_own_line() -> None:
    problems = problems_of(
        """\
        grids:
          - id: g
            rows: 1
            cols: 1
            cells:
              - row: 0
                col: 0
                layers:
                  - {job: j, output: latest, plotter: pie}
                  - {job: j, plotter: rectangles}
                  - plotter: image
        """
    )
    assert [(p.line, p.path) for p in problems] == [
        (9, "grids[0].cells[0].layers[0].plotter"),
        (10, "grids[0].cells[0].layers[1].job"),
        (11, "grids[0].cells[0].layers[2]"),
    ]
    assert "static overlay" in problems[1].message
    assert "needs 'job'" in problems[2].message


def test_duplicate_layer_id_across_grids_points_at_the_second_id() -> None:
    problem = only_problem_of(
        """\
        grids:
          - id: a
            rows: 1
            cols: 1
            cells: [{row: 0, col: 0, layers: [{id: x, plotter: vlines}]}]
          - id: b
            rows: 1
            cols: 1
            cells:
              - row: 0
                col: 0
                layers:
                  - plotter: vlines
                    id: x
        """
    )
    assert (problem.line, problem.path) == (14, "grids[1].cells[0].layers[0].id")


def test_yaml_syntax_error_names_its_line() -> None:
    problem = only_problem_of(
        """\
        grids:
          - id: g
            rows: 1
           cols: 2
        """
    )
    assert problem.line == 4
    assert problem.message.startswith("invalid YAML: ")


def test_duplicate_key_is_an_error_instead_of_silently_keeping_the_last() -> None:
    problem = only_problem_of(
        """\
        grids:
          - id: g
            rows: 1
            cols: 2
            rows: 3
        """
    )
    assert (problem.line, problem.path) == (5, "grids[0].rows")
    assert "first at line 3" in problem.message


def test_empty_file_is_an_error() -> None:
    assert only_problem_of("").message.startswith("the file is empty")


def test_top_level_list_is_an_error() -> None:
    assert "must be a mapping" in only_problem_of("- 1\n- 2\n").message


def test_wrongly_typed_scalar_shows_the_given_value() -> None:
    problem = only_problem_of("grids: [{id: 7, rows: 1, cols: 1}]\n")
    assert problem.path == "grids[0].id"
    assert problem.message.endswith("(got 7)")


# --- the default template ---


def test_default_template_ships_with_the_package() -> None:
    assert default_template_path().is_file()


@pytest.fixture(scope="module")
def default_workspace() -> Workspace:
    return load_workspace_file(default_template_path())


def test_default_template_has_the_five_demo_grids(default_workspace: Workspace) -> None:
    assert [(g.title, g.rows, g.cols) for g in default_workspace.grids] == [
        ("Detectors", 1, 2),
        ("Monitors", 1, 2),
        ("Logs", 1, 3),
        ("Cube", 1, 1),
        ("Flattened cube", 1, 1),
    ]


def test_default_template_jobs_all_run(default_workspace: Workspace) -> None:
    jobs = {job.id: (job.workflow, job.source, job.desired) for job in default_workspace.jobs}
    assert jobs == {
        "detector-0": ("cumulative", "detector_panel_0", "running"),
        "detector-1": ("cumulative", "detector_panel_1", "running"),
        "monitor-1": ("latest", "monitor_1", "running"),
        "monitor-2": ("latest", "monitor_2", "running"),
        "cube": ("cumulative", "detector_cube", "running"),
        "temperature": ("history", "temperature", "running"),
        "pressure": ("history", "pressure", "running"),
        "motor": ("history", "motor_position", "running"),
    }


def test_default_template_data_layers_use_template_jobs(default_workspace: Workspace) -> None:
    job_ids = {job.id for job in default_workspace.jobs}
    data_layers = [layer for _, _, layer in default_workspace.layers() if not layer.is_static]
    assert {layer.job for layer in data_layers} == job_ids


def test_default_template_has_a_static_overlay_on_panel_0_and_temperature(
    default_workspace: Workspace,
) -> None:
    overlays = {
        (grid.id, layer.plotter): [x.job for x in cell.layers if not x.is_static]
        for grid, cell, layer in default_workspace.layers()
        if layer.is_static
    }
    assert overlays == {
        ("detectors", Plotter.RECTANGLES): ["detector-0"],
        ("logs", Plotter.HLINES): ["temperature"],
    }


def test_default_template_shows_each_monitor_linear_and_log_scaled(
    default_workspace: Workspace,
) -> None:
    for job in ("monitor-1", "monitor-2"):
        layers = default_workspace.layers_of_job(job)
        assert sorted(bool(x.params.get("log")) for x in layers) == [False, True]


def test_default_template_round_trips_through_dump_and_load(
    default_workspace: Workspace,
) -> None:
    assert loads_workspace(dump_workspace(default_workspace)) == default_workspace


def test_dump_is_stable(default_workspace: Workspace) -> None:
    text = dump_workspace(default_workspace)
    assert dump_workspace(loads_workspace(text)) == text


def test_dump_leaves_out_defaults_and_writes_layers_on_one_line() -> None:
    text = dump_workspace(loads_workspace(MINIMAL.replace("{job:", "{id: p0, job:")))
    assert "desired" not in text
    assert "params" not in text
    assert (
        "      - {id: p0, job: detector-0, output: cumulative, plotter: image, title: Panel 0}\n"
        in text
    )


def test_dump_round_trips_auto_ids_and_strings_that_look_like_other_types() -> None:
    ws = loads_workspace(
        dedent(
            """\
        grids:
          - id: g
            title: "yes"
            rows: 1
            cols: 1
            cells:
              - {row: 0, col: 0, title: "007", layers: [{plotter: vlines, params: {x: [1.5]}}]}
        """
        )
    )
    assert loads_workspace(dump_workspace(ws)) == ws
