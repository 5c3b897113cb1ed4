"""Every file under ../shared/data/zeek ingests without a crash, and nothing is lost: for each
file, rows stored + lines rejected = its data lines (header and footer lines excluded)."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest

from signalfire import runner
from signalfire.model.schema import EVENT_TABLE_NAMES
from signalfire.store import Store


def _content(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:3] == b"BZh":
        return bz2.decompress(raw)
    return raw


def _data_lines(content: bytes) -> int:
    """Counted independently of the readers: non-blank lines, minus a Zeek TSV header/footer."""
    lines = [line for line in content.split(b"\n") if line.strip()]
    if content.startswith(b"#separator"):
        lines = [line for line in lines if not line.startswith(b"#")]
    return len(lines)


def _stored(store: Store, path: str) -> int:
    union = " UNION ALL ".join(
        f'SELECT count(*) AS n FROM "{t}" JOIN ingest_log USING (ingest_id) WHERE log_file_path = ?'
        for t in EVENT_TABLE_NAMES
    )
    return int(store.scalar(f"SELECT sum(n) FROM ({union})", [path] * len(EVENT_TABLE_NAMES)))


def test_every_zeek_file_is_stored_or_rejected_line_for_line(
    shared_data: Path, store: Store
) -> None:
    summary = runner.ingest(store, [shared_data / "zeek"])
    assert not [o for o in summary.outcomes if o.error], "no file may fail"
    seen: dict[bytes, str] = {}
    checked = 0
    for outcome in summary.outcomes:
        content = _content(Path(outcome.path))
        if content in seen:
            # Same content under another name (e.g. rita/json_with_all_fields/ORIGINALdns.log):
            # the content fingerprint makes it the same data, stored once.
            assert outcome.status == "already_ingested", outcome
            continue
        seen[content] = outcome.path
        stored = _stored(store, outcome.path)
        rejected = int(
            store.scalar("SELECT count(*) FROM rejects WHERE log_file_path = ?", [outcome.path])
        )
        assert stored == sum(outcome.rows.values())
        assert rejected == outcome.rejected
        assert stored + rejected == _data_lines(content), outcome.path
        checked += 1
    assert checked > 100
    assert sum(summary.rows.values()) > 40_000


@pytest.mark.parametrize(
    ("folder", "expected_reasons"),
    [
        (
            "truncated",
            [
                "fields but the #fields header declares 21",
                "no Zeek #fields header",
                "not a valid JSON object",
            ],
        ),
        ("has_unknown_field", ["has 29 fields but the #fields header declares 30"]),
        ("text_file", ["not a Zeek (TSV or JSON) or Suricata EVE line"]),
    ],
)
def test_malformed_folders_give_rejects_with_reasons(
    shared_data: Path, store: Store, folder: str, expected_reasons: list[str]
) -> None:
    summary = runner.ingest(store, [shared_data / "zeek" / "rita" / folder])
    assert not [o for o in summary.outcomes if o.error]
    rows = store.con.execute(
        "SELECT log_file_path, log_line, reason, raw FROM rejects ORDER BY 1, 2"
    ).fetchall()
    assert rows, "malformed input must give rejects"
    reasons = " | ".join(r[2] for r in rows)
    for expected in expected_reasons:
        assert expected in reasons
    for path, line, _reason, raw in rows:
        text = _content(Path(path)).decode("utf-8", "replace").split("\n")
        assert text[line - 1].rstrip("\r") == raw, "the reject keeps the raw line and its number"


def test_unknown_columns_are_kept(shared_data: Path, store: Store) -> None:
    runner.ingest(store, [shared_data / "zeek" / "rita" / "has_unknown_field"])
    values = store.con.execute(
        "SELECT extra->>'i_dont_exist' FROM http WHERE extra->>'i_dont_exist' IS NOT NULL"
    ).fetchall()
    assert ("bingbong",) in values
    runner.ingest(store, [shared_data / "zeek" / "stratosphere" / "001-zeek-scenario-malicious"])
    labels = store.scalar(
        "SELECT count(*) FROM conn WHERE extra->>'label' IS NOT NULL "
        "AND ingest_id IN (SELECT ingest_id FROM ingest_log "
        "WHERE log_file_path LIKE '%labeled-conn.log')"
    )
    assert labels > 0


def test_rotated_gz_files_read(shared_data: Path, store: Store) -> None:
    summary = runner.ingest(store, [shared_data / "zeek" / "rita" / "proxy_rolling"])
    assert summary.rows["conn"] > 0 and summary.rows["tls"] > 0 and summary.rows["x509"] > 0
    formats = {o.format for o in summary.outcomes}
    assert formats == {"zeek_tsv"}
