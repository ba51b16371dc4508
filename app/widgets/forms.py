"""Helpers the tabs share: params typed as JSON, select options that keep the user's
choice, and plain HTML tables with test hooks.

Tables are HTML strings (one ``pn.pane.HTML`` each): cheap to rebuild, and assigned
to the pane only when the text changed, so an unchanged table costs nothing in the
browser.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import panel as pn

from app.html import escape_text

TABLE_CSS = """
.lg-table { border-collapse: collapse; font-size: 0.85em; width: 100%; }
.lg-table th, .lg-table td { border-bottom: 1px solid #dee2e6; padding: 2px 8px;
  text-align: left; vertical-align: top; }
.lg-table th { background: #f1f3f5; }
.lg-table td.lg-empty { color: #868e96; font-style: italic; }
.lg-table tr[data-level="warning"] td { background: #fff9db; }
.lg-table tr[data-level="error"] td { background: #fff5f5; color: #c92a2a; }
.lg-table td.lg-error { color: #c92a2a; }
"""

#: A select option for "nothing chosen" (Panel selects need a value).
NONE = ""


def parse_params(text: str, *, allowed: Sequence[str] | None = None) -> dict[str, Any]:
    """The params typed as a JSON object; ``ValueError`` with a sentence otherwise.

    ``allowed``: the only keys accepted (None: any key).
    """
    try:
        value = json.loads(text.strip() or "{}")
    except json.JSONDecodeError as error:
        raise ValueError(
            f"the params are not valid JSON ({error.msg} at line {error.lineno}, column "
            f'{error.colno}); write an object such as {{"seconds": 10}}, or {{}} for none'
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f'the params must be a JSON object such as {{"seconds": 10}}, not {text.strip()}'
        )
    unknown = sorted(set(value) - set(allowed)) if allowed is not None else []
    if unknown:
        takes = ", ".join(allowed) if allowed else "none"
        raise ValueError(f"unknown params {', '.join(unknown)}; the params it takes: {takes}")
    return value


def schema_defaults(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults a JSON schema of params declares."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    return {name: p["default"] for name, p in properties.items() if "default" in p}


def schema_keys(schema: Mapping[str, Any]) -> list[str] | None:
    """The only params a schema accepts; None when it accepts others too."""
    if schema.get("additionalProperties", True) is not False:
        return None
    return list(schema.get("properties", {}))


def params_text(params: Mapping[str, Any]) -> str:
    return json.dumps(params)


def set_options(select: pn.widgets.Select, options: list[str] | dict[str, str]) -> None:
    """Offer ``options``, keeping the chosen value while it is still offered."""
    values = list(options.values()) if isinstance(options, dict) else list(options)
    value = select.value if select.value in values else (values[0] if values else None)
    if options != select.options or value != select.value:
        select.param.update(options=options, value=value)


def utc_time(ns: int | None, now_ns: int) -> str:
    """A time as ``HH:MM:SS`` (UTC) on the day of ``now_ns``, with its date otherwise."""
    if ns is None:
        return ""
    moment = datetime.fromtimestamp(ns / 1e9, UTC)
    same_day = moment.date() == datetime.fromtimestamp(now_ns / 1e9, UTC).date()
    return moment.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S")


def html_table(
    testid: str,
    columns: Sequence[str],
    rows: Iterable[tuple[Mapping[str, str], Sequence[str]]],
    *,
    empty: str,
) -> str:
    """A table with ``data-testid=testid``; each row is (its ``data-*`` attributes, cells).

    A cell of a column named ``error`` gets the class ``lg-error``.
    """
    head = "".join(f"<th>{escape_text(c)}</th>" for c in columns)
    body = []
    for attributes, cells in rows:
        attrs = "".join(f' data-{k}="{escape_text(v)}"' for k, v in attributes.items())
        tds = "".join(
            f'<td class="lg-error">{escape_text(v)}</td>'
            if c == "error"
            else f"<td>{escape_text(v)}</td>"
            for c, v in zip(columns, cells, strict=True)
        )
        body.append(f"<tr{attrs}>{tds}</tr>")
    if not body:
        body.append(
            f'<tr><td class="lg-empty" colspan="{len(columns)}">{escape_text(empty)}</td></tr>'
        )
    return (
        f'<table class="lg-table" data-testid="{escape_text(testid)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def table_pane() -> pn.pane.HTML:
    return pn.pane.HTML("", stylesheets=[TABLE_CSS], sizing_mode="stretch_width")


def assign_if_changed(pane: pn.pane.HTML, html: str) -> None:
    if pane.object != html:
        pane.object = html


def heading(text: str) -> pn.pane.HTML:
    return pn.pane.HTML(f"<h3>{escape_text(text)}</h3>", margin=(10, 10, 0, 10))
