"""A signed-in user's dashboard settings, kept server-side so that they follow the user to
any browser: the range a host page opens with, which charts it shows in what order, and the
hosts the fleet page leaves out."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hostpulse.core.contract import HostName

RangeId = Literal["live", "1h", "24h", "7d", "90d"]
ChartId = Literal["cpu", "cores", "memory", "load", "diskio", "net"]
CHARTS: tuple[ChartId, ...] = ("cpu", "cores", "memory", "load", "diskio", "net")
# A fleet page's worth: the list travels with every settings read.
MAX_HIDDEN_HOSTS = 1000


class DashboardSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default_range: RangeId = Field("live", description="the range a host page opens with")
    charts: Annotated[list[ChartId], Field(max_length=len(CHARTS))] = Field(
        default_factory=lambda: list(CHARTS),
        description="the host page's charts, in the order shown; one left out is not shown",
    )
    hidden_hosts: Annotated[list[HostName], Field(max_length=MAX_HIDDEN_HOSTS)] = Field(
        default_factory=list, description="hosts the fleet page leaves out until asked"
    )

    @field_validator("charts", "hidden_hosts")
    @classmethod
    def distinct(cls, items: list[str]) -> list[str]:
        repeated = sorted({item for item in items if items.count(item) > 1})
        if repeated:
            raise ValueError(f"names a value twice: {', '.join(repeated)}")
        return items


def stored_settings(stored: dict[str, Any] | None) -> DashboardSettings:
    """What a user saved, or the defaults. Settings a later version no longer understands
    (a chart that was removed) fall back to the defaults instead of breaking the page."""
    if stored is None:
        return DashboardSettings()
    try:
        return DashboardSettings.model_validate(stored)
    except ValidationError:
        return DashboardSettings()
