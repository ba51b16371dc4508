"""The Panel replica: feed, sessions and the per-session *present* stage.

``app.prepare`` turns each decoded frame into session-ready data once per
replica; ``app.presenters`` shows it in each browser session.
"""
