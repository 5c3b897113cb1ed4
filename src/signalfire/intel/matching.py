"""What follows an intelligence match run: alerts that no longer hold are withdrawn, and every
hit is recorded as a sighting of its indicator."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from signalfire.intel.indicators import record_sightings
from signalfire.store.alerts import ID_SQL

DETECTION = "intel.indicator_match"


def after_match(con: duckdb.DuckDBPyConnection, rows: pa.Table) -> tuple[int, int]:
    """Withdraw the intelligence alerts this run did not raise again, and record sightings.

    The match always runs over everything stored, so an alert it no longer raises is one whose
    value was allowlisted (or whose indicator was withdrawn by its source) since: the
    allowlist suppresses past hits as well as future ones. Returns (withdrawn, sightings new).
    """
    con.register("sf_match_rows", rows)
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE sf_match_ids AS SELECT {ID_SQL} AS alert_id "
            "FROM sf_match_rows",
            [DETECTION],
        )
    finally:
        con.unregister("sf_match_rows")
    stale = con.execute(
        "SELECT count(*) FROM alerts WHERE detection = ? "
        "AND alert_id NOT IN (SELECT alert_id FROM sf_match_ids)",
        [DETECTION],
    ).fetchone()
    withdrawn = int(stale[0]) if stale else 0
    con.execute(
        "DELETE FROM sightings WHERE alert_id IN (SELECT alert_id FROM alerts WHERE detection = ? "
        "AND alert_id NOT IN (SELECT alert_id FROM sf_match_ids))",
        [DETECTION],
    )
    con.execute(
        "DELETE FROM alerts WHERE detection = ? AND alert_id NOT IN "
        "(SELECT alert_id FROM sf_match_ids)",
        [DETECTION],
    )
    con.execute("DROP TABLE sf_match_ids")
    # One sighting per alert and place it was seen in (dns.query → table dns, column query).
    sightings = con.execute(
        "SELECT json_extract_string(evidence, '$.indicator_id') AS indicator_id, alert_id, "
        "json_extract_string(evidence, '$.observed') AS observed_value, "
        "split_part(place, '.', 1) AS event_table, split_part(place, '.', 2) AS event_column, "
        "first_seen, last_seen, json_extract(evidence, '$.events')::BIGINT AS count "
        "FROM alerts, unnest(json_extract_string(evidence, '$.seen_in[*]')) AS s(place) "
        "WHERE detection = ?",
        [DETECTION],
    ).to_arrow_table()
    new, _ = record_sightings(con, sightings)
    return withdrawn, new
