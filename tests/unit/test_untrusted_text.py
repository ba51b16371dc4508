"""Untrusted text stays text: every sink that builds HTML escapes it once, widgets get it plain.

Each test feeds the two classic payloads through one sink as the replica builds
its HTML, parses the result with a real HTML parser and checks that no element
or attribute came out of the payload and that the text reads literally (escaped
exactly once: a second escape would show ``&lt;`` to the user).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import panel as pn
import pytest
from bokeh.document import Document
from bokeh.models import HoverTool, Slider
from panel.io.notifications import NotificationArea

from app.html import escape_text, widget_title
from app.prepare import prepare
from app.presenters.cell import CellView
from app.presenters.plan import LayerSpec
from app.presenters.plot import CellPresenter
from app.session import Session, header_html
from app.view import NotificationEntry, ReplicaView, ServiceView, SystemView
from app.widgets import JobsTab, ManageTab
from app.widgets.forms import heading
from app.widgets.jobs import jobs_table
from app.widgets.manage import grid_options, job_options, layer_options
from app.widgets.system import (
    jobs_table as system_jobs_table,
)
from app.widgets.system import (
    notifications_table,
    services_table,
    sessions_table,
    workers_table,
)
from livegrid.catalogue import Catalogue, SourceEntry, WorkflowEntry
from livegrid.codec import Frame, FrameKind
from livegrid.lifecycle import LayerState
from livegrid.models import Cell, Grid, JobSpec, Layer, Level, Notification, Workspace
from livegrid.stores.jobs import JobStatus
from livegrid.stores.registry import Member

IMG = "<img src=x onerror=window.__pwned=1>"
SCRIPT = '"><script>window.__pwned=1</script>'
PAYLOADS = (IMG, SCRIPT)
NOW = 1_750_000_000 * 1_000_000_000


@dataclass
class Parsed(HTMLParser):
    """What a browser's parser makes of an HTML string: elements, attributes, text."""

    tags: list[str] = field(default_factory=list)
    attributes: dict[str, list[str]] = field(default_factory=dict)
    text: str = ""

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            self.attributes.setdefault(name, []).append(value or "")

    def handle_data(self, data: str) -> None:
        self.text += data


def parse(html: str) -> Parsed:
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    return parsed


def assert_inert(html: str, *texts: str, attribute: str | None = None) -> Parsed:
    """No element or event handler came from ``texts``; each reads literally in the text
    (or in ``attribute``, e.g. a tooltip's ``title``)."""
    parsed = parse(html)
    assert "script" not in parsed.tags and "img" not in parsed.tags, parsed.tags
    assert "onerror" not in parsed.attributes, parsed.attributes
    for text in texts:
        shown = parsed.attributes.get(attribute, []) if attribute else [parsed.text]
        assert any(text in value for value in shown), (text, shown)
    return parsed


# --- the helper ------------------------------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_escaped_text_holds_no_markup_and_reads_back_literally(payload: str) -> None:
    html = escape_text(payload)
    assert not set("<>\"'") & set(html)
    assert_inert(f"<span>{html}</span>", payload)
    assert_inert(f'<span title="{html}"></span>', payload, attribute="title")


def test_a_widget_title_with_tex_delimiters_keeps_none_but_reads_the_same() -> None:
    title = widget_title(rf"$$x$$ \(y\) \[z\] {IMG}")
    assert not re.search(r"\$\$|\\\(|\\\[", title)
    assert title.replace("\u2060", "") == rf"$$x$$ \(y\) \[z\] {IMG}"
    assert widget_title("tof = 2") == "tof = 2"


# --- the session: toasts, header, banner ---------------------------------------------------


def toast_through_panel(message: str) -> str:
    """What Panel's notification area hands to Notyf (which sets it as ``innerHTML``)."""
    area = NotificationArea()
    session = cast(Session, SimpleNamespace(id="s1", _notifications=area))
    Session.toast(session, Level.WARNING, message)
    (sent,) = area.notifications
    return str(sent.message)


def test_a_conflict_toast_naming_a_crafted_user_shows_the_name_as_text() -> None:
    for user in PAYLOADS:
        sentence = f"Your change was not applied: {user} changed the workspace meanwhile."
        parsed = assert_inert(toast_through_panel(sentence), sentence)
        assert parsed.text == sentence


class Counter:
    """Stands in for a metrics counter."""

    def __init__(self) -> None:
        self.count = 0

    def inc(self) -> None:
        self.count += 1


def test_a_notification_toast_shows_its_job_and_message_as_text() -> None:
    area = NotificationArea()
    session = SimpleNamespace(
        id="s1", _notifications=area, _metrics=SimpleNamespace(notifications_shown=Counter())
    )
    session.toast = lambda level, message: Session.toast(cast(Session, session), level, message)
    note = Notification(level=Level.ERROR, job=SCRIPT, message=f"failed: {IMG}")
    Session._toast_notification(cast(Session, session), note)
    (sent,) = area.notifications
    assert parse(str(sent.message)).text == f"{SCRIPT}: failed: {IMG}"
    assert_inert(str(sent.message), SCRIPT, IMG)


def test_the_header_shows_a_crafted_user_name_as_text() -> None:
    for user in PAYLOADS:
        assert_inert(header_html(user, "host-1"), user)


def test_the_redis_banner_shows_the_problem_as_text() -> None:
    session = SimpleNamespace(_connected=None, _banner=pn.pane.HTML(""))
    problem = f"Redis at {IMG} refused {SCRIPT}"
    Session._show_connection(cast(Session, session), base_view(connected=False, problem=problem))
    assert_inert(str(session._banner.object), problem)


# --- the side tabs -------------------------------------------------------------------------


def base_view(**changes: Any) -> ReplicaView:
    view = ReplicaView(generation=1, connected=True, config_version=1, workspace=Workspace())
    return replace(view, **changes)


def hostile_view() -> ReplicaView:
    """Every free-text field of a view holding a payload; ids where their model allows."""
    status = JobStatus(state=IMG, worker=SCRIPT, started_at=NOW, last_data_at=NOW, error=IMG)
    member = Member(id=SCRIPT, age_ms=1000, details={"user": IMG, "tab": SCRIPT, "host": IMG})
    note = Notification(level=Level.ERROR, message=f"{SCRIPT} {IMG}", user=IMG, job=SCRIPT, ts=NOW)
    return base_view(
        # A job id as the tables get it (the model's id pattern refuses these, the tables
        # must not rely on it), with a crafted source and params.
        jobs={IMG: JobSpec(id="det", workflow="latest", source=SCRIPT, params={"k": IMG})},
        statuses={IMG: status},
        jobs_generation=1,
        system=SystemView(
            sessions=(member,),
            workers=(member,),
            services=(ServiceView(id=IMG, software=SCRIPT, host=IMG, state=SCRIPT),),
        ),
        notifications=(NotificationEntry(seq=1, notification=note),),
    )


@pytest.mark.parametrize(
    "table", [sessions_table, workers_table, services_table, system_jobs_table, notifications_table]
)
def test_system_tables_show_crafted_fields_as_text(table: Any) -> None:
    assert_inert(table(hostile_view(), NOW), IMG, SCRIPT)


def test_the_jobs_table_shows_crafted_ids_sources_params_and_errors_as_text() -> None:
    parsed = assert_inert(jobs_table(hostile_view()), IMG, SCRIPT)
    assert parsed.attributes["data-job"] == [IMG]


def test_the_workflow_description_and_param_help_show_as_text() -> None:
    schema = {"properties": {SCRIPT: {"description": IMG}}}
    workflow = WorkflowEntry(
        name="latest", outputs=("latest",), description=SCRIPT, params_schema=schema
    )
    catalogue = Catalogue(sources=(SourceEntry(name="monitor_1", ndim=1),), workflows=(workflow,))
    tab = JobsTab(cast(Any, SimpleNamespace(may=lambda _permission: True)))
    tab.refresh(base_view(catalogue=catalogue, jobs_generation=1))
    assert_inert(str(tab._about.object), SCRIPT, IMG)


def test_the_manage_tab_names_a_crafted_last_editor_as_text() -> None:
    tab = ManageTab(cast(Any, SimpleNamespace(may=lambda _permission: True)))
    tab.refresh(base_view(config_user=SCRIPT + IMG))
    assert_inert(str(tab._shown.object), SCRIPT + IMG)


def test_select_options_get_crafted_titles_plain_not_escaped() -> None:
    cell = Cell(row=0, col=0, title=SCRIPT, layers=[Layer(id="l", plotter="vlines", title=IMG)])
    workspace = Workspace(grids=[Grid(id="g", title=IMG, rows=1, cols=1, cells=[cell])])
    assert f"{IMG} (g)" in grid_options(workspace)
    assert f"{IMG} / {SCRIPT} / {IMG}" in layer_options(workspace)
    spec = JobSpec(id="det", workflow="latest", source=SCRIPT)
    assert f"det (latest on {SCRIPT})" in job_options({"det": spec})


def test_a_heading_shows_its_text_as_text() -> None:
    assert_inert(str(heading(SCRIPT + IMG).object), SCRIPT + IMG)


# --- cells and plots -----------------------------------------------------------------------


def test_a_cell_header_shows_crafted_titles_and_errors_as_text() -> None:
    layers = (LayerSpec("a", FrameKind.LINES, IMG), LayerSpec("b", FrameKind.LINES, SCRIPT))
    view = CellView(0, 0, SCRIPT + IMG, layers)
    view.set_state("a", LayerState.ERROR, f"bad frame {SCRIPT}")
    assert_inert(view.header_html, SCRIPT + IMG, f"{IMG}: error: bad frame {SCRIPT}")
    assert_inert(view.header_html, f"error: bad frame {SCRIPT}", attribute="title")


def hostile_frames() -> dict[FrameKind, Frame]:
    labels = {"x": IMG, "y": SCRIPT, "values": IMG, "names": SCRIPT, "z": f"$$x$$ {IMG}"}
    return {
        FrameKind.IMAGE: Frame(
            kind=FrameKind.IMAGE,
            labels=labels,
            arrays={"x": np.arange(2.0), "y": np.arange(2.0), "values": np.ones((2, 2))},
            attrs={"clim": [0, 1], "log": False},
        ),
        FrameKind.LINES: Frame(
            kind=FrameKind.LINES,
            labels=labels,
            arrays={"x": np.arange(3.0), "values": np.ones(3)},
        ),
        FrameKind.BARS: Frame(
            kind=FrameKind.BARS,
            labels=labels,
            arrays={"names": np.array([IMG, SCRIPT]), "values": np.ones(2)},
        ),
        FrameKind.SLICER: Frame(
            kind=FrameKind.SLICER,
            labels=labels,
            arrays={
                "values": np.ones((2, 2, 2)),
                "x": np.arange(2.0),
                "y": np.arange(2.0),
                "z": np.arange(2.0),
            },
            attrs={"clim": [0, 1], "log": False},
        ),
    }


def rendered_models(kind: FrameKind, frame: Frame) -> list[Any]:
    spec = LayerSpec("l", kind, f"$$t$$ {SCRIPT}")
    presenter = CellPresenter(SCRIPT, [spec], {"l": prepare(frame)})
    doc = Document()
    doc.add_root(presenter.panel.get_root(doc))
    return list(doc.models)


@pytest.mark.parametrize("kind", list(hostile_frames()))
def test_hover_tooltips_keep_crafted_labels_out_of_their_html_templates(kind: FrameKind) -> None:
    """BokehJS renders a tooltip's label as text and its value as an HTML template;
    crafted labels may only be in the label, values are column placeholders."""
    hovers = [m for m in rendered_models(kind, hostile_frames()[kind]) if isinstance(m, HoverTool)]
    assert hovers
    for hover in hovers:
        for _, template in hover.tooltips:
            assert re.fullmatch(r"[@$]\{?\w+\}?", template), template


def test_a_slicer_slider_title_from_crafted_labels_never_holds_tex() -> None:
    """BokehJS sets a slider title holding TeX as ``innerHTML``, unescaped."""
    sliders = [
        m
        for m in rendered_models(FrameKind.SLICER, hostile_frames()[FrameKind.SLICER])
        if isinstance(m, Slider)
    ]
    assert sliders
    for slider in sliders:
        assert not re.search(r"\$\$|\\\(|\\\[", slider.title), slider.title
        assert slider.title.replace("\u2060", "") == f"$$x$$ {IMG} = 0"
