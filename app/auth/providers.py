"""The sign-in modes wired into Bokeh/Panel's server: who a request and a session are.

Each mode answers two questions. ``get_user`` (Bokeh's auth hook) lets a page load
or websocket in, or sends it to ``/login``. :meth:`SignIn.identify` names the user
and role of a new session from the headers and cookies its session token carries;
the token is signed with ``LIVEGRID_SECRET_KEY`` (required with sign-in), so they
are those of a request ``get_user`` let in. Cookies are signed with
``LIVEGRID_AUTH_COOKIE_SECRET``, the same on every replica: a reload onto another
replica stays signed in.

- ``basic``: ``/login`` answers 401 with ``WWW-Authenticate: Basic`` until the browser
  sends a user and password matching the password file, then sets the signed
  ``livegrid_user`` cookie; ``/logout`` clears it.
- ``proxy``: the user and groups headers, believed only from a trusted proxy address.
- ``oidc``: Panel's generic OAuth handler against the issuer's discovered endpoints;
  the role comes from a claim of the ID token.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import structlog
from bokeh.server.auth_provider import AuthProvider
from tornado.web import RequestHandler, decode_signed_value

from app.auth.passwords import Account, read_password_file, verify_password
from app.auth.proxy import from_trusted_proxy, parse_networks
from app.auth.roles import Identity, Role, role_from_groups, split_groups
from livegrid.settings import Settings

log = structlog.get_logger("livegrid.auth")

USER_COOKIE = "livegrid_user"
LOGIN = "/login"
LOGOUT = "/logout"

Headers = Mapping[str, Any]
Cookies = Mapping[str, Any]


def _header(headers: Headers, name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            first = (value[0] if value else "") if isinstance(value, list) else value
            return str(first)
    return None


def _safe_next(value: str | None) -> str:
    """Only a path on this site, never another host."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    parsed = urlparse(value)
    return "/" if parsed.scheme or parsed.netloc else value


def _page(handler: RequestHandler, status: int, text: str) -> None:
    handler.set_status(status)
    handler.set_header("Content-Type", "text/html; charset=utf-8")
    handler.set_header("Cache-Control", "no-store")
    handler.finish(f"<!doctype html><title>livegrid</title><p>{text}</p>\n")


class SignIn:
    """Sign-in off: everyone is an operator, named by ``?user=`` (the demo)."""

    mode = "none"

    def serve_kwargs(self) -> dict[str, Any]:
        return {}

    def identify(self, headers: Headers, cookies: Cookies) -> Identity | None:
        return None

    def whois(self, handler: RequestHandler) -> Identity | None:
        """The identity of a live request, for the ``/debug/*`` endpoints."""
        return None


# --- basic ------------------------------------------------------------------------------


class BasicSignIn(SignIn):
    mode = "basic"

    def __init__(self, password_file: str, cookie_secret: str) -> None:
        self._path = password_file
        self._secret = cookie_secret
        self.accounts: dict[str, Account] = read_password_file(password_file)
        log.info("password file read", path=password_file, accounts=len(self.accounts))

    def check(self, authorization: str | None) -> Account | None:
        """The account an ``Authorization: Basic`` header names with its right password."""
        if not authorization or not authorization.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        account = self.accounts.get(user)
        if not sep or account is None or not verify_password(password, account.password_hash):
            return None
        return account

    def _from_cookie(self, value: str | None) -> Account | None:
        if not value:
            return None
        decoded = decode_signed_value(self._secret, USER_COOKIE, value, max_age_days=1)
        if decoded is None:
            return None
        return self.accounts.get(decoded.decode(errors="replace"))

    def _account(self, headers: Headers, cookie: str | None) -> Account | None:
        return self._from_cookie(cookie) or self.check(_header(headers, "Authorization"))

    def identify(self, headers: Headers, cookies: Cookies) -> Identity | None:
        cookie = cookies.get(USER_COOKIE)
        account = self._account(headers, str(cookie) if cookie else None)
        return Identity(account.user, account.role) if account else None

    def whois(self, handler: RequestHandler) -> Identity | None:
        account = self._account(handler.request.headers, handler.get_cookie(USER_COOKIE))
        return Identity(account.user, account.role) if account else None

    def serve_kwargs(self) -> dict[str, Any]:
        return {"auth_provider": _BasicProvider(self), "cookie_secret": self._secret}


class _SignInProvider(AuthProvider):
    """Bokeh's auth hook over a :class:`SignIn`: a request's user is whoever it names."""

    def __init__(self, sign_in: SignIn) -> None:
        self._sign_in = sign_in
        super().__init__()

    @property
    def get_user(self) -> Any:
        def get_user(handler: RequestHandler) -> str | None:
            identity = self._sign_in.whois(handler)
            return identity.user if identity else None

        return get_user

    @property
    def login_url(self) -> str:
        return LOGIN


class _BasicProvider(_SignInProvider):
    _sign_in: BasicSignIn

    @property
    def login_handler(self) -> type[RequestHandler]:
        sign_in = self._sign_in

        class BasicLogin(RequestHandler):
            def get(self) -> None:
                account = sign_in.check(self.request.headers.get("Authorization"))
                if account is None:
                    self.set_header("WWW-Authenticate", 'Basic realm="livegrid", charset="UTF-8"')
                    _page(self, 401, "Sign-in required: give your livegrid user name and "
                          "password. A wrong name or password is refused.")  # fmt: skip
                    return
                self.set_signed_cookie(USER_COOKIE, account.user, httponly=True, expires_days=1)
                log.info("signed in", user=account.user, role=account.role.label)
                self.redirect(_safe_next(self.get_argument("next", None)))

        return BasicLogin

    @property
    def logout_url(self) -> str:
        return LOGOUT

    @property
    def logout_handler(self) -> type[RequestHandler]:
        class BasicLogout(RequestHandler):
            def get(self) -> None:
                self.clear_cookie(USER_COOKIE)
                _page(self, 200, 'Signed out. Close the browser to forget the password, '
                      'or <a href="/login">sign in again</a>.')  # fmt: skip

        return BasicLogout


# --- trusted proxy header ----------------------------------------------------------------


class ProxySignIn(SignIn):
    mode = "proxy"

    def __init__(
        self,
        *,
        trusted: list[str],
        user_header: str,
        groups_header: str,
        role_map: Mapping[str, Role],
        default_role: Role | None,
        cookie_secret: str,
    ) -> None:
        self._networks = parse_networks(trusted)
        self._user_header = user_header
        self._groups_header = groups_header
        self._role_map = dict(role_map)
        self._default = default_role
        self._secret = cookie_secret

    def _identity(self, headers: Headers) -> Identity | None:
        user = (_header(headers, self._user_header) or "").strip()[:128]
        if not user:
            return None
        groups = split_groups(_header(headers, self._groups_header))
        role = role_from_groups(groups, self._role_map, self._default)
        return Identity(user, role) if role is not None else None

    def identify(self, headers: Headers, cookies: Cookies) -> Identity | None:
        return self._identity(headers)

    def whois(self, handler: RequestHandler) -> Identity | None:
        if not from_trusted_proxy(handler.request.remote_ip, self._networks):
            return None
        return self._identity(handler.request.headers)

    def serve_kwargs(self) -> dict[str, Any]:
        return {"auth_provider": _ProxyProvider(self), "cookie_secret": self._secret}


class _ProxyProvider(_SignInProvider):
    @property
    def login_handler(self) -> type[RequestHandler]:
        class ProxyLogin(RequestHandler):
            def get(self) -> None:
                _page(self, 401, "Sign-in required: open the dashboard through its "
                      "sign-in proxy. This request did not come through it, or the "
                      "proxy named no user with a livegrid role.")  # fmt: skip

        return ProxyLogin


# --- OpenID Connect ----------------------------------------------------------------------


def discover(issuer: str, timeout: float = 10.0) -> dict[str, Any]:
    """The issuer's OpenID configuration; an unreachable issuer is a clear error."""
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            document: dict[str, Any] = json.loads(response.read())
    except (OSError, ValueError) as error:
        raise RuntimeError(f"cannot read the OpenID configuration at {url}: {error}") from error
    for key in ("authorization_endpoint", "token_endpoint"):
        if key not in document:
            raise RuntimeError(f"the OpenID configuration at {url} has no {key}")
    return document


class OidcSignIn(SignIn):
    mode = "oidc"

    def __init__(self, settings: Settings, *, role_map: Mapping[str, Role]) -> None:
        self._settings = settings
        self._role_map = dict(role_map)
        self._default = _default_role(settings)
        assert settings.auth_cookie_secret is not None
        self._secret = settings.auth_cookie_secret.get_secret_value()
        self._document = discover(settings.auth_oidc_issuer)
        log.info("OpenID provider discovered", issuer=settings.auth_oidc_issuer)

    def serve_kwargs(self) -> dict[str, Any]:
        s = self._settings
        doc = self._document
        extra: dict[str, Any] = {
            "AUTHORIZE_URL": doc["authorization_endpoint"],
            "TOKEN_URL": doc["token_endpoint"],
            "USER_KEY": s.auth_oidc_user_claim,
            "scope": s.auth_oidc_scopes.split(),
        }
        if "userinfo_endpoint" in doc:
            extra["USER_URL"] = doc["userinfo_endpoint"]
        if "end_session_endpoint" in doc:
            extra["LOGOUT_URL"] = doc["end_session_endpoint"]
        assert s.auth_oidc_client_secret is not None
        out: dict[str, Any] = {
            "oauth_provider": "generic",
            "oauth_key": s.auth_oidc_client_id,
            "oauth_secret": s.auth_oidc_client_secret.get_secret_value(),
            "oauth_redirect_uri": s.auth_oidc_redirect_uri,
            "oauth_extra_params": extra,
            "cookie_secret": self._secret,
        }
        if s.auth_oidc_encryption_key is not None:
            out["oauth_encryption_key"] = s.auth_oidc_encryption_key.get_secret_value()
        return out

    def identify(self, headers: Headers, cookies: Cookies) -> Identity | None:
        """From Panel's signed ``user`` cookie and the ID token's claims (on the IOLoop)."""
        import panel as pn

        user = pn.state.user
        if not user:
            return None
        claims = pn.state.user_info or {}
        groups = split_groups(claims.get(self._settings.auth_oidc_role_claim))
        role = role_from_groups(groups, self._role_map, self._default)
        return Identity(str(user)[:128], role) if role is not None else None


# --- building ----------------------------------------------------------------------------


def _default_role(settings: Settings) -> Role | None:
    return None if settings.auth_default_role == "none" else Role.parse(settings.auth_default_role)


def build_sign_in(settings: Settings) -> SignIn:
    """The configured mode; a missing file or provider is an error at start-up."""
    if settings.auth_mode == "none":
        return SignIn()
    assert settings.auth_cookie_secret is not None  # the settings check it
    secret = settings.auth_cookie_secret.get_secret_value()
    role_map = {group: Role.parse(role) for group, role in settings.auth_role_map.items()}
    if settings.auth_mode == "basic":
        return BasicSignIn(settings.auth_password_file, secret)
    if settings.auth_mode == "proxy":
        return ProxySignIn(
            trusted=settings.auth_trusted_proxies,
            user_header=settings.auth_user_header,
            groups_header=settings.auth_groups_header,
            role_map=role_map,
            default_role=_default_role(settings),
            cookie_secret=secret,
        )
    return OidcSignIn(settings, role_map=role_map)
