"""Series: one metric of one host over a range, from the finest tier within the point budget."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query

from api.dependencies import Now, Queries
from api.params import parse_step, parse_time
from hostpulse.query import NotFound
from hostpulse.tiers import RangeError

router = APIRouter(prefix="/api/v1/series", tags=["series"])


@router.get("", summary="A metric over a range, from the right tier")
def series(
    queries: Queries,
    now: Now,
    host: Annotated[str, Query(min_length=1, max_length=253)],
    metric: Annotated[str, Query(min_length=1, max_length=300, examples=["cpu.percent"])],
    from_: Annotated[
        str, Query(alias="from", description="start; e.g. -1h, ISO 8601, epoch")
    ] = "-1h",
    to: Annotated[str, Query(description="end; defaults to now")] = "now",
    step: Annotated[str | None, Query(description="bucket width, e.g. 60, 5m")] = None,
    tier: Annotated[Literal["raw", "1m", "1h"] | None, Query(description="force a tier")] = None,
    max_points: Annotated[int | None, Query(ge=10, le=100_000)] = None,
) -> dict[str, Any]:
    start = parse_time(from_, now, "from")
    end = parse_time(to, now, "to")
    try:
        return queries.series(
            host,
            metric,
            start,
            end,
            now,
            tier=tier,
            step_s=parse_step(step),
            max_points=max_points,
        )
    except RangeError as error:
        raise HTTPException(400, str(error)) from None
    except NotFound as error:
        raise HTTPException(404, str(error)) from None
