"""The present stage: per-session plots fed with data prepared once per replica.

HoloViews builds each session's plot once; each new frame then updates the
session's Bokeh sources and colour mappers directly (``base``). Which layers
share a plot is decided by the pure :func:`app.presenters.plan.plan_cell`.
The package imports nothing itself, so the pure ``plan`` module (and
``app.layout``, which uses it) loads no Panel, Bokeh or HoloViews.
"""
