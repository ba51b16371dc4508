"""Workspace templates as YAML files, with errors that name the line and the field.

The file is parsed once into PyYAML's node tree (which keeps each node's line)
and constructed into plain data from that tree; pydantic validates the data.
Each validation error's ``loc`` (extended by the ``ctx["at"]`` that
``livegrid.models`` validators attach) is walked down the node tree to the
deepest node that exists, whose line is reported::

    default.yaml:14: grids[0].cells[1]: cell at row 0, col 1 overlaps cell at ...

``dump_workspace`` writes the same format, fields in model order and defaults
left out, so that ``loads_workspace(dump_workspace(ws)) == ws``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from livegrid.models import Grid, Workspace

_Loc = tuple[str | int, ...]

#: Line width for dumps: a layer stays on one line however long its title.
_NO_WRAP = 10_000


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong with a workspace file; ``line`` is 1-based, ``path`` like
    ``grids[0].cells[1]`` (empty for the file as a whole)."""

    line: int | None
    path: str
    message: str


class WorkspaceFileError(ValueError):
    """A workspace file that cannot be read; ``str()`` lists ``file:line: path: message``."""

    def __init__(self, source_name: str, problems: Iterable[FileProblem]) -> None:
        self.source_name = source_name
        self.problems = tuple(problems)
        super().__init__("\n".join(self._format(p) for p in self.problems))

    def _format(self, problem: FileProblem) -> str:
        where = self.source_name if problem.line is None else f"{self.source_name}:{problem.line}"
        return ": ".join(part for part in (where, problem.path, problem.message) if part)


def default_template_path() -> Path:
    """The demo workspace shipped with livegrid (package data ``templates/default.yaml``)."""
    resource = resources.files("livegrid") / "templates" / "default.yaml"
    if not isinstance(resource, Path):
        raise RuntimeError(
            f"livegrid's templates are inside an archive ({resource}); install livegrid "
            "as plain files (pip install, not a zipped package)"
        )
    return resource


def load_workspace_file(path: str | os.PathLike[str]) -> Workspace:
    """Read and validate a workspace file; raises ``WorkspaceFileError`` (and ``OSError``)."""
    return loads_workspace(Path(path).read_text(encoding="utf-8"), source_name=os.fspath(path))


def loads_workspace(text: str, source_name: str = "<string>") -> Workspace:
    """Parse and validate workspace YAML; raises ``WorkspaceFileError``."""
    root, data = _parse(text, source_name)
    duplicates = list(_duplicate_keys(root, ()))
    if duplicates:
        raise WorkspaceFileError(source_name, duplicates)
    if not isinstance(data, dict):
        raise WorkspaceFileError(
            source_name,
            [
                FileProblem(
                    _line(root),
                    "",
                    "a workspace file must be a mapping with 'grids' (and optionally 'jobs'), "
                    f"not {_kind_of(data)}",
                )
            ],
        )
    try:
        return Workspace.model_validate(data)
    except ValidationError as exc:
        problems = [_problem_from(error, root) for error in exc.errors()]
        raise WorkspaceFileError(source_name, problems) from None


def dump_workspace(workspace: Workspace) -> str:
    """The workspace as YAML in the template format; fields equal to their default are left out."""
    data: dict[str, Any] = {}
    if workspace.jobs:
        data["jobs"] = [_FlowMap(_non_default_fields(job)) for job in workspace.jobs]
    data["grids"] = [_grid_data(grid) for grid in workspace.grids]
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=_NO_WRAP,
    )


# --- parsing ---


def _parse(text: str, source_name: str) -> tuple[yaml.Node, Any]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise WorkspaceFileError(
                source_name,
                [FileProblem(1, "", "the file is empty; a workspace file needs 'grids'")],
            )
        return root, loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = "; ".join(str(part) for part in (exc.context, exc.problem) if part)
        line = None if mark is None else mark.line + 1
        column = "" if mark is None else f" (column {mark.column + 1})"
        raise WorkspaceFileError(
            source_name, [FileProblem(line, "", f"invalid YAML: {what}{column}")]
        ) from None
    except yaml.YAMLError as exc:
        raise WorkspaceFileError(
            source_name, [FileProblem(None, "", f"invalid YAML: {exc}")]
        ) from None
    finally:
        loader.dispose()


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _duplicate_keys(node: yaml.Node, loc: _Loc) -> Iterator[FileProblem]:
    """YAML keeps the last of two equal keys silently; report every repeat instead."""
    if isinstance(node, yaml.MappingNode):
        first_line: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                seen = first_line.setdefault((key.tag, key.value), _line(key))
                if seen != _line(key):
                    yield FileProblem(
                        _line(key),
                        _render((*loc, key.value)),
                        f"appears twice in the same mapping (first at line {seen}); keep only one",
                    )
                yield from _duplicate_keys(value, (*loc, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*loc, i))


def _line_of(root: yaml.Node, loc: _Loc) -> int:
    """Line of the deepest node along ``loc``: a mapping key's line, a sequence item's line."""
    node, line = root, _line(root)
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next(
                (
                    (k, v)
                    for k, v in node.value
                    if isinstance(k, yaml.ScalarNode) and k.value == part
                ),
                None,
            )
            if match is None:
                break
            line, node = _line(match[0]), match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            line = _line(node)
        else:
            break
    return line


def _problem_from(error: ErrorDetails, root: yaml.Node) -> FileProblem:
    at = error.get("ctx", {}).get("at", ())
    loc: _Loc = (*error["loc"], *(at if isinstance(at, tuple) else ()))
    return FileProblem(_line_of(root, loc), _render(loc), _message(error))


def _message(error: ErrorDetails) -> str:
    if error["type"] == "missing":
        return "is required but missing"
    if error["type"] == "extra_forbidden":
        return "is not a field here (misspelt?)"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    if "at" not in error.get("ctx", {}) and not isinstance(given, dict | list):
        message += f" (got {given!r})"
    return message


def _render(loc: Sequence[str | int]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    return path


def _kind_of(data: Any) -> str:
    return "an empty document" if data is None else f"a {type(data).__name__}"


# --- dumping ---


class _FlowMap(dict[str, Any]):
    """A mapping written on one line: ``{id: x, plotter: image}``."""


class _Dumper(yaml.SafeDumper):
    """Indents sequences under their key, as hand-written templates do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_flow_map(dumper: yaml.SafeDumper, data: _FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=True)


_Dumper.add_representer(_FlowMap, _represent_flow_map)


def _non_default_fields(model: BaseModel) -> dict[str, Any]:
    data = model.model_dump(mode="json")
    return {
        name: data[name]
        for name, info in type(model).model_fields.items()
        if data[name] != info.get_default(call_default_factory=True)
    }


def _grid_data(grid: Grid) -> dict[str, Any]:
    data = _non_default_fields(grid)
    data["cells"] = [
        {
            **_non_default_fields(cell),
            "layers": [_FlowMap(_non_default_fields(layer)) for layer in cell.layers],
        }
        for cell in grid.cells
    ]
    return data
