"""Untrusted text into HTML: the one function every HTML sink of the replica calls.

User names, job ids, grid, cell and layer titles, error messages (from workers,
Kafka data or validation), catalogue descriptions, notification messages,
worker and service fields all come from outside the replica. Where such a
string becomes part of an HTML string (an ``pn.pane.HTML`` object, a toast's
message, which Notyf sets as ``innerHTML``), it goes through :func:`escape_text`
exactly once, at the place that builds the HTML, and nowhere else: callers pass
plain text around, so nothing is escaped twice and ``<img src=x>`` shows as
those characters.

Widgets that treat a string as text (Bokeh plot titles, axis labels, select
options, button and tab labels, HoloViews hover labels, data-table cells) get
the plain string. The exception is a Bokeh slider title, which BokehJS renders as
HTML once it finds TeX in it: :func:`widget_title` keeps it text.
"""

from __future__ import annotations

import re
from html import escape


def escape_text(value: object) -> str:
    """``value`` as HTML text or a double-quoted attribute value that shows literally."""
    return escape(str(value), quote=True)


#: The first character of each TeX opener MathJax looks for in Bokeh (``$$``, ``\[``, ``\(``).
_TEX_OPENER = re.compile(r"\$(?=\$)|\\(?=[\[(])")
#: U+2060 WORD JOINER: invisible, and breaks an opener in two.
_JOINER = "\u2060"


def widget_title(value: str) -> str:
    """``value`` for a Bokeh slider title, shown literally.

    BokehJS sets a slider title that contains TeX (``$$…$$``, ``\\[…\\]``, ``\\(…\\)``)
    as ``innerHTML``, unescaped around the formula, and as text otherwise. An
    invisible word joiner inside every opener keeps MathJax from finding one, so
    the title always takes the text path; what the user reads is unchanged.
    """
    return _TEX_OPENER.sub(lambda match: match.group(0) + _JOINER, value)
