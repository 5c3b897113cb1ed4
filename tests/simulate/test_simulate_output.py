"""What the simulator writes: Zeek format, consistency between logs, ground truth, indicators."""

from __future__ import annotations

import csv
import ipaddress
import itertools
import json
import re
from pathlib import Path

import pytest
from simulate_zeek_tsv import ZeekLog, read_zeek

from signalfire.simulate import SimulationConfig, SimulationResult, run_simulation

ZEEK6_FIELDS = {
    "conn": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto service duration orig_bytes "
    "resp_bytes conn_state local_orig local_resp missed_bytes history orig_pkts orig_ip_bytes "
    "resp_pkts resp_ip_bytes tunnel_parents",
    "dns": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p proto trans_id rtt query qclass "
    "qclass_name qtype qtype_name rcode rcode_name AA TC RD RA Z answers TTLs rejected",
    "http": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p trans_depth method host uri referrer "
    "version user_agent origin request_body_len response_body_len status_code status_msg "
    "info_code info_msg tags username password proxied orig_fuids orig_filenames "
    "orig_mime_types resp_fuids resp_filenames resp_mime_types",
    "ssl": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version cipher curve server_name "
    "resumed last_alert next_protocol established ssl_history cert_chain_fps "
    "client_cert_chain_fps sni_matches_cert validation_status",
    "ssh": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p version auth_success auth_attempts "
    "direction client server cipher_alg mac_alg compression_alg kex_alg host_key_alg host_key",
    "modbus": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p func exception",
    "dnp3": "ts uid id.orig_h id.orig_p id.resp_h id.resp_p fc_request fc_reply iin",
}
HEADER_KEYS = ["#separator", "#set_separator", "#empty_field", "#unset_field", "#path", "#open"]
UID = re.compile(r"^C[0-9A-Za-z]{17}$")
TIME = re.compile(r"^\d{10}\.\d{6}$")
INTERVAL = re.compile(r"^\d+\.\d{6}$")
ATTACKER_NETS = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
]
SHARED_ZEEK = Path(__file__).resolve().parents[3] / "shared" / "data" / "zeek"


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _check_zeek_file(path: Path, log: ZeekLog, start: str, end: str) -> None:
    name = log.header["#path"]
    assert [line.partition("\t")[0].partition(" ")[0] for line in log.lines[:6]] == HEADER_KEYS
    assert log.lines[0] == "#separator \\x09"
    assert log.header["#set_separator"] == ","
    assert log.header["#empty_field"] == "(empty)"
    assert log.header["#unset_field"] == "-"
    assert log.lines[6].startswith("#fields\t") and log.lines[7].startswith("#types\t")
    assert log.lines[-1].startswith("#close\t"), f"{path}: no #close"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d", log.header["#open"])
    assert start <= log.header["#open"] <= log.header["#close"] <= end
    assert log.fields == ZEEK6_FIELDS[name].split()
    assert len(log.fields) == len(log.types)
    for row in log.rows:
        assert len(row) == len(log.fields), f"{path}: {row}"
        assert "" not in row, f"{path}: empty field in {row}"
    times = [float(t) for t in log.column("ts")]
    assert times == sorted(times), f"{path}: not sorted by ts"
    for field, ztype in zip(log.fields, log.types, strict=True):
        values = log.column(field)
        if ztype == "time":
            assert all(TIME.match(v) for v in values)
        elif ztype == "interval":
            assert all(v == "-" or INTERVAL.match(v) for v in values)
        elif ztype in ("count", "port"):
            assert all(v == "-" or v.isdigit() for v in values), field
        elif ztype == "bool":
            assert set(values) <= {"T", "F", "-"}, field
        elif ztype == "addr":
            for v in set(values):
                ipaddress.ip_address(v)
    assert all(UID.match(u) for u in log.column("uid"))


def test_every_log_is_valid_zeek_tsv(
    small_sim: SimulationResult, small_logs: dict[str, ZeekLog]
) -> None:
    assert sorted(small_logs) == sorted(ZEEK6_FIELDS)
    for path in small_sim.files:
        log = small_logs[path.name.split(".")[0]]
        _check_zeek_file(path, log, "2026-03-02-00-00-00", "2026-03-02-03-00-00")
        assert log.rows, f"{path} has no rows"
        assert small_sim.rows[log.header["#path"]] == len(log.rows)


def test_field_lists_match_real_zeek_logs() -> None:
    samples = {
        "conn": SHARED_ZEEK / "rita" / "proxy" / "conn.log",
        "http": SHARED_ZEEK / "rita" / "proxy" / "http.log",
        "modbus": SHARED_ZEEK / "ics" / "MODBUS" / "Modbus" / "modbus.log",
        "dnp3": SHARED_ZEEK / "ics" / "DNP3" / "DNP3-Read" / "dnp3.log",
        "dns": SHARED_ZEEK / "rita" / "proxy" / "dns.log",
    }
    if not all(p.exists() for p in samples.values()):
        pytest.skip("../shared/data/zeek is not on this machine")
    from signalfire.simulate.zeek_writer import LOG_SCHEMAS

    for name, path in samples.items():
        real = read_zeek(path)
        assert list(LOG_SCHEMAS[name].fields) == real.fields, name
        assert list(LOG_SCHEMAS[name].types) == real.types, name


def test_rotated_gzipped_files_are_valid(tmp_path: Path) -> None:
    config = SimulationConfig(
        seed=3, hours=2, operators=1, hosts_per_operator=20, rotate=True, gzip=True
    )
    result = run_simulation(config, tmp_path)
    names = sorted(p.relative_to(tmp_path).as_posix() for p in result.files)
    assert "2026-03-02/conn.00:00:00-01:00:00.log.gz" in names
    assert "2026-03-02/dnp3.01:00:00-02:00:00.log.gz" in names
    assert len(names) == 14
    total = dict.fromkeys(ZEEK6_FIELDS, 0)
    for path in result.files:
        log = read_zeek(path)
        hour = path.name.split(".")[1]
        begin, end = (f"2026-03-02-{t.replace(':', '-')}" for t in hour.split("-"))
        _check_zeek_file(path, log, begin, end)
        assert log.header["#open"] == begin and log.header["#close"] == end
        for t in log.column("ts"):
            assert f"2026-03-02-{int(float(t)) % 86400 // 3600:02d}-00-00" == begin
        total[log.header["#path"]] += len(log.rows)
    assert total == result.rows


def test_same_seed_same_bytes_different_seed_differs(tmp_path: Path) -> None:
    config = SimulationConfig(seed=11, hours=2, operators=2, hosts_per_operator=20, gzip=True)
    first = run_simulation(config, tmp_path / "a")
    again = run_simulation(config, tmp_path / "b")
    tree_a, tree_b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert tree_a == tree_b
    assert len(tree_a) == len(first.files) + 4  # ground truth, network, intel, csv
    assert again.rows == first.rows
    other = run_simulation(
        SimulationConfig(seed=12, hours=2, operators=2, hosts_per_operator=20, gzip=True),
        tmp_path / "c",
    )
    tree_c = _tree(tmp_path / "c")
    for name in tree_a:
        if name.endswith(".log.gz") or name == "ground_truth.json":
            assert tree_a[name] != tree_c[name], name
    assert other.rows != first.rows


def test_rerun_into_previous_output_replaces_it(tmp_path: Path) -> None:
    rotated = SimulationConfig(seed=5, hours=1, operators=1, hosts_per_operator=20, rotate=True)
    run_simulation(rotated, tmp_path)
    plain = SimulationConfig(seed=5, hours=1, operators=1, hosts_per_operator=20)
    result = run_simulation(plain, tmp_path)
    assert sorted(_tree(tmp_path)) == sorted(
        [p.name for p in result.files]
        + [
            "ground_truth.json",
            "network.json",
            "indicators/known_bad.intel",
            "indicators/known_bad.csv",
        ]
    )


def test_child_records_have_their_connection(small_logs: dict[str, ZeekLog]) -> None:
    conn = {
        r["uid"]: (r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"], float(r["ts"]))
        for r in small_logs["conn"].records()
    }
    assert len(conn) == len(small_logs["conn"].rows), "duplicate conn uids"
    for name in ("dns", "http", "ssl", "ssh", "modbus", "dnp3"):
        for r in small_logs[name].records():
            assert r["uid"] in conn, f"{name} row without conn: {r}"
            orig_h, orig_p, resp_h, resp_p, ts = conn[r["uid"]]
            assert (r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"]) == (
                orig_h,
                orig_p,
                resp_h,
                resp_p,
            )
            assert float(r["ts"]) >= ts


def test_ground_truth_uids_are_in_conn_with_their_endpoints(
    small_sim: SimulationResult, small_logs: dict[str, ZeekLog]
) -> None:
    truth = json.loads(small_sim.ground_truth.read_text())
    conn = {r["uid"]: r for r in small_logs["conn"].records()}
    kinds = [a["expected_detection"] for a in truth["attacks"]]
    for detection in (
        "network.beaconing",
        "network.dns_tunneling",
        "network.port_scan",
        "network.address_sweep",
        "network.brute_force",
        "network.long_connection",
        "network.exfiltration",
        "intel.indicator_match",
        "ics.unexpected_command",
    ):
        assert detection in kinds
    assert kinds.count("network.beaconing") == 2
    sectors = {a["sector"] for a in truth["attacks"]}
    assert len(sectors) >= 4
    for attack in truth["attacks"]:
        assert isinstance(attack["uids"], list) and len(attack["uids"]) == attack["connections"] > 0
        assert attack["first_seen"] <= attack["last_seen"]
        assert attack["attack"] and attack["description"]
        for uid in attack["uids"]:
            row = conn[uid]
            assert row["id.orig_h"] == attack["source_ip"], attack["id"]
            destination = attack["destination_ip"]
            if "/" in destination:
                assert ipaddress.ip_address(row["id.resp_h"]) in ipaddress.ip_network(destination)
            else:
                assert row["id.resp_h"] == destination, attack["id"]
            if attack["destination_port"] is not None:
                assert int(row["id.resp_p"]) == attack["destination_port"]
            ts = float(row["ts"])
            assert (
                attack["first_seen"][:19] <= _iso(ts) <= attack["last_seen"][:19]
                or attack["kind"] == "long_connection"
            )


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


def test_attack_specifics(small_sim: SimulationResult, small_logs: dict[str, ZeekLog]) -> None:
    attacks = {a["kind"]: a for a in json.loads(small_sim.ground_truth.read_text())["attacks"]}
    conn = {r["uid"]: r for r in small_logs["conn"].records()}
    scan = attacks["port_scan"]
    states = [conn[u]["conn_state"] for u in scan["uids"]]
    assert states.count("REJ") > len(states) / 2
    assert (
        len({conn[u]["id.resp_p"] for u in scan["uids"]})
        == scan["parameters"]["ports_scanned"]
        >= 500
    )
    ssh = {r["uid"]: r for r in small_logs["ssh"].records()}
    brute = attacks["ssh_brute_force"]
    failures = [u for u in brute["uids"] if ssh[u]["auth_success"] == "F"]
    assert len(failures) >= 300 and all(int(ssh[u]["auth_attempts"]) > 0 for u in failures)
    exfil = attacks["exfiltration"]
    assert (
        sum(int(conn[u]["orig_bytes"]) for u in exfil["uids"])
        == exfil["parameters"]["bytes_exfiltrated"]
        >= 5 * 10**8
    )
    tunnel = attacks["dns_tunnel"]
    dns = [r for r in small_logs["dns"].records() if r["uid"] in set(tunnel["uids"])]
    assert len(dns) == len(tunnel["uids"])
    assert all(
        r["query"].endswith("." + tunnel["destination_domain"]) and len(r["query"]) > 90
        for r in dns
    )
    assert {r["qtype_name"] for r in dns} == {"TXT", "NULL", "CNAME"}
    proxy = attacks["proxy_beacon"]
    http = {r["uid"]: r for r in small_logs["http"].records()}
    assert all(
        http[u]["method"] == "CONNECT" and http[u]["host"] == proxy["destination_domain"]
        for u in proxy["uids"]
    )
    beacon = attacks["beacon"]
    times = sorted(float(conn[u]["ts"]) for u in beacon["uids"])
    gaps = [b - a for a, b in itertools.pairwise(times)]
    period = beacon["parameters"]["period_s"]
    assert sorted(gaps)[len(gaps) // 2] == pytest.approx(period, rel=0.3)
    ics = attacks["ics_unexpected_write"]
    modbus = [r for r in small_logs["modbus"].records() if r["uid"] in set(ics["uids"])]
    assert {"WRITE_SINGLE_REGISTER", "WRITE_MULTIPLE_COILS"} <= {r["func"] for r in modbus}
    network = json.loads(small_sim.network.read_text())
    masters = {
        p["master"] for p in network["ics"]["polling"] if p["outstation"] == ics["destination_ip"]
    }
    assert masters and ics["source_ip"] not in masters
    long = attacks["long_connection"]
    assert float(conn[long["uids"][0]]["duration"]) >= 2 * 3600 * 0.85


def test_indicators(small_sim: SimulationResult, small_logs: dict[str, ZeekLog]) -> None:
    truth = json.loads(small_sim.ground_truth.read_text())
    intel = small_sim.indicators.read_text().splitlines()
    assert intel[0] == "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"
    entries = {line.split("\t")[0]: line.split("\t") for line in intel[1:]}
    assert all(len(e) == 4 and e[1] in ("Intel::ADDR", "Intel::DOMAIN") for e in entries.values())
    with (small_sim.out_dir / "indicators" / "known_bad.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["indicator", "type", "source", "description"]
    assert {r["indicator"] for r in rows} == set(entries)

    addresses = set(small_logs["conn"].column("id.orig_h")) | set(
        small_logs["conn"].column("id.resp_h")
    )
    names = set(small_logs["dns"].column("query")) | set(small_logs["ssl"].column("server_name"))
    names |= set(small_logs["http"].column("host"))

    def seen(indicator: str) -> bool:
        if entries[indicator][1] == "Intel::ADDR":
            return indicator in addresses
        return any(n == indicator or n.endswith("." + indicator) for n in names)

    contacted = truth["indicators"]["contacted"]
    assert contacted and all(seen(i) for i in contacted)
    never = truth["indicators"]["never_contacted"]
    assert never and not any(seen(i) for i in never)
    assert set(contacted) | set(never) == set(entries)
    for attack in truth["attacks"]:
        assert set(attack["indicators"]) <= set(contacted)


def test_benign_traffic_never_touches_attacker_infrastructure(
    small_sim: SimulationResult, small_logs: dict[str, ZeekLog]
) -> None:
    truth = json.loads(small_sim.ground_truth.read_text())
    involved = set()
    for attack in truth["attacks"]:
        involved |= {attack["source_ip"], attack.get("relay_ip")}
        if attack.get("via_proxy"):
            involved.add(attack["destination_ip"])
    for row in small_logs["conn"].records():
        ends = (row["id.orig_h"], row["id.resp_h"])
        if any(ipaddress.ip_address(ip) in net for ip in ends for net in ATTACKER_NETS):
            assert set(ends) & involved, row
    for query in small_logs["dns"].column("query"):
        if query.endswith(".example"):
            assert (
                any(query.endswith(i) for i in truth["indicators"]["contacted"])
                or "quickshare" in query
                or query.startswith("www.")
            ), query


def test_network_document(small_sim: SimulationResult, small_logs: dict[str, ZeekLog]) -> None:
    network = json.loads(small_sim.network.read_text())
    assert [o["sector"] for o in network["operators"]] == [
        "energy",
        "water",
        "finance",
        "telecom",
        "transport",
    ]
    hosts = {h["ip"]: h for h in network["hosts"]}
    assert len(hosts) == 5 * 24
    for h in hosts.values():
        assert set(h) >= {"ip", "hostname", "role", "operator", "ics", "site"}
    assert network["dns_resolvers"] and network["proxies"]
    assert all(hosts[ip]["ics"] for ip in network["ics"]["masters"] + network["ics"]["outstations"])
    # Every internal address in the logs is an inventoried host.
    internal = {a for a in small_logs["conn"].column("id.orig_h") if a.startswith("10.")}
    assert internal <= set(hosts)
