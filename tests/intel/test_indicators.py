"""The indicator store: normalization, idempotent and atomic imports, decay, allowlist, sightings.

These tests use small files written here; the real feeds are in test_import_*.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.errors import IntelError
from signalfire.intel import indicators as ind
from signalfire.intel.decay import DEFAULT_LIFETIMES, DecayModel
from signalfire.intel.indicators import (
    ImportOptions,
    IndicatorStore,
    infer_type,
    infer_type_sql,
    normalize_value,
)
from signalfire.store import Store

NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def indicator(n: int, pattern: str, *, modified: datetime = NOW, **extra: Any) -> dict[str, Any]:
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
        "created": iso(modified - timedelta(days=1)),
        "modified": iso(modified),
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": iso(modified - timedelta(days=1)),
        **extra,
    }


def write_bundle(path: Path, objects: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    return path


def snapshot(store: Store) -> dict[str, list[Any]]:
    """Every intel table's rows, sorted: equal snapshots mean an unchanged store."""
    out = {}
    for table in ("indicators", "intel_objects", "intel_imports", "allowlist", "sightings"):
        rows = store.con.execute(f"SELECT * FROM {table}").fetchall()
        out[table] = sorted(rows, key=repr)
    return out


# -- normalization -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "expected_type", "expected_value", "evaluable"),
    [
        ("ip", "1.2.3.4", "ipv4", "1.2.3.4", True),
        ("ip", " 010.001.2.3 ", "ipv4", "10.1.2.3", True),
        ("ip", "10.9.8.7/8", "ipv4_cidr", "10.0.0.0/8", True),
        ("ip", "1.2.3.4/32", "ipv4", "1.2.3.4", True),
        ("ip", "0.0.0.0/0", "ipv4_cidr", "0.0.0.0/0", True),
        ("ip", "256.1.1.1", "ipv4", "256.1.1.1", False),
        ("ip", "1.2.3.4/33", "ipv4", "1.2.3.4/33", False),
        ("ip", "2001:DB8:0:0::1", "ipv6", "2001:db8::1", True),
        ("ip", "2001:db8::1/32", "ipv6_cidr", "2001:db8::/32", True),
        ("ip", "2001:zz::1", "ipv6", "2001:zz::1", False),
        ("domain", "WWW.Example.COM.", "domain", "www.example.com", True),
        ("domain", "domain autuo.xicp.net", "domain", "domain autuo.xicp.net", False),
        ("domain", "xn--bcher-kva.example", "domain", "xn--bcher-kva.example", True),
        (
            "url",
            "HTTP://Evil.Example.COM./Path?q=A#frag",
            "url",
            "http://evil.example.com/Path?q=A",
            True,
        ),
        ("url", "evil.example.com/a/b", "url", "evil.example.com/a/b", True),
        ("url", "http:///nohost", "url", "http:///nohost", False),
        (
            "hash",
            "D41D8CD98F00B204E9800998ECF8427E",
            "md5",
            "d41d8cd98f00b204e9800998ecf8427e",
            True,
        ),
        ("hash", "a" * 40, "sha1", "a" * 40, True),
        ("hash", "b" * 64, "sha256", "b" * 64, True),
        ("hash", "c" * 128, "sha512", "c" * 128, True),
        ("hash", "abc", "file_hash", "abc", False),
        ("sha256", "a" * 40, "sha256", "a" * 40, False),
        ("x509_serial", "4c:0b:1d:19", "x509_serial", "4C0B1D19", True),
        ("x509_sha1", "AB:" * 19 + "AB", "x509_sha1", "ab" * 20, True),
        ("email", "Bad.Guy@Evil.COM", "email", "bad.guy@evil.com", True),
        ("email", "not-an-address", "email", "not-an-address", False),
        (
            "ja3",
            "E7D705A3286E19EA42F587B344EE6865",
            "ja3",
            "e7d705a3286e19ea42f587b344ee6865",
            True,
        ),
        ("file_name", " invoice.exe ", "file_name", "invoice.exe", True),
    ],
)
def test_values_are_normalized_for_their_type(
    store: Store, kind: str, raw: str, expected_type: str, expected_value: str, evaluable: bool
) -> None:
    row = normalize_value(store.con, raw, kind)
    assert (row["type"], row["value"], row["evaluable"]) == (
        expected_type,
        expected_value,
        evaluable,
    )
    assert (row["unevaluable_reason"] is None) == evaluable


def test_address_ranges_are_numeric_and_sortable_hex(store: Store) -> None:
    net = normalize_value(store.con, "10.20.30.40/8", "ip")
    assert (net["range_start"], net["range_end"]) == (10 << 24, (11 << 24) - 1)
    assert net["range_start_hex"] == "00000000000000000000ffff0a000000"
    assert net["range_end_hex"] == "00000000000000000000ffff0affffff"
    one = normalize_value(store.con, "192.0.2.7", "ip")
    assert one["range_start"] == one["range_end"] == (192 << 24) + (2 << 8) + 7
    v6 = normalize_value(store.con, "2001:db8::/32", "ip")
    assert v6["range_start"] is None
    assert v6["range_start_hex"] == "20010db8" + "0" * 24
    assert v6["range_end_hex"] == "20010db8" + "f" * 24
    # Fixed-width hex orders like the numbers, across families.
    assert one["range_start_hex"] < v6["range_start_hex"]


def test_an_unknown_type_is_refused_with_the_list(store: Store) -> None:
    with pytest.raises(IntelError, match=r"unknown indicator type 'bogus'.*ipv4"):
        normalize_value(store.con, "x", "bogus")


VALUES = st.one_of(
    st.from_regex(r"\A\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(/\d{1,2})?\Z"),
    st.from_regex(r"\A[0-9a-fA-F:]{2,20}(/\d{1,3})?\Z"),
    st.from_regex(r"\A[a-z0-9-]{1,12}(\.[a-z0-9-]{1,12}){0,3}\Z"),
    st.from_regex(r"\A[0-9a-f]{32}\Z|\A[0-9A-F]{40}\Z|\A[0-9a-f]{64}\Z|\A[0-9a-f]{30,70}\Z"),
    st.from_regex(r"\A(https?://)?[a-z.]{1,10}/[a-z/]{0,10}\Z"),
    st.from_regex(r"\A[a-z.]{1,8}@[a-z.]{1,8}\Z"),
    st.text(alphabet="abc019:./@-_ ", max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(VALUES, min_size=1, max_size=20))
def test_type_inference_is_the_same_in_python_and_sql(values: list[str]) -> None:
    con = duckdb.connect()
    table = pa.table({"v": pa.array(values, pa.string())})
    con.register("t", table)
    got = [r[0] for r in con.execute(f"SELECT {infer_type_sql('v')} FROM t").fetchall()]
    assert got == [infer_type(v) for v in values]


# -- importing: idempotent, later modified wins, atomic ---------------------------------------


def small_inputs(tmp: Path) -> list[Path]:
    bundle = write_bundle(
        tmp / "feed.json",
        [
            indicator(1, "[ipv4-addr:value = '198.51.100.7']", confidence=70),
            indicator(
                2,
                "[domain-name:value = 'evil.example' OR ipv4-addr:value = '198.51.100.7']",
                labels=["malicious-activity"],
            ),
            indicator(3, "[file:hashes.'SHA-256' = '" + "ab" * 32 + "']"),
            {
                "type": "malware",
                "spec_version": "2.1",
                "id": "malware--00000000-0000-4000-8000-000000000001",
                "created": iso(NOW),
                "modified": iso(NOW),
                "name": "BadRAT",
                "is_family": True,
            },
            {
                "type": "relationship",
                "spec_version": "2.1",
                "id": "relationship--00000000-0000-4000-8000-000000000001",
                "created": iso(NOW),
                "modified": iso(NOW),
                "relationship_type": "indicates",
                "source_ref": "indicator--00000000-0000-4000-8000-000000000002",
                "target_ref": "malware--00000000-0000-4000-8000-000000000001",
            },
        ],
    )
    intel = tmp / "bad.intel"
    intel.write_text(
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\n"
        "203.0.113.9\tIntel::ADDR\tlocal-feed\tscanner\n"
        "bad.example.org\tIntel::DOMAIN\tlocal-feed\t-\n"
    )
    listing = tmp / "list.csv"
    listing.write_text("indicator,type,description\n192.0.2.1,ipv4-addr,c2\nevil.example,,x\n")
    return [bundle, intel, listing]


def test_reimporting_the_same_files_changes_nothing(store: Store, tmp_path: Path) -> None:
    paths = small_inputs(tmp_path)
    intel = IndicatorStore(store)
    first = intel.import_paths(paths)
    assert not first.failed
    assert first.total("new") == first.total("indicators") == 3 + 2 + 2
    # The OR pattern gave one row per value; 198.51.100.7 (stated twice) is one indicator.
    rows = store.con.execute(
        "SELECT source_refs FROM indicators WHERE value = '198.51.100.7'"
    ).fetchall()
    assert len(rows) == 1 and len(rows[0][0]) == 2
    before = snapshot(store)
    again = intel.import_paths(paths)
    assert again.total("new") == again.total("updated") == 0
    assert again.total("unchanged") == first.total("indicators")
    after = snapshot(store)
    assert after["indicators"] == before["indicators"]
    assert after["intel_objects"] == before["intel_objects"]


def test_later_modified_wins_and_links_accumulate(store: Store, tmp_path: Path) -> None:
    old, new = NOW - timedelta(days=2), NOW - timedelta(days=1)
    malware = {
        "type": "malware",
        "spec_version": "2.1",
        "created": iso(old),
        "modified": iso(old),
        "is_family": True,
    }

    def version(when: datetime, confidence: int, name: str, n: int) -> Path:
        return write_bundle(
            tmp_path / f"v{n}.json",
            [
                indicator(
                    1, "[domain-name:value = 'c2.example']", modified=when, confidence=confidence
                ),
                {**malware, "id": f"malware--00000000-0000-4000-8000-00000000000{n}", "name": name},
                {
                    "type": "relationship",
                    "spec_version": "2.1",
                    "id": f"relationship--00000000-0000-4000-8000-00000000000{n}",
                    "created": iso(old),
                    "modified": iso(old),
                    "relationship_type": "indicates",
                    "source_ref": "indicator--00000000-0000-4000-8000-000000000001",
                    "target_ref": f"malware--00000000-0000-4000-8000-00000000000{n}",
                },
            ],
        )

    intel = IndicatorStore(store)
    feed = ImportOptions(source="feed")  # two files, one feed: the same indicator ids
    intel.import_paths([version(old, 40, "Alpha", 1)], feed)
    second = intel.import_paths([version(new, 90, "Beta", 2)], feed)
    assert (second.total("new"), second.total("updated")) == (0, 1)
    row = store.con.execute("SELECT confidence, malware FROM indicators").fetchone()
    assert row == (90, ["Alpha", "Beta"])
    # The older statement again: its confidence loses, it adds nothing new.
    third = intel.import_paths([version(old, 40, "Alpha", 1)], feed)
    assert third.total("unchanged") == 1
    assert store.con.execute("SELECT confidence FROM indicators").fetchone() == (90,)


def test_a_failed_import_leaves_the_store_as_it_was(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    intel = IndicatorStore(store)
    intel.import_paths(small_inputs(tmp_path))
    intel.allow("192.0.2.1", reason="test")
    before = snapshot(store)

    other = write_bundle(
        tmp_path / "other.json",
        [
            indicator(9, "[ipv4-addr:value = '192.0.2.200']"),
            indicator(10, "[url:value = 'http://x.example/']"),
        ],
    )

    def fail(*args: Any, **kwargs: Any) -> None:
        raise IntelError("disk full (simulated)")

    # Fails after the indicators and objects were written, inside the file's transaction.
    monkeypatch.setattr(IndicatorStore, "_log_import", fail)
    summary = intel.import_paths([other, *small_inputs(tmp_path)])
    assert all(f.error == "disk full (simulated)" for f in summary.files)
    assert snapshot(store) == before

    monkeypatch.undo()
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "bundle", "objects": [{"type": "indicator", ')
    summary = intel.import_paths([broken])
    assert summary.failed and "not valid JSON" in str(summary.failed[0].error)
    assert snapshot(store) == before


def test_unevaluable_patterns_are_kept_and_counted(store: Store, tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "odd.json",
        [
            indicator(
                1, "[ipv4-addr:value = '192.0.2.1'] FOLLOWEDBY [domain-name:value = 'x.example']"
            ),
            indicator(2, "[email-message:subject MATCHES '^Invoice']"),
            indicator(3, "[ipv4-addr:value = '192.0.2.2'] WITHIN 60 SECONDS"),
            indicator(4, "this is not a pattern"),
            indicator(5, "[domain-name:value = 'ok.example' OR windows-registry-key:key = 'HKLM']"),
            indicator(6, 'alert tcp any any -> any any (msg:"x";)', pattern_type="snort"),
            {"type": "indicator", "id": "indicator--00000000-0000-4000-8000-000000000007"},
            {"no": "type"},
        ],
    )
    summary = IndicatorStore(store).import_paths([bundle])
    f = summary.files[0]
    assert f.records == 8
    assert len(f.errors) == 2  # no pattern; no type and id: reported with their position
    assert {e.line for e in f.errors} == {7, 8}
    rows = dict(
        store.con.execute(
            "SELECT source_ref[-2:], unevaluable_reason FROM indicators WHERE NOT evaluable"
        ).fetchall()
    )
    assert "FOLLOWEDBY" in rows["01"] and "MATCHES" in rows["02"] and "WITHIN" in rows["03"]
    assert "does not parse" in rows["04"] and "partly evaluated" in rows["05"]
    assert "snort pattern" in rows["06"]
    assert f.unevaluable == 6
    # The evaluable half of the partly evaluable pattern is matched.
    assert store.con.execute(
        "SELECT evaluable FROM indicators WHERE value = 'ok.example'"
    ).fetchone() == (True,)


# -- decay -------------------------------------------------------------------------------------


def test_decay_numbers() -> None:
    model = DecayModel(lifetimes={"ipv4": 30, "default": 120}, speed=2.0, threshold=30.0)
    day = 86_400.0
    assert model.score(80, 0, "ipv4") == 80
    assert model.score(80, 7.5 * day, "ipv4") == pytest.approx(40.0)  # 80 * (1 - sqrt(1/4))
    assert model.score(80, 30 * day, "ipv4") == 0
    assert model.score(80, 60 * day, "domain") == pytest.approx(80 * (1 - 0.5**0.5))
    assert model.score(80, -5 * day, "ipv4") == 80  # older events: retro-hunting keeps the base
    linear = DecayModel(speed=1.0)
    assert linear.score(100, 15 * day, "ipv4") == pytest.approx(50.0)


@settings(max_examples=200, deadline=None)
@given(
    base=st.floats(0, 100),
    kind=st.sampled_from(sorted(DEFAULT_LIFETIMES)),
    speed=st.floats(0.2, 5),
    t1=st.floats(-1e7, 1e9),
    t2=st.floats(-1e7, 1e9),
)
def test_decay_is_monotone_from_base_to_zero(
    base: float, kind: str, speed: float, t1: float, t2: float
) -> None:
    model = DecayModel(speed=speed)
    early, late = sorted((t1, t2))
    assert model.score(base, late, kind) <= model.score(base, early, kind) + 1e-9
    assert model.score(base, 0, kind) == base
    tau = model.lifetime_days(kind) * 86_400
    assert model.score(base, tau, kind) == 0
    assert 0 <= model.score(base, late, kind) <= base


def test_decay_settings_are_read_from_the_environment() -> None:
    model = DecayModel.from_settings(
        {
            "SIGNALFIRE_INTEL_DECAY_LIFETIMES": "ipv4=14, domain=7",
            "SIGNALFIRE_INTEL_DECAY_SPEED": "1",
            "SIGNALFIRE_INTEL_DECAY_THRESHOLD": "10",
        }
    )
    assert model.lifetime_days("ipv4") == 14 and model.lifetime_days("domain") == 7
    assert model.lifetime_days("sha256") == DEFAULT_LIFETIMES["sha256"]
    assert (model.speed, model.threshold) == (1.0, 10.0)


def test_engine_confidence_equals_python(store: Store, tmp_path: Path) -> None:
    ages = {1: 1, 2: 10, 3: 29, 4: 45, 5: 400}
    bundle = write_bundle(
        tmp_path / "aged.json",
        [
            indicator(n, f"[ipv4-addr:value = '192.0.2.{n}']", modified=NOW - timedelta(days=d))
            for n, d in ages.items()
        ],
    )
    IndicatorStore(store).import_paths([bundle])
    model = DecayModel()
    at = NOW + timedelta(hours=3)
    t = store.table("indicators")
    result = t.select(t.value, c=model.confidence_expr(t, at)).execute()
    got = dict(zip(result["value"], result["c"], strict=True))
    sql = dict(
        store.con.execute(
            f"SELECT value, {model.confidence_sql('$at::TIMESTAMP')} FROM indicators", {"at": at}
        ).fetchall()
    )
    for n, days in ages.items():
        reference = NOW - timedelta(days=days)
        expected = model.current_confidence(80, reference, at, "ipv4")
        assert got[f"192.0.2.{n}"] == pytest.approx(expected, abs=1e-6)
        assert sql[f"192.0.2.{n}"] == pytest.approx(expected, abs=1e-6)
    # Per-event times: the same expression with a column.
    events = ibis.memtable({"ts": [NOW - timedelta(days=400)]}).mutate(
        ts=ibis._.ts.cast("timestamp")
    )
    joined = t.cross_join(events)
    old = joined.select(joined.value, c=model.confidence_expr(joined, joined.ts)).execute()
    assert set(old["c"]) == {80.0}  # events older than the intelligence: full confidence


def test_only_active_indicators_alert(store: Store, tmp_path: Path) -> None:
    bundle = write_bundle(
        tmp_path / "states.json",
        [
            indicator(1, "[ipv4-addr:value = '192.0.2.1']"),
            indicator(2, "[ipv4-addr:value = '192.0.2.2']", modified=NOW - timedelta(days=400)),
            indicator(
                3, "[ipv4-addr:value = '192.0.2.3']", valid_until=iso(NOW - timedelta(hours=1))
            ),
            indicator(4, "[ipv4-addr:value = '192.0.2.4']", revoked=True),
            indicator(5, "[ipv4-addr:value = '192.0.2.5']", x_signalfire_to_ids=False),
            indicator(6, "[ipv4-addr:value = '192.0.2.6']", confidence=20),
            indicator(
                7, "[ipv4-addr:value = '192.0.2.7'] FOLLOWEDBY [ipv4-addr:value = '1.1.1.1']"
            ),
        ],
    )
    intel = IndicatorStore(store)
    intel.import_paths([bundle])
    # At NOW (the time the module was imported), not at the wall clock: a slow run would see
    # the address indicator's confidence decay by the minute (30-day lifetime, δ = 2).
    active = intel.active(NOW).execute()
    assert list(active["value"]) == ["192.0.2.1"]
    assert active["current_confidence"][0] == pytest.approx(80, abs=1e-6)
    listed = intel.list_indicators()
    assert [r["value"] for r in listed] == ["192.0.2.1"]
    assert len(intel.list_indicators(active_only=False)) == 7


# -- allowlist, sightings, engine helpers ------------------------------------------------------


def test_allowlist_add_list_remove(store: Store) -> None:
    intel = IndicatorStore(store)
    net = intel.allow("10.1.2.3/16", reason="our network", added_by="alice")
    assert (net["type"], net["value"]) == ("ipv4_cidr", "10.1.0.0/16")
    intel.allow("Updates.Vendor.Example.", reason="vendor CDN")
    intel.allow("192.0.2.9", reason="pentest", expires_at=NOW - timedelta(minutes=1))
    assert [e["value"] for e in intel.allowlist()] == ["updates.vendor.example", "10.1.0.0/16"]
    assert len(intel.allowlist(include_expired=True)) == 3
    expr = intel.allowlist_table(NOW - timedelta(hours=1)).execute()
    assert set(expr["value"]) == {"updates.vendor.example", "10.1.0.0/16", "192.0.2.9"}
    ranges = store.con.execute(
        "SELECT range_start, range_end FROM allowlist WHERE type = 'ipv4_cidr'"
    ).fetchone()
    assert ranges == ((10 << 24) + (1 << 16), (10 << 24) + (1 << 16) + 65535)
    with pytest.raises(IntelError, match="needs a reason"):
        intel.allow("192.0.2.1", reason=" ")
    with pytest.raises(IntelError, match="cannot allowlist"):
        intel.allow("999.1.1.1", type="ipv4", reason="typo")
    assert intel.unallow("UPDATES.vendor.example") == 1
    assert intel.unallow("nothing.example") == 0
    assert [e["value"] for e in intel.allowlist()] == ["10.1.0.0/16"]


def test_sightings_are_recorded_without_inflating_counts(store: Store) -> None:
    rows = pa.table(
        {
            "indicator_id": ["i1", "i1"],
            "alert_id": ["a1", None],
            "observed_value": ["192.0.2.1", "192.0.2.1"],
            "event_table": ["conn", "dns"],
            "event_column": ["destination_ip", "dns_answers"],
            "first_seen": [NOW - timedelta(hours=2), NOW],
            "last_seen": [NOW - timedelta(hours=1), NOW],
            "count": [5, 1],
        }
    )
    intel = IndicatorStore(store)
    assert intel.record_sightings(rows) == (2, 0)
    later = rows.set_column(
        rows.schema.get_field_index("last_seen"), "last_seen", pa.array([NOW, NOW])
    )
    assert intel.record_sightings(later) == (0, 2)
    got = store.con.execute(
        "SELECT event_table, count, first_seen, last_seen FROM sightings ORDER BY 1"
    ).fetchall()
    assert got == [
        ("conn", 5, NOW - timedelta(hours=2), NOW),
        ("dns", 1, NOW, NOW),
    ]
    with pytest.raises(IntelError, match="count"):
        intel.record_sightings(rows.drop(["count"]))


def test_ipv4_numbers_in_the_engine(store: Store) -> None:
    values = ["10.0.0.1", "255.255.255.255", "2001:db8::1", "not-an-ip", None]
    t = ibis.memtable({"ip": values}, schema={"ip": "string"})
    got = store.ibis.execute(t.select(n=ind.ipv4_to_int_expr(t.ip)))["n"].tolist()
    assert got[:2] == [(10 << 24) + 1, 2**32 - 1]
    assert all(v is None or v != v for v in got[2:])  # NULL (None or NaN)
    sql = store.con.execute(
        f"SELECT {ind.ipv4_to_int_sql('ip')} FROM (SELECT unnest($v::VARCHAR[]) AS ip)",
        {"v": values},
    ).fetchall()
    assert [r[0] for r in sql] == [(10 << 24) + 1, 2**32 - 1, None, None, None]


def test_options_are_checked() -> None:
    from signalfire.errors import ConfigError

    with pytest.raises(ConfigError, match="--confidence"):
        ImportOptions(confidence=101)
    with pytest.raises(ConfigError, match="--format"):
        ImportOptions(format="yaml")
