"""The password file of ``LIVEGRID_AUTH_MODE=basic``: one ``user:role:hash`` a line.

Pure: only the standard library. Hashes are scrypt (``hashlib.scrypt``) with a
random salt, written ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>``; a line makes
the file with ``python -m app.auth.passwords USER ROLE`` (asks for the password).
Lines starting with ``#`` and blank lines are ignored.
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from app.auth.roles import Role

_N, _R, _P = 2**14, 8, 1


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored``; a malformed hash matches nothing."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = bytes.fromhex(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=2**26,
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Account:
    user: str
    role: Role
    password_hash: str


def parse_password_file(text: str, *, source: str = "the password file") -> dict[str, Account]:
    """Accounts by user name; a malformed line is an error naming its line number."""
    accounts: dict[str, Account] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[2].startswith("scrypt$"):
            raise ValueError(
                f"{source}, line {number}: expected user:role:scrypt$..., as "
                "'python -m app.auth.passwords USER ROLE' writes it"
            )
        try:
            role = Role.parse(parts[1])
        except ValueError as error:
            raise ValueError(f"{source}, line {number}: {error}") from None
        accounts[parts[0]] = Account(parts[0], role, parts[2])
    return accounts


def read_password_file(path: str) -> dict[str, Account]:
    return parse_password_file(Path(path).read_text(encoding="utf-8"), source=path)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m app.auth.passwords USER ROLE  (role: viewer, operator or admin)")
        return 2
    user, role = argv[0], Role.parse(argv[1])
    if ":" in user:
        print("a user name cannot contain ':'", file=sys.stderr)
        return 2
    password = os.environ.get("LIVEGRID_NEW_PASSWORD") or getpass.getpass(f"password of {user}: ")
    print(f"{user}:{role.label}:{hash_password(password)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
