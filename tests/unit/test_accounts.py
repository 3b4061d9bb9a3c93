"""Users, passwords and sign-in sessions (the accounts service), on in-memory stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hostpulse.services.accounts.dashboard_settings import DashboardSettings
from hostpulse.services.accounts.service import (
    NO_THROTTLE,
    AccountError,
    Accounts,
    Role,
    SignInThrottled,
    hash_password,
    verify_password,
)
from hostpulse.services.agents.tokens import token_hash
from tests.fakes import MemoryAccountStore, MemoryAuthThrottle

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def store() -> MemoryAccountStore:
    return MemoryAccountStore()


@pytest.fixture
def throttle() -> MemoryAuthThrottle:
    return MemoryAuthThrottle(limit=3)


@pytest.fixture
def accounts(store: MemoryAccountStore, throttle: MemoryAuthThrottle) -> Accounts:
    accounts = Accounts(store, timedelta(hours=12), throttle)
    accounts.add_user("ada", PASSWORD, Role.OPERATOR)
    return accounts


def test_a_password_is_stored_as_a_salted_scrypt_hash() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)

    assert first.startswith("scrypt$32768$8$3$") and PASSWORD not in first
    assert first != second, "a salt of its own"
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + " ", first)
    for broken in ("", "scrypt$1$2", "bcrypt$32768$8$3$AAAA$AAAA", "scrypt$x$8$3$AAAA$AAAA"):
        assert not verify_password(PASSWORD, broken)


@pytest.mark.parametrize("password", ["short", "x" * 1025])
def test_a_password_too_short_or_too_long_is_refused(accounts: Accounts, password: str) -> None:
    with pytest.raises(AccountError, match="password"):
        accounts.add_user("bob", password, Role.VIEWER)


@pytest.mark.parametrize(
    "name", ["", " ada", "x" * 65, "line\nbreak", "bidi\u202eflip", "nul\x00", "half\ud800"]
)
def test_a_user_name_must_be_printable_and_short(accounts: Accounts, name: str) -> None:
    with pytest.raises(AccountError, match="not a user name"):
        accounts.add_user(name, PASSWORD, Role.VIEWER)


def test_a_user_name_is_taken_once(accounts: Accounts) -> None:
    with pytest.raises(AccountError, match="exists"):
        accounts.add_user("ada", PASSWORD, Role.ADMIN)


def test_a_sign_in_makes_a_session_stored_only_as_the_tokens_hash(
    accounts: Accounts, store: MemoryAccountStore
) -> None:
    signed = accounts.sign_in("ada", PASSWORD, NOW, "10.0.0.1")

    assert signed is not None
    assert list(store.sessions) == [token_hash(signed.token)]
    assert signed.session.expires == NOW + timedelta(hours=12)
    found = accounts.session(signed.token, NOW + timedelta(hours=11))
    assert found is not None and (found.user, found.role) == ("ada", Role.OPERATOR)
    assert accounts.session(signed.token, NOW + timedelta(hours=12)) is None, "expired"
    assert accounts.session("", NOW) is None
    assert accounts.session(signed.token + "x", NOW) is None


def test_a_wrong_password_and_an_unknown_user_answer_alike_and_are_counted(
    accounts: Accounts, throttle: MemoryAuthThrottle
) -> None:
    assert accounts.sign_in("ada", "wrong password!", NOW, "10.0.0.1") is None
    assert accounts.sign_in("nobody", PASSWORD, NOW, "10.0.0.1") is None

    assert throttle.failures == {
        "sign-in:10.0.0.1": 2,
        "sign-in-user:ada": 1,
        "sign-in-user:nobody": 1,
    }


@pytest.mark.parametrize("name", ["a\x00b", "\ud851\u009e\x00H", "lone\udc34"])
def test_a_name_no_account_can_have_is_a_wrong_name_and_the_store_is_not_asked(
    accounts: Accounts, store: MemoryAccountStore, throttle: MemoryAuthThrottle, name: str
) -> None:
    def as_postgresql_would(asked: str) -> None:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")

    store.user = as_postgresql_would  # type: ignore[method-assign,assignment]

    assert accounts.sign_in(name, PASSWORD, NOW, "10.0.0.1") is None
    assert throttle.failures == {"sign-in:10.0.0.1": 1}


def test_too_many_failures_for_one_user_throttle_it_from_every_address(
    accounts: Accounts,
) -> None:
    for n in range(3):
        assert accounts.sign_in("ada", "wrong password!", NOW, f"10.0.0.{n}") is None

    with pytest.raises(SignInThrottled) as throttled:
        accounts.sign_in("ada", PASSWORD, NOW, "10.0.0.9")  # even the right password
    assert throttled.value.retry_after_s == 60.0


def test_a_new_password_a_new_role_or_removal_ends_the_users_sessions(
    accounts: Accounts, store: MemoryAccountStore
) -> None:
    before_password = accounts.sign_in("ada", PASSWORD, NOW, "10.0.0.1")
    accounts.set_password("ada", "another long password")
    before_role = accounts.sign_in("ada", "another long password", NOW, "10.0.0.1")
    accounts.set_role("ada", Role.VIEWER)
    before_removal = accounts.sign_in("ada", "another long password", NOW, "10.0.0.1")
    assert before_removal is not None and before_removal.session.role is Role.VIEWER
    accounts.remove_user("ada")

    for signed in (before_password, before_role, before_removal):
        assert signed is not None and accounts.session(signed.token, NOW) is None
    assert store.sessions == {}
    with pytest.raises(AccountError, match="no user"):
        accounts.remove_user("ada")


def test_roles_are_ordered() -> None:
    assert Role.ADMIN.allows(Role.OPERATOR) and Role.OPERATOR.allows(Role.VIEWER)
    assert not Role.VIEWER.allows(Role.OPERATOR) and not Role.OPERATOR.allows(Role.ADMIN)


def test_stored_settings_a_later_version_cannot_read_fall_back_to_the_defaults() -> None:
    store = MemoryAccountStore()
    accounts = Accounts(store, timedelta(hours=1), NO_THROTTLE)
    accounts.add_user("vera", PASSWORD, Role.VIEWER)
    store.settings_by_name["vera"] = {"default_range": "7d", "charts": ["gpu"]}

    assert accounts.dashboard_settings("vera") == DashboardSettings()
    store.settings_by_name["vera"] = {"default_range": "7d"}
    assert accounts.dashboard_settings("vera").default_range == "7d"
