"""Dashboard users: passwords hashed with scrypt (memory-hard), sign-in sessions held
server-side, and the roles that map users onto the security model's credentials.

A session's token travels only in an HttpOnly cookie and is stored as its SHA-256: a copy of
the table signs no one in. Each session also has a CSRF token, which the dashboard sends back
in a header with every write (a cookie alone never authorises one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hostpulse.core.contract import SAFE_TEXT
from hostpulse.core.ports import AuthThrottle
from hostpulse.services.accounts.dashboard_settings import DashboardSettings, stored_settings
from hostpulse.services.accounts.ports import AccountStore
from hostpulse.services.agents.tokens import token_hash


class Role(StrEnum):
    """What a user may do, mapped onto the API's credentials."""

    VIEWER = "viewer"  # what the read token allows: every data route and the live feeds
    OPERATOR = "operator"  # a viewer who also manages alert rules
    ADMIN = "admin"  # what the admin token allows

    def allows(self, needed: Role) -> bool:
        return _RANKS[self] >= _RANKS[needed]


_RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}

# scrypt with N = 2^15, r = 8, p = 3: one of OWASP's minimum settings (equal to 2^17, 8, 1),
# 32 MiB of memory at a time, about 0.3 s per check here.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 3
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing is the costly part: no megabyte passwords
USER_NAME = re.compile(SAFE_TEXT)


def is_user_name(name: str) -> bool:
    """1 to 64 printable characters, no spaces around, and text PostgreSQL can hold."""
    return (
        0 < len(name) <= 64
        and name.strip() == name
        and USER_NAME.match(name) is not None
        and not any("\ud800" <= character <= "\udfff" for character in name)
    )


class AccountError(ValueError):
    """A request about users that cannot be met; the message says why."""


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash``, the parameters kept so that they can change later."""
    check_password(password)
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        found = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(found, _unb64(digest))


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str


@dataclass(frozen=True)
class Session:
    user: str
    role: Role
    csrf: str
    expires: datetime


@dataclass(frozen=True)
class SignedIn:
    token: str  # the cookie's value; never stored
    session: Session


# A password checked against this when the user does not exist: a sign-in takes as long for
# an unknown name as for a wrong password, so names cannot be told apart by timing.
_DECOY = "scrypt$32768$8$3$AAAAAAAAAAAAAAAAAAAAAA$" + "A" * 43


class _NoThrottle:
    def blocked_for(self, source: str) -> float:
        return 0.0

    def failed(self, source: str) -> None:
        return None

    def attempt(self, source: str) -> float:
        return 0.0

    def forgive(self, source: str) -> None:
        return None


# For managing users from the command line, which signs no one in.
NO_THROTTLE: AuthThrottle = _NoThrottle()


class SignInThrottled(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s


class Accounts:
    def __init__(
        self, store: AccountStore, session_lifetime: timedelta, throttle: AuthThrottle
    ) -> None:
        self.store = store
        self.session_lifetime = session_lifetime
        # Failed sign-ins are counted per client address and per user name: guessing one
        # user's password from many addresses is bounded as well as guessing from one.
        self.throttle = throttle

    def add_user(self, name: str, password: str, role: Role) -> User:
        if not is_user_name(name):
            raise AccountError(
                f"{name!r} is not a user name: 1 to 64 printable characters, no spaces around"
            )
        user = User(name, role, hash_password(password))
        if not self.store.add_user(user):
            raise AccountError(f"user {name!r} exists already")
        return user

    def set_password(self, name: str, password: str) -> None:
        """A new password ends every session of the user."""
        if not self.store.update_user(name, hash_password(password), None):
            raise AccountError(f"no user {name!r}")
        self.store.end_sessions_of(name)

    def set_role(self, name: str, role: Role) -> None:
        if not self.store.update_user(name, None, role):
            raise AccountError(f"no user {name!r}")
        self.store.end_sessions_of(name)

    def remove_user(self, name: str) -> None:
        if not self.store.remove_user(name):
            raise AccountError(f"no user {name!r}")

    def sign_in(self, name: str, password: str, now: datetime, source: str) -> SignedIn | None:
        """A new session, or None for a wrong name or password (the same answer for both).
        Raises ``SignInThrottled`` after too many failures from ``source`` or for ``name``."""
        # A name no account can have (a NUL, an unpaired surrogate: text the store cannot
        # even be asked about) is a wrong name like any other, counted against its source.
        possible = is_user_name(name)
        counted = [f"sign-in:{source}", *([f"sign-in-user:{name}"] if possible else [])]
        # Counted before the slow check, taken back if it succeeds: guesses sent at once are
        # held to the bound as guesses sent one after another are.
        blocked = max([self.throttle.attempt(key) for key in counted])
        if blocked > 0:
            raise SignInThrottled(blocked)
        user = self.store.user(name) if possible else None
        valid = verify_password(password, user.password_hash if user else _DECOY)
        if user is None or not valid:
            return None
        for key in counted:
            self.throttle.forgive(key)
        token = secrets.token_urlsafe(32)
        session = Session(
            user.name, user.role, secrets.token_urlsafe(24), now + self.session_lifetime
        )
        self.store.add_session(token_hash(token), session)
        return SignedIn(token, session)

    def session(self, token: str, now: datetime) -> Session | None:
        return self.store.session(token_hash(token), now) if token else None

    def sign_out(self, token: str) -> None:
        self.store.end_session(token_hash(token))

    def dashboard_settings(self, name: str) -> DashboardSettings:
        return stored_settings(self.store.dashboard_settings(name))

    def save_dashboard_settings(self, name: str, settings: DashboardSettings) -> None:
        if not self.store.save_dashboard_settings(name, settings.model_dump(mode="json")):
            raise AccountError(f"no user {name!r}")
