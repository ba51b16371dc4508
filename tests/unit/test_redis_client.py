"""Passwords in Redis URLs never reach logs or users."""

from livegrid.redis_client import describe_connection_error, redact


def test_redact_hides_the_password_and_keeps_the_rest():
    assert redact("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact("rediss://user:pw@host/1") == "rediss://user:***@host/1"


def test_redact_leaves_a_url_without_password_alone():
    assert redact("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_connection_errors_name_the_host_but_not_the_password():
    text = describe_connection_error("redis://:s3cret@redis:6379/0", ConnectionError("refused"))
    assert "s3cret" not in text
    assert "redis:6379" in text
