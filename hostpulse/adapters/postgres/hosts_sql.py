"""Every SQL statement of the fleet's lifecycle (retiring and forgetting hosts), in one place.
Times travel as Unix milliseconds; the f-strings splice only this module's constants."""

from __future__ import annotations

from hostpulse.adapters.postgres.metrics_sql import MS, epoch_ms
from hostpulse.core.tiers import default_tiers

TS = MS.format(column="%s")

COLUMNS = f"host, {epoch_ms('last_seen')}, {epoch_ms('retired_at')}, retired_by"
KNOWN = f"SELECT {COLUMNS} FROM hosts WHERE host = %s"
LISTED = f"SELECT {COLUMNS} FROM hosts WHERE %s OR retired_at IS NOT NULL ORDER BY host"
RETIRE = f"""
UPDATE hosts SET retired_at = {TS}, retired_by = %s WHERE host = %s AND retired_at IS NULL
"""
SILENT_SINCE = f"SELECT host FROM hosts WHERE retired_at IS NULL AND last_seen < {TS}"
RETIRED_BEFORE = f"SELECT host FROM hosts WHERE retired_at IS NOT NULL AND last_seen < {TS}"
# A host forgotten: its rows in every tier, its processes, batches and alert watch, then itself.
# Its alert history stays (what fired is on record); its agent's token stays (revoke it apart).
ROLLED = [tier.table for tier in default_tiers() if tier.rolled]
FORGET = [
    "DELETE FROM samples_raw WHERE host = %(host)s",
    *(
        f"DELETE FROM {table} t USING series s WHERE t.series_id = s.id AND s.host = %(host)s"
        for table in ROLLED
    ),
    "DELETE FROM series WHERE host = %(host)s",
    "DELETE FROM processes_raw WHERE host = %(host)s",
    "DELETE FROM batches WHERE host = %(host)s",
    "DELETE FROM batch_hours WHERE host = %(host)s",
    "DELETE FROM alert_state WHERE host = %(host)s",
    "DELETE FROM alert_points WHERE host = %(host)s",
]
FORGET_HOST_ROW = "DELETE FROM hosts WHERE host = %(host)s"
