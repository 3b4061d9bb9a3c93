"""Dependencies the routers ask for; tests override them with in-memory services."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, WebSocketException, status
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from hostpulse.core.settings import ApiSettings
from hostpulse.services.accounts.service import Accounts, Role, Session
from hostpulse.services.agents.config import AgentConfigs
from hostpulse.services.agents.ports import CommandStore
from hostpulse.services.alerts.ports import RuleGroupStore, RuleStore
from hostpulse.services.fleet.service import FleetLifecycle
from hostpulse.services.promql.service import PromQLService
from hostpulse.services.query.live import LiveHub
from hostpulse.services.query.service import QueryService
from hostpulse.services.self_monitoring.ports import PipelineHistory, Probe
from hostpulse.services.self_monitoring.watch import PipelineWatch
from hostpulse.wiring import components

SESSION_COOKIE = "hostpulse_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SIGN_IN_ENDED = "the sign-in has ended: sign in again"


def get_query_service() -> QueryService:
    return components.query_service()


def get_promql_service() -> PromQLService:
    return components.promql_service()


def get_alert_store() -> RuleStore:
    return components.alert_store()


def get_rule_groups() -> RuleGroupStore:
    return components.rule_groups()


def get_fleet() -> FleetLifecycle:
    return components.fleet_lifecycle()


def get_live_hub() -> LiveHub:
    return components.live_hub()


def get_pipeline() -> PipelineWatch:
    return components.api_pipeline_watch()


def get_pipeline_history() -> PipelineHistory:
    return components.api_pipeline_history()


def get_agent_configs() -> AgentConfigs:
    return components.api_agent_configs()


def get_agent_commands() -> CommandStore:
    return components.api_agent_commands()


def get_now() -> datetime:
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(get_now)]


def get_settings(connection: HTTPConnection) -> ApiSettings:
    settings: ApiSettings = connection.app.state.settings  # set by create_app
    return settings


Settings = Annotated[ApiSettings, Depends(get_settings)]


def get_probes(settings: Settings) -> list[Probe]:
    return components.health_probes(settings)


def bearer(connection: HTTPConnection) -> str:
    """The token of an ``Authorization: Bearer`` header, or ''."""
    header = connection.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else ""


def get_accounts() -> Callable[[], Accounts]:
    """Built only when a request carries a session cookie: token-only deployments never
    touch the users' tables."""
    return components.accounts


AccountsProvider = Annotated[Callable[[], Accounts], Depends(get_accounts)]


def session_of(
    connection: HTTPConnection, accounts: Callable[[], Accounts], now: datetime
) -> Session | None:
    """The signed-in user's live session, from the session cookie, if any."""
    token = connection.cookies.get(SESSION_COOKIE, "")
    return accounts().session(token, now) if token else None


def supplied_read_token(connection: HTTPConnection) -> str:
    """The read token a request brings: ``Authorization: Bearer`` or, for browsers'
    WebSockets and shared links, ``?token=``; '' for none."""
    return bearer(connection) or connection.query_params.get("token", "")


def require_reader(
    connection: HTTPConnection, settings: Settings, accounts: AccountsProvider, now: Now
) -> None:
    """The read token: ``Authorization: Bearer`` or, for browsers' WebSockets and shared
    links, ``?token=``; or a signed-in user of any role. Without a read token, reads are open
    only where the operator said so (``public_read``); otherwise only signed-in users read."""
    if settings.reads_open:
        return
    supplied = supplied_read_token(connection)
    expected = settings.read_token.get_secret_value() if settings.read_token else None
    if expected is not None and hmac.compare_digest(supplied.encode(), expected.encode()):
        return
    if not supplied and session_of(connection, accounts, now) is not None:
        if isinstance(connection, WebSocket) and not dashboard_origin(connection, settings):
            raise WebSocketException(
                status.WS_1008_POLICY_VIOLATION,
                "a signed-in live feed opens only from the dashboard's own or allowed origins",
            )
        return
    if expected is None:
        reason = "reading needs a sign-in here" if not supplied else "this API has no read token"
    else:
        reason = (
            "a read token or a sign-in is required" if not supplied else "the read token is wrong"
        )
    if isinstance(connection, WebSocket):
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason)
    raise HTTPException(401, reason, headers={"WWW-Authenticate": "Bearer"})


@dataclass(frozen=True)
class FeedWatch:
    """What a live feed asks again while it streams: whether the sign-in that let it in still
    lives (None when a token or public reads let it in), every ``every_s`` seconds."""

    still_allowed: Callable[[], bool] | None
    every_s: float


def feed_watch(
    connection: HTTPConnection, settings: Settings, accounts: AccountsProvider
) -> FeedWatch:
    every_s = settings.live_recheck_seconds
    if settings.reads_open or supplied_read_token(connection):
        return FeedWatch(None, every_s)
    return FeedWatch(
        lambda: session_of(connection, accounts, datetime.now(UTC)) is not None, every_s
    )


def dashboard_origin(connection: HTTPConnection, settings: ApiSettings) -> bool:
    """Whether a browser's request comes from the API's own origin or an allowed one. A
    WebSocket handshake carries the cookie and no CORS check: without this, any page the user
    visits could open their live feed (cross-site WebSocket hijacking)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True  # not a browser: it holds the cookie itself
    own = urlsplit(origin).netloc == connection.headers.get("host")
    return own or origin in settings.allowed_origins


def require_admin(
    connection: HTTPConnection, settings: Settings, accounts: AccountsProvider, now: Now
) -> None:
    """The admin token, from the Authorization header only: never from a URL, where it would
    end up in logs, browser history and shared links. Or a user signed in as an operator or
    admin, whose writes carry the session's CSRF token in ``X-CSRF-Token``."""
    supplied = bearer(connection)
    if not supplied and connection.cookies.get(SESSION_COOKIE):
        require_role(connection, accounts, Role.OPERATOR, now)
        return
    if settings.admin_token is None:
        raise HTTPException(
            403,
            "administration through the API is off: set HOSTPULSE_ADMIN_TOKEN to allow it,"
            " or sign in as an operator",
        )
    if not supplied:
        raise HTTPException(
            401,
            "the admin token is required, as 'Authorization: Bearer …', or a sign-in",
            headers={"WWW-Authenticate": "Bearer"},
        )
    expected = settings.admin_token.get_secret_value()
    if not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise HTTPException(403, "this token may not administer hostpulse")


def administrator(
    connection: HTTPConnection, settings: Settings, accounts: AccountsProvider, now: Now
) -> str:
    """Who administers, for the record: the admin token, or a user signed in as an admin
    (an operator's sign-in is not enough here), with the session's CSRF token."""
    if not bearer(connection) and connection.cookies.get(SESSION_COOKIE):
        return f"user {require_role(connection, accounts, Role.ADMIN, now).user}"
    require_admin(connection, settings, accounts, now)
    return "the admin token"


def operator(
    connection: HTTPConnection, settings: Settings, accounts: AccountsProvider, now: Now
) -> str:
    """Who operates, for the record (a silence's author): a user signed in as an operator or
    admin, with the session's CSRF token, or the admin token."""
    if not bearer(connection) and connection.cookies.get(SESSION_COOKIE):
        return f"user {require_role(connection, accounts, Role.OPERATOR, now).user}"
    require_admin(connection, settings, accounts, now)
    return "the admin token"


def require_role(
    connection: HTTPConnection, accounts: Callable[[], Accounts], needed: Role, now: datetime
) -> Session:
    """A live session whose role allows ``needed``; for a write, with its CSRF token."""
    session = session_of(connection, accounts, now)
    if session is None:
        raise HTTPException(401, f"not signed in, or {SIGN_IN_ENDED}")
    if not session.role.allows(needed):
        raise HTTPException(403, f"user {session.user!r} is a {session.role}, not an {needed}")
    if connection.scope.get("method", "GET") not in SAFE_METHODS:
        sent = connection.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HTTPException(403, f"a write from a sign-in needs its {CSRF_HEADER} header")
    return session


def signed_in_user(connection: HTTPConnection, accounts: AccountsProvider, now: Now) -> Session:
    """A live session of any role (with its CSRF token for a write), checked before a body is
    read: who is not signed in learns nothing of what the route would accept."""
    return require_role(connection, accounts, Role.VIEWER, now)


SignedIn = Annotated[Session, Depends(signed_in_user)]
LiveWatch = Annotated[FeedWatch, Depends(feed_watch)]
Queries = Annotated[QueryService, Depends(get_query_service)]
PromQL = Annotated[PromQLService, Depends(get_promql_service)]
Hub = Annotated[LiveHub, Depends(get_live_hub)]
AlertRules = Annotated[RuleStore, Depends(get_alert_store)]
RuleGroups = Annotated[RuleGroupStore, Depends(get_rule_groups)]
Fleet = Annotated[FleetLifecycle, Depends(get_fleet)]
Probes = Annotated[list[Probe], Depends(get_probes)]
Reader = Depends(require_reader)
Pipeline = Annotated[PipelineWatch, Depends(get_pipeline)]
PipelineMinutes = Annotated[PipelineHistory, Depends(get_pipeline_history)]
Admin = Depends(require_admin)
Administrator = Annotated[str, Depends(administrator)]
Operator = Annotated[str, Depends(operator)]
CentralConfigs = Annotated[AgentConfigs, Depends(get_agent_configs)]
AgentCommands = Annotated[CommandStore, Depends(get_agent_commands)]
