"""The pure sign-in decisions: roles and refusals, the password file, trusted proxies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.auth.passwords import hash_password, parse_password_file, verify_password
from app.auth.proxy import from_trusted_proxy, parse_networks
from app.auth.roles import Identity, Permission, Role, role_from_groups, split_groups
from livegrid.settings import Settings


def test_each_role_may_what_the_roles_below_it_may():
    viewer, operator, admin = (Identity("u", role) for role in Role)
    assert not viewer.may(Permission.RUN_JOBS) and not viewer.may(Permission.EDIT_WORKSPACE)
    assert operator.may(Permission.RUN_JOBS) and operator.may(Permission.EDIT_WORKSPACE)
    assert not operator.may(Permission.DEBUG) and not operator.may(Permission.LOAD_WORKSPACE)
    assert admin.may(Permission.DEBUG) and admin.may(Permission.RUN_JOBS)
    assert viewer.refusal(Permission.RUN_JOBS) == (
        "Not allowed: you are signed in as u with the role viewer; only the operator role "
        "and above may start, stop or reset jobs."
    )


def test_groups_map_to_the_highest_role_or_the_default():
    mapping = {"ops": Role.OPERATOR, "root": Role.ADMIN}
    assert role_from_groups(["staff", "ops", "root"], mapping, Role.VIEWER) == Role.ADMIN
    assert role_from_groups(["staff"], mapping, Role.VIEWER) == Role.VIEWER
    assert role_from_groups(["staff"], mapping, None) is None
    assert split_groups("a, b c") == ["a", "b", "c"]
    assert split_groups(["x", " y "]) == ["x", "y"]
    assert split_groups(None) == []


def test_a_password_matches_its_hash_only():
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("correct horse", "scrypt$bad")
    assert stored != hash_password("correct horse")  # salted


def test_the_password_file_names_its_bad_line():
    good = f"# comment\n\nvera:viewer:{hash_password('pw')}\n"
    accounts = parse_password_file(good)
    assert accounts["vera"].role == Role.VIEWER
    with pytest.raises(ValueError, match="line 2: 'boss' is not a role"):
        parse_password_file(f"vera:viewer:{hash_password('pw')}\nbob:boss:scrypt$1$2$3$aa$bb")
    with pytest.raises(ValueError, match="line 1: expected user:role:scrypt"):
        parse_password_file("vera:viewer:plaintext")


def test_only_listed_proxy_addresses_are_trusted():
    networks = parse_networks(["10.0.0.0/8", "192.168.1.5", "::1"])
    assert from_trusted_proxy("10.1.2.3", networks)
    assert from_trusted_proxy("::1", networks)
    assert not from_trusted_proxy("127.0.0.1", networks)
    assert not from_trusted_proxy("not-an-ip", networks)
    assert not from_trusted_proxy(None, networks)
    with pytest.raises(ValueError, match=r"'10\.0\.0\.300' is not an IP address"):
        parse_networks(["10.0.0.300"])


def test_sign_in_settings_name_what_is_missing():
    with pytest.raises(ValidationError, match="LIVEGRID_AUTH_MODE=basic needs LIVEGRID_SECRET_KEY"):
        Settings(auth_mode="basic")
    with pytest.raises(ValidationError, match="LIVEGRID_AUTH_TRUSTED_PROXIES"):
        Settings(auth_mode="proxy", secret_key="k" * 32, auth_cookie_secret="c" * 32)
    assert Settings().auth_mode == "none"
