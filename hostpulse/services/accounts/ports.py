"""What the accounts service needs from storage: users, their sessions and settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime
    from typing import Any

    from hostpulse.services.accounts.service import Role, Session, User


class AccountStore(Protocol):
    def add_user(self, user: User) -> bool:
        """False when the name is taken."""

    def user(self, name: str) -> User | None: ...

    def users(self) -> list[User]: ...

    def update_user(self, name: str, password_hash: str | None, role: Role | None) -> bool:
        """False when there is no such user."""

    def remove_user(self, name: str) -> bool:
        """Also ends the user's sessions; False when there is no such user."""

    def add_session(self, token_hash: str, session: Session) -> None: ...

    def session(self, token_hash: str, now: datetime) -> Session | None:
        """The session if it has not expired."""

    def end_session(self, token_hash: str) -> None: ...

    def end_sessions_of(self, name: str) -> int: ...

    def dashboard_settings(self, name: str) -> dict[str, Any] | None:
        """What the user saved, as saved; None when nothing was."""

    def save_dashboard_settings(self, name: str, settings: dict[str, Any]) -> bool:
        """False when there is no such user."""
