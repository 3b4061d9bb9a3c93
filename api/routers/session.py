"""Sign-in for the dashboard: a session in an HttpOnly, SameSite=Strict cookie."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from typing_extensions import TypedDict

from api.dependencies import (
    SESSION_COOKIE,
    SIGN_IN_ENDED,
    AccountsProvider,
    Now,
    SignedIn,
    get_settings,
    require_role,
    session_of,
)
from api.problems import refusals
from hostpulse.services.accounts.dashboard_settings import DashboardSettings
from hostpulse.services.accounts.service import (
    MAX_PASSWORD,
    AccountError,
    Role,
    Session,
    SignInThrottled,
)

router = APIRouter(tags=["session"])


class SignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]


class SessionAnswer(TypedDict):
    user: str
    role: Role
    csrf: Annotated[str, Field(description="send it back as X-CSRF-Token with every write")]
    expires_ms: int


def session_cookie(request: Request, token: str, max_age: int) -> str:
    """The session's ``Set-Cookie``. ``SameSite=Strict`` for the dashboard the API serves
    itself. For a dashboard on one of the allowed other origins (a static site),
    ``SameSite=None; Secure; Partitioned``: a cookie that site's pages send and no other
    top-level site's, and the only kind browsers that block third-party cookies still keep.
    Written here rather than by Starlette, whose ``partitioned`` needs Python 3.14; the
    token is URL-safe base64, which a cookie value holds unquoted."""
    parts = [f"{SESSION_COOKIE}={token}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
    if request.headers.get("origin") in get_settings(request).allowed_origins:
        parts += ["Secure", "SameSite=None", "Partitioned"]
    else:
        parts += ["Secure"] if request.url.scheme == "https" else []
        parts += ["SameSite=Strict"]
    return "; ".join(parts)


def answer(session: Session) -> SessionAnswer:
    return {
        "user": session.user,
        "role": session.role,
        "csrf": session.csrf,
        "expires_ms": int(session.expires.timestamp() * 1000),
    }


@router.post(
    "/api/v1/session",
    summary="Sign in: sets the session cookie",
    responses=refusals(401, 429),
)
def sign_in(
    body: SignIn, request: Request, response: Response, accounts: AccountsProvider, now: Now
) -> SessionAnswer:
    source = request.client.host if request.client else ""
    try:
        signed = accounts().sign_in(body.user, body.password, now, source)
    except SignInThrottled as throttled:
        retry = str(math.ceil(throttled.retry_after_s))
        raise HTTPException(429, str(throttled), headers={"Retry-After": retry}) from None
    if signed is None:
        raise HTTPException(401, "wrong user name or password")
    lifetime = max(1, int((signed.session.expires - now).total_seconds()))
    response.headers.append("set-cookie", session_cookie(request, signed.token, lifetime))
    response.headers["Cache-Control"] = "no-store"
    return answer(signed.session)


@router.get("/api/v1/session", summary="Who is signed in, until when", responses=refusals(401))
def current(request: Request, accounts: AccountsProvider, now: Now) -> SessionAnswer:
    session = session_of(request, accounts, now)
    if session is None:
        raise HTTPException(401, "not signed in")
    return answer(session)


@router.delete(
    "/api/v1/session",
    status_code=204,
    summary="Sign out: ends the session (needs X-CSRF-Token)",
    responses=refusals(401, 403),
)
def sign_out(request: Request, accounts: AccountsProvider, now: Now) -> Response:
    require_role(request, accounts, Role.VIEWER, now)  # a live session, and its CSRF token
    accounts().sign_out(request.cookies[SESSION_COOKIE])
    response = Response(status_code=204)
    # With the attributes it was set with: a partitioned cookie is only removed as one.
    response.headers.append("set-cookie", session_cookie(request, "", 0))
    return response


@router.get(
    "/api/v1/session/settings",
    summary="The signed-in user's dashboard settings (defaults until saved)",
    responses=refusals(401),
)
def dashboard_settings(session: SignedIn, accounts: AccountsProvider) -> DashboardSettings:
    return accounts().dashboard_settings(session.user)


@router.put(
    "/api/v1/session/settings",
    summary="Save the signed-in user's dashboard settings (needs X-CSRF-Token)",
    responses=refusals(401, 403),
)
def save_dashboard_settings(
    session: SignedIn, body: DashboardSettings, accounts: AccountsProvider
) -> DashboardSettings:
    try:
        accounts().save_dashboard_settings(session.user, body)
    except AccountError:  # removed since the session was read: its sessions are gone too
        raise HTTPException(401, SIGN_IN_ENDED) from None
    return body
