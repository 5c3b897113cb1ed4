"""Injected attacks: their Zeek records, their ground truth and the indicator feed.

Every attack is planned once for the whole simulated window (a few thousand rows at most, and
the same at any ``conn_rows``), then merged into the time slices it falls in. Attacker
infrastructure uses the documentation address ranges of RFC 5737 (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24) and domains under the reserved ``.example`` top-level domain:
clearly fake, never a real party. Note that Python's ``ipaddress`` calls these ranges
"private"; internal/external must be decided from network.json's subnets (or Zeek's
``local_orig``/``local_resp``), not from ``is_private``.

Benign traffic never contacts these addresses or names, and no benign host scans, sweeps,
brute-forces, tunnels through DNS, beacons to the Internet, keeps an Internet connection open
for hours or uploads hundreds of megabytes; so each alert for these patterns is a true positive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from signalfire.simulate import network as netmod
from signalfire.simulate.benign import SSH_ALGOS, SSH_SERVER, BenignTraffic
from signalfire.simulate.network import Host, Network
from signalfire.simulate.records import (
    REJ,
    RSTO,
    S0,
    SF,
    Arr,
    conn_table,
    dns_table,
    ephemeral_ports,
    new_ids,
)
from signalfire.simulate.zeek_writer import LOG_NAMES, MICROS, build_table, empty_table, sort_by_ts

#: Above this many connections an attack's ground truth gives a count instead of the uids.
MAX_LISTED_UIDS = 1000

INTEL_SOURCE = "signalfire-sim-feed"


def iso(micros: int) -> str:
    """ISO-8601 UTC with microseconds and a ``Z``, computed without floating point."""
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(micros))
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Indicator:
    """One entry of the indicator feed."""

    indicator: str
    kind: str  # "ip" or "domain"
    description: str
    contacted: bool

    @property
    def zeek_type(self) -> str:
        """The Zeek intel framework's type name."""
        return "Intel::ADDR" if self.kind == "ip" else "Intel::DOMAIN"

    @property
    def stix_type(self) -> str:
        """The STIX cyber-observable type, used in the CSV feed."""
        return "ipv4-addr" if self.kind == "ip" else "domain-name"


@dataclass
class AttackPlan:
    """All injected attacks of a simulation."""

    attacks: list[dict[str, Any]] = field(default_factory=list)
    indicators: list[Indicator] = field(default_factory=list)
    tables: dict[str, pa.Table] = field(default_factory=dict)

    @property
    def conn_rows(self) -> int:
        """Conn rows the attacks add (they do not scale with ``conn_rows``)."""
        table = self.tables.get("conn")
        return 0 if table is None else table.num_rows

    def rows_between(self, start_us: int, end_us: int) -> dict[str, pa.Table]:
        """The attack rows of each log with ``start_us <= ts < end_us``."""
        out: dict[str, pa.Table] = {}
        for log, table in self.tables.items():
            ts = table.column("ts").to_numpy()
            lo, hi = np.searchsorted(ts, [start_us, end_us])
            if hi > lo:
                out[log] = table.slice(int(lo), int(hi - lo))
        return out


class _Recorder:
    """Builds attack records from address strings (attacks are small: clarity over speed)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.parts: dict[str, list[pa.Table]] = {}

    def _add(self, log: str, table: pa.Table) -> None:
        self.parts.setdefault(log, []).append(table)

    def conn(
        self,
        ts: Arr,
        orig: Arr | str,
        resp: Arr | str,
        resp_p: Arr | int,
        *,
        proto: str = "tcp",
        service: str | list[str | None] | None,
        duration: Arr,
        orig_bytes: Arr,
        resp_bytes: Arr,
        state: Arr | int = SF,
        history: str | list[str] | None = None,
        orig_p: Arr | None = None,
    ) -> tuple[pa.Array, Arr]:
        """Conn rows; returns their uids and source ports."""
        n = len(ts)
        uid = new_ids(self.rng, n)
        ports = ephemeral_ports(self.rng, n) if orig_p is None else orig_p
        orig_s = np.broadcast_to(np.asarray(orig, dtype=str), (n,))
        resp_s = np.broadcast_to(np.asarray(resp, dtype=str), (n,))
        svc = pa.array(service if isinstance(service, list) else [service] * n, pa.string())
        hist = None
        if history is not None:
            hist = pa.array(history if isinstance(history, list) else [history] * n)
        self._add(
            "conn",
            conn_table(
                self.rng,
                ts=np.asarray(ts, dtype=np.int64),
                uid=uid,
                orig_h=pa.array(orig_s),
                orig_p=ports,
                resp_h=pa.array(resp_s),
                resp_p=np.broadcast_to(np.asarray(resp_p, dtype=np.int64), (n,)),
                proto=proto,
                service=svc,
                duration=np.asarray(duration, dtype=np.int64),
                orig_bytes=np.asarray(orig_bytes, dtype=np.int64),
                resp_bytes=np.asarray(resp_bytes, dtype=np.int64),
                state=np.broadcast_to(np.asarray(state, dtype=np.int64), (n,)),
                local_orig=np.char.startswith(orig_s, "10."),
                local_resp=np.char.startswith(resp_s, "10."),
                history=hist,
            ),
        )
        return uid, ports

    def row(self, log: str, n: int, columns: dict[str, Any]) -> None:
        """Rows of any log, given its columns."""
        self._add(log, build_table(log, n, columns))

    def lookup(
        self,
        ts: Arr,
        client: str,
        resolver: str,
        upstream: str,
        query: list[str],
        qtype: Arr,
        answers: list[str | None],
        ttls: list[str | None],
        rcode: int = 0,
    ) -> tuple[pa.Array, pa.Array]:
        """DNS queries through the resolver, each also forwarded upstream (uncached).

        Returns the uids of the client's and of the resolver's connections.
        """
        n = len(ts)
        rtt = self.rng.integers(15_000, 60_000, n)
        q = np.array([len(x) for x in query]) + 17
        a = q + np.array([len(x or "") for x in answers]) + 12
        uids = []
        for orig, resp, delay in ((client, resolver, 0), (resolver, upstream, 300)):
            uid, port = self.conn(
                ts + delay,
                np.full(n, orig),
                np.full(n, resp),
                53,
                proto="udp",
                service="dns",
                duration=rtt - delay,
                orig_bytes=q,
                resp_bytes=a,
            )
            self.row(
                "dns",
                n,
                {
                    "ts": ts + delay,
                    "uid": uid,
                    "id.orig_h": orig,
                    "id.orig_p": port,
                    "id.resp_h": resp,
                    "id.resp_p": 53,
                }
                | _dns_columns(n, rtt - delay, query, qtype, answers, ttls, rcode),
            )
            uids.append(uid)
        return uids[0], uids[1]

    def tables(self) -> dict[str, pa.Table]:
        """Every log's rows, sorted by time (logs without rows get an empty table)."""
        out = {}
        for log in LOG_NAMES:
            parts = self.parts.get(log)
            out[log] = sort_by_ts(pa.concat_tables(parts)) if parts else empty_table(log)
        return out


def _dns_columns(
    n: int,
    rtt: Arr,
    query: list[str],
    qtype: Arr,
    answers: list[str | None],
    ttls: list[str | None],
    rcode: int,
) -> dict[str, Any]:
    table = dns_table(
        ts=np.zeros(n, dtype=np.int64),
        uid=pa.nulls(n, pa.string()),
        orig_h=pa.nulls(n, pa.string()),
        orig_p=np.zeros(n, dtype=np.int64),
        resp_h=pa.nulls(n, pa.string()),
        trans_id=np.zeros(n, dtype=np.int64),
        rtt=np.asarray(rtt, dtype=np.int64),
        query=pa.array(query),
        qtype=np.asarray(qtype, dtype=np.int64),
        rcode=np.full(n, rcode, dtype=np.int64),
        answers=pa.array(answers, pa.string()),
        ttls=pa.array(ttls, pa.string()),
    )
    keep: tuple[str, ...] = (
        "proto",
        "rtt",
        "query",
        "qclass",
        "qclass_name",
        "qtype",
        "qtype_name",
        "rcode",
    )
    keep += ("rcode_name", "AA", "TC", "RD", "RA", "Z", "answers", "TTLs", "rejected")
    columns: dict[str, Any] = {name: table.column(name) for name in keep}
    columns["trans_id"] = np.arange(n) * 7919 % 65536
    return columns


class _Addresses:
    """Distinct attacker addresses from the documentation ranges."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def take(self, prefix: str) -> str:
        while True:
            ip = f"{prefix}.{int(self.rng.integers(2, 254))}"
            if ip not in self.used:
                self.used.add(ip)
                return ip


def plan_attacks(
    network: Network,
    benign: BenignTraffic,
    start_us: int,
    end_us: int,
    rng: np.random.Generator,
) -> AttackPlan:
    """Plan every attack of the simulation: records, ground truth, indicators.

    Args:
        network: the topology (attack sources and targets are drawn from it).
        benign: the benign generator (for the operators' resolvers and upstream resolvers).
        start_us: start of the simulated window (µs since the epoch).
        end_us: its end.
        rng: the attacks' own random generator.
    """
    return _Planner(network, benign, start_us, end_us, rng).plan()


class _Planner:
    def __init__(
        self,
        network: Network,
        benign: BenignTraffic,
        start_us: int,
        end_us: int,
        rng: np.random.Generator,
    ) -> None:
        self.net = network
        self.benign = benign
        self.start = start_us
        self.end = end_us
        self.window = end_us - start_us
        self.rng = rng
        self.rec = _Recorder(rng)
        self.addr = _Addresses(rng)
        self.attacks: list[dict[str, Any]] = []
        self.indicators: list[Indicator] = []
        n_ops = len(network.operators)
        # Each attack gets a host of its own: workstations of every operator, shuffled.
        self.pools: list[list[Host]] = []
        for op in range(n_ops):
            hosts = network.role_hosts(netmod.WORKSTATION, op)
            # The first two workstations are the administrators' (benign SSH); leave them.
            pool = hosts[2:]
            order = rng.permutation(len(pool))
            self.pools.append([pool[int(i)] for i in order])
        self.free = [list(pool) for pool in self.pools]

    # -------------------------------------------------------------- helpers
    def _op(self, k: int) -> int:
        return k % len(self.net.operators)

    def _victim(self, op: int) -> Host:
        if not self.free[op]:
            # A small operator with many attacks: a host may then be compromised twice.
            self.free[op] = list(self.pools[op])
        return self.free[op].pop()

    def _at(self, fraction: float) -> int:
        """A time at ``fraction`` of the window, jittered by up to 1 % of it."""
        jitter = float(self.rng.uniform(-0.01, 0.01))
        return self.start + int(self.window * (fraction + jitter))

    def _resolver(self, op: int) -> str:
        return self.net.server(netmod.DNS, op).ip

    def _upstream(self, op: int) -> str:
        return self.benign.internet.upstream_resolvers[op % 3][0]

    def _record(
        self,
        kind: str,
        detection: str,
        op: int,
        source: str,
        destination: str,
        port: int | None,
        domain: str | None,
        techniques: list[str],
        uids: pa.Array,
        times: Arr,
        description: str,
        parameters: dict[str, Any],
        secondary: list[str] | None = None,
        indicators: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        operator = self.net.operators[op]
        uid_list = uids.to_pylist()
        entry: dict[str, Any] = {
            "id": f"attack-{len(self.attacks) + 1:02d}",
            "kind": kind,
            "expected_detection": detection,
            "secondary_detections": secondary or [],
            "operator": operator.name,
            "sector": operator.sector,
            "source_ip": source,
            "destination_ip": destination,
            "destination_port": port,
            "destination_domain": domain,
            "first_seen": iso(int(np.min(times))),
            "last_seen": iso(int(np.max(times))),
            "attack": techniques,
            "connections": len(uid_list),
            "uids": uid_list if len(uid_list) <= MAX_LISTED_UIDS else len(uid_list),
            "indicators": indicators or [],
            "description": description,
            "parameters": parameters,
        }
        if extra:
            entry.update(extra)
        self.attacks.append(entry)

    def _intel(self, value: str, kind: str, description: str, contacted: bool = True) -> str:
        self.indicators.append(Indicator(value, kind, description, contacted))
        return value

    def _tls(
        self,
        ts: Arr,
        uid: pa.Array,
        orig: str,
        ports: Arr,
        resp: str,
        resp_p: int,
        sni: str | None,
        validation: str = "self signed certificate",
    ) -> None:
        n = len(ts)
        fps = bytes(self.rng.integers(0, 256, 32, dtype=np.uint8)).hex()
        self.rec.row(
            "ssl",
            n,
            {
                "ts": ts,
                "uid": uid,
                "id.orig_h": orig,
                "id.orig_p": ports,
                "id.resp_h": resp,
                "id.resp_p": resp_p,
                "version": "TLSv12",
                "cipher": "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                "curve": "secp256r1",
                "server_name": sni,
                "resumed": False,
                "established": True,
                "ssl_history": "CsxknGIi",
                "cert_chain_fps": fps,
                "sni_matches_cert": None if sni is None else True,
                "validation_status": validation,
            },
        )

    # -------------------------------------------------------------- the attacks
    def plan(self) -> AttackPlan:
        n_ops = len(self.net.operators)
        proxied = [op.index for op in self.net.operators if op.explicit_proxy]
        heavy_ics = [op.index for op in self.net.operators if op.sector in ("energy", "water")]
        self.beacon(self._op(0))
        self.proxy_beacon(proxied[0] if proxied else self._op(1))
        self.dns_tunnel(self._op(2))
        self.port_scan(self._op(3))
        self.address_sweep(self._op(4))
        self.brute_force(self._op(5))
        self.long_connection(self._op(6))
        self.exfiltration(self._op(7))
        self.intel_domain(self._op(8))
        self.intel_ip(self._op(9))
        self.ics_write(heavy_ics[-1] if heavy_ics else self._op(10))
        for value, kind, desc in (
            ("198.51.100.250", "ip", "Scanner infrastructure (historic)"),
            ("192.0.2.251", "ip", "Phishing kit host (historic)"),
            ("203.0.113.252", "ip", "Ransomware affiliate VPS"),
            ("invoice-portal-secure.example", "domain", "Phishing domain"),
            ("mal-cdn-content.example", "domain", "Malware distribution"),
            ("vpn-gateway-auth.example", "domain", "Credential harvesting"),
        ):
            self._intel(value, kind, desc, contacted=False)
        del n_ops
        return AttackPlan(self.attacks, self.indicators, self.rec.tables())

    def _beats(self, first: int, last: int, period: float, jitter: float, missed: float) -> Arr:
        times = []
        t = float(first)
        while t < last:
            if self.rng.random() >= missed:
                times.append(int(t))
            t += period * (1 + float(self.rng.uniform(-jitter, jitter))) * MICROS
        return np.array(times, dtype=np.int64)

    def _beacon_period(self, low: float, high: float) -> float:
        # At least ~20 beats whatever the window, so the pattern is there to be found.
        return float(min(round(float(self.rng.uniform(low, high))), self.window / MICROS / 20))

    def _lookups_before(
        self, times: Arr, client: str, op: int, domain: str, answer: str, ttl: int
    ) -> pa.Array:
        """The client's lookups of ``domain``: before the first use and whenever the TTL ran out."""
        looks: list[int] = []
        last = -(10**18)
        for t in times.tolist():
            if t - last >= ttl * MICROS:
                looks.append(t - int(self.rng.integers(20_000, 80_000)))
                last = t
        n = len(looks)
        client_uids, _ = self.rec.lookup(
            np.array(looks, dtype=np.int64),
            client,
            self._resolver(op),
            self._upstream(op),
            [domain] * n,
            np.ones(n),
            [answer] * n,
            [f"{ttl}.000000"] * n,
        )
        return client_uids

    def beacon(self, op: int) -> None:
        host = self._victim(op)
        c2_ip = self._intel(self.addr.take("203.0.113"), "ip", "Cobalt Strike team server")
        domain = self._intel("cdn-metrics-sync.example", "domain", "Cobalt Strike C2 domain")
        period = self._beacon_period(90, 300)
        jitter = round(float(self.rng.uniform(0.2, 0.4)), 2)
        missed = 0.05
        times = self._beats(self._at(0.02), self.end - 60 * MICROS, period, jitter, missed)
        n = len(times)
        tasking = self.rng.random(n) < 0.04
        ob = np.where(tasking, self.rng.integers(2_000, 6_000, n), self.rng.normal(420, 12, n))
        rb = np.where(tasking, self.rng.integers(20_000, 60_000, n), self.rng.normal(1_380, 30, n))
        uid, ports = self.rec.conn(
            times,
            host.ip,
            c2_ip,
            443,
            service="ssl",
            duration=self.rng.integers(250_000, 1_200_000, n),
            orig_bytes=ob.astype(np.int64),
            resp_bytes=rb.astype(np.int64),
        )
        self._tls(times, uid, host.ip, ports, c2_ip, 443, domain)
        self._lookups_before(times, host.ip, op, domain, c2_ip, 300)
        self._record(
            "beacon",
            "network.beaconing",
            op,
            host.ip,
            c2_ip,
            443,
            domain,
            ["T1071.001", "T1573"],
            uid,
            times,
            f"{host.hostname} beacons over HTTPS to {domain} ({c2_ip}) every ~{period:.0f} s "
            f"with ±{jitter:.0%} jitter and small, regular sizes, all simulated day.",
            {
                "period_s": period,
                "jitter": jitter,
                "missed_beat_probability": missed,
                "beats": n,
                "orig_bytes_typical": 420,
                "resp_bytes_typical": 1380,
            },
            secondary=["intel.indicator_match"],
            indicators=[c2_ip, domain],
        )

    def proxy_beacon(self, op: int) -> None:
        host = self._victim(op)
        proxy = self.net.server(netmod.PROXY, op).ip
        c2_ip = self.addr.take("198.51.100")
        domain = self._intel("telemetry-gateway-cloud.example", "domain", "C2 domain behind CDN")
        period = self._beacon_period(120, 420)
        jitter = round(float(self.rng.uniform(0.1, 0.3)), 2)
        times = self._beats(self._at(0.03), self.end - 60 * MICROS, period, jitter, 0.03)
        n = len(times)
        ob = self.rng.normal(650, 20, n).astype(np.int64)
        rb = self.rng.normal(2_100, 45, n).astype(np.int64)
        dur = self.rng.integers(300_000, 1_500_000, n)
        c_uid, c_ports = self.rec.conn(
            times,
            host.ip,
            proxy,
            netmod.PROXY_PORT,
            service="http,ssl",
            duration=dur + 20_000,
            orig_bytes=ob + 180,
            resp_bytes=rb + 90,
        )
        self.rec.row(
            "http",
            n,
            {
                "ts": times + 900,
                "uid": c_uid,
                "id.orig_h": host.ip,
                "id.orig_p": c_ports,
                "id.resp_h": proxy,
                "id.resp_p": netmod.PROXY_PORT,
                "trans_depth": 1,
                "method": "CONNECT",
                "host": domain,
                "uri": f"{domain}:443",
                "version": "1.1",
                "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Trident/7.0; rv:11.0) "
                "like Gecko",
                "request_body_len": 0,
                "response_body_len": 0,
                "status_code": 200,
                "status_msg": "Connection established",
                "tags": "(empty)",
            },
        )
        self._tls(times, c_uid, host.ip, c_ports, proxy, netmod.PROXY_PORT, domain, "ok")
        p_times = times + 2_000
        p_uid, p_ports = self.rec.conn(
            p_times,
            proxy,
            c2_ip,
            443,
            service="ssl",
            duration=dur,
            orig_bytes=ob,
            resp_bytes=rb,
        )
        self._tls(p_times, p_uid, proxy, p_ports, c2_ip, 443, domain, "ok")
        self._lookups_before(times + 1_000, proxy, op, domain, c2_ip, 600)
        self._record(
            "proxy_beacon",
            "network.beaconing",
            op,
            host.ip,
            proxy,
            netmod.PROXY_PORT,
            domain,
            ["T1071.001", "T1573", "T1090"],
            c_uid,
            times,
            f"{host.hostname} beacons through the web proxy {proxy}:{netmod.PROXY_PORT} "
            f"(CONNECT {domain}:443) every ~{period:.0f} s with ±{jitter:.0%} jitter; the proxy "
            f"connects on to {c2_ip}.",
            {"period_s": period, "jitter": jitter, "missed_beat_probability": 0.03, "beats": n},
            secondary=["intel.indicator_match"],
            indicators=[domain],
            extra={
                "via_proxy": True,
                "upstream_destination_ip": c2_ip,
                "upstream_uids": p_uid.to_pylist() if n <= MAX_LISTED_UIDS else n,
            },
        )

    def dns_tunnel(self, op: int) -> None:
        host = self._victim(op)
        resolver = self._resolver(op)
        base = self._intel("cloud-sync-updates.example", "domain", "DNS tunnelling endpoint")
        n = 900
        duration = min(45 * 60 * MICROS, self.window // 5)
        first = self._at(0.55)
        times = np.sort(first + self.rng.integers(0, duration, n))
        alphabet = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", np.uint8)
        queries = []
        lengths = self.rng.integers(48, 63, (n, 2))
        for i in range(n):
            labels = [
                bytes(alphabet[self.rng.integers(0, len(alphabet), int(k))]).decode()
                for k in lengths[i]
            ]
            queries.append(f"{labels[0]}.{labels[1]}.t.{base}")
        qtype = self.rng.choice([16, 10, 5], n, p=[0.6, 0.25, 0.15])
        answers: list[str | None] = []
        for i in range(n):
            payload = bytes(alphabet[self.rng.integers(0, len(alphabet), 60)]).decode()
            if qtype[i] == 16:
                answers.append(f"TXT 60 {payload}")
            elif qtype[i] == 5:
                answers.append(f"{payload[:50]}.t.{base}")
            else:
                answers.append(None)
        ttls = [None if a is None else "0.000000" for a in answers]
        client_uids, relay_uids = self.rec.lookup(
            times, host.ip, resolver, self._upstream(op), queries, qtype, answers, ttls
        )
        self._record(
            "dns_tunnel",
            "network.dns_tunneling",
            op,
            host.ip,
            resolver,
            53,
            base,
            ["T1071.004", "T1572"],
            client_uids,
            times,
            f"{host.hostname} tunnels data through DNS: {n} long, high-entropy TXT/NULL/CNAME "
            f"queries under {base} via the resolver {resolver} (which relays them upstream).",
            {
                "queries": n,
                "registered_domain": base,
                "mean_query_length": float(np.mean([len(q) for q in queries])),
                "qtypes": {
                    "TXT": int((qtype == 16).sum()),
                    "NULL": int((qtype == 10).sum()),
                    "CNAME": int((qtype == 5).sum()),
                },
                "duration_s": duration / MICROS,
            },
            secondary=["intel.indicator_match"],
            indicators=[base],
            extra={
                "relay_ip": resolver,
                "relay_uids": relay_uids.to_pylist() if n <= MAX_LISTED_UIDS else n,
            },
        )

    def port_scan(self, op: int) -> None:
        host = self._victim(op)
        target = self.net.server(netmod.FILE, op)
        open_ports = [53, 88, 135, 139, 389, 445, 464, 636, 3268, 3389, 5985]
        candidates = np.setdiff1d(np.arange(1, 10_000), open_ports)
        ports = np.concatenate([open_ports, self.rng.choice(candidates, 889, replace=False)])
        ports = self.rng.permutation(ports)
        n = len(ports)
        first = self._at(0.42)
        times = first + np.cumsum(self.rng.integers(20_000, 180_000, n))
        is_open = np.isin(ports, open_ports)
        filtered = ~is_open & (self.rng.random(n) < 0.08)
        state = np.where(is_open, RSTO, np.where(filtered, S0, REJ))
        history = np.where(is_open, "ShR", np.where(filtered, "S", "Sr")).tolist()
        uid, _ = self.rec.conn(
            times,
            host.ip,
            target.ip,
            ports,
            service=None,
            duration=np.where(filtered, -1, self.rng.integers(150, 900, n)),
            orig_bytes=np.zeros(n, np.int64),
            resp_bytes=np.zeros(n, np.int64),
            state=state,
            history=history,
            orig_p=np.full(n, int(self.rng.integers(40_000, 60_000))),
        )
        self._record(
            "port_scan",
            "network.port_scan",
            op,
            host.ip,
            target.ip,
            None,
            None,
            ["T1046"],
            uid,
            times,
            f"{host.hostname} SYN-scans {n} TCP ports of {target.hostname} ({target.ip}) in "
            f"{(times[-1] - times[0]) / MICROS:.0f} s; most answer RST (REJ), a few are filtered.",
            {
                "ports_scanned": n,
                "open_ports": sorted(open_ports),
                "rejected": int((state == REJ).sum()),
                "unanswered": int((state == S0).sum()),
                "duration_s": float((times[-1] - times[0]) / MICROS),
            },
            extra={"destination_ports": sorted(int(p) for p in ports)},
        )

    def address_sweep(self, op: int) -> None:
        host = self._victim(op)
        operator = self.net.operators[op]
        subnet = f"10.{operator.octet}.1"
        live = {h.ip: h for h in self.net.hosts if h.ip.startswith(subnet + ".")}
        targets = [f"{subnet}.{i}" for i in self.rng.permutation(np.arange(1, 255)) + 0]
        n = len(targets)
        first = self._at(0.47)
        times = first + np.cumsum(self.rng.integers(50_000, 400_000, n))
        windows = np.array([t in live and live[t].os.startswith("Windows") for t in targets])
        linux = np.array([t in live and not live[t].os.startswith("Windows") for t in targets])
        state = np.where(windows, SF, np.where(linux, REJ, S0))
        history = np.where(windows, "ShAFaf", np.where(linux, "Sr", "S")).tolist()
        uid, _ = self.rec.conn(
            times,
            host.ip,
            np.array(targets),
            445,
            service=None,
            duration=np.where(state == S0, -1, self.rng.integers(400, 3_000, n)),
            orig_bytes=np.zeros(n, np.int64),
            resp_bytes=np.zeros(n, np.int64),
            state=state,
            history=history,
        )
        self._record(
            "address_sweep",
            "network.address_sweep",
            op,
            host.ip,
            f"{subnet}.0/24",
            445,
            None,
            ["T1018", "T1046"],
            uid,
            times,
            f"{host.hostname} sweeps the server subnet {subnet}.0/24 on TCP 445 (SMB): "
            f"{n} addresses in {(times[-1] - times[0]) / MICROS:.0f} s.",
            {
                "addresses_swept": n,
                "responding": int((state != S0).sum()),
                "duration_s": float((times[-1] - times[0]) / MICROS),
            },
            extra={"destination_network": f"{subnet}.0/24"},
        )

    def brute_force(self, op: int) -> None:
        target = self.net.server(netmod.SFTP, op)
        attacker = self._intel(self.addr.take("203.0.113"), "ip", "SSH brute-force source")
        n = 450
        span = min(40 * 60 * MICROS, self.window // 5)
        first = self._at(0.30)
        times = np.sort(first + self.rng.integers(0, span, n))
        success = np.zeros(n, bool)
        success[-1] = True
        dur = np.where(success, 95 * MICROS, self.rng.integers(1_500_000, 7_000_000, n))
        ob = np.where(success, 48_000, self.rng.integers(1_400, 2_600, n))
        rb = np.where(success, 220_000, self.rng.integers(2_200, 3_600, n))
        uid, ports = self.rec.conn(
            times,
            attacker,
            target.ip,
            22,
            service="ssh",
            duration=dur,
            orig_bytes=ob,
            resp_bytes=rb,
        )
        attempts = np.where(success, 1, self.rng.integers(1, 7, n))
        self.rec.row(
            "ssh",
            n,
            {
                "ts": times + self.rng.integers(5_000, 40_000, n),
                "uid": uid,
                "id.orig_h": attacker,
                "id.orig_p": ports,
                "id.resp_h": target.ip,
                "id.resp_p": 22,
                "version": 2,
                "auth_success": success,
                "auth_attempts": attempts,
                "direction": "INBOUND",
                "client": "SSH-2.0-Go",
                "server": SSH_SERVER,
                **SSH_ALGOS,
                "host_key": ":".join(f"{b:02x}" for b in self.rng.integers(0, 256, 16)),
            },
        )
        self._record(
            "ssh_brute_force",
            "network.brute_force",
            op,
            attacker,
            target.ip,
            22,
            None,
            ["T1110", "T1110.001"],
            uid,
            times,
            f"{attacker} tries passwords against the exposed SSH server {target.hostname} "
            f"({target.ip}): {n - 1} failed sessions, then one success.",
            {
                "failed_sessions": n - 1,
                "password_attempts": int(attempts[~success].sum()),
                "succeeded": True,
                "duration_s": float((times[-1] - times[0]) / MICROS),
            },
            secondary=["intel.indicator_match"],
            indicators=[attacker],
        )

    def long_connection(self, op: int) -> None:
        host = self._victim(op)
        dst = self.addr.take("198.51.100")
        first = self._at(0.05)
        duration = min(9 * 3600 * MICROS, int((self.end - first) * 0.85))
        times = np.array([first])
        uid, ports = self.rec.conn(
            times,
            host.ip,
            dst,
            443,
            service="ssl",
            duration=np.array([duration]),
            orig_bytes=np.array([2_600_000]),
            resp_bytes=np.array([11_400_000]),
        )
        self._tls(times, uid, host.ip, ports, dst, 443, None)
        self._record(
            "long_connection",
            "network.long_connection",
            op,
            host.ip,
            dst,
            443,
            None,
            ["T1071", "T1029"],
            uid,
            times,
            f"{host.hostname} holds one TLS connection (no SNI) to {dst} open for "
            f"{duration / 3600 / MICROS:.1f} h.",
            {"duration_s": duration / MICROS, "orig_bytes": 2_600_000, "resp_bytes": 11_400_000},
        )

    def exfiltration(self, op: int) -> None:
        host = self._victim(op)
        dst = self.addr.take("198.51.100")
        domain = "files.quickshare-transfer.example"
        total = int(self.rng.integers(800, 2_500)) * 1_000_000
        n = 8
        span = min(20 * 60 * MICROS, self.window // 10)
        first = self._at(0.62)
        times = np.sort(first + self.rng.integers(0, span, n))
        share = self.rng.dirichlet(np.ones(n) * 4)
        ob = (share * total).astype(np.int64)
        rb = self.rng.integers(20_000, 90_000, n)
        rate = self.rng.uniform(8e6, 14e6, n)  # bytes per second on the uplink
        uid, ports = self.rec.conn(
            times,
            host.ip,
            dst,
            443,
            service="ssl",
            duration=(ob / rate * MICROS).astype(np.int64),
            orig_bytes=ob,
            resp_bytes=rb,
        )
        self._tls(times, uid, host.ip, ports, dst, 443, domain, "ok")
        self._lookups_before(times, host.ip, op, domain, dst, 300)
        self._record(
            "exfiltration",
            "network.exfiltration",
            op,
            host.ip,
            dst,
            443,
            domain,
            ["T1048", "T1041", "T1567"],
            uid,
            times,
            f"{host.hostname} uploads {int(ob.sum()) / 1e6:.0f} MB to {domain} ({dst}) in "
            f"{n} TLS connections within {span / 60 / MICROS:.0f} minutes.",
            {"bytes_exfiltrated": int(ob.sum()), "connections": n, "window_s": span / MICROS},
        )

    def intel_domain(self, op: int) -> None:
        host = self._victim(op)
        bad_ip = self._intel(self.addr.take("192.0.2"), "ip", "Phishing page host")
        domain = self._intel("login-microsoftonline-sso.example", "domain", "Credential phishing")
        first = self._at(0.35)
        times = first + np.cumsum(self.rng.integers(2 * MICROS, 40 * MICROS, 4))
        n = len(times)
        uid, ports = self.rec.conn(
            times + 40_000,
            host.ip,
            bad_ip,
            443,
            service="ssl",
            duration=self.rng.integers(300_000, 3_000_000, n),
            orig_bytes=self.rng.integers(900, 4_000, n),
            resp_bytes=self.rng.integers(8_000, 90_000, n),
        )
        self._tls(times + 40_000, uid, host.ip, ports, bad_ip, 443, domain, "ok")
        dns_uids = self._lookups_before(times, host.ip, op, domain, bad_ip, 60)
        self._record(
            "known_bad_domain",
            "intel.indicator_match",
            op,
            host.ip,
            bad_ip,
            443,
            domain,
            ["T1566.002", "T1204.001"],
            uid,
            times,
            f"{host.hostname} looks up the known phishing domain {domain} and opens HTTPS "
            f"to {bad_ip}; both are in the indicator feed.",
            {"lookups": len(dns_uids), "connections": n},
            indicators=[domain, bad_ip],
            extra={"dns_uids": dns_uids.to_pylist()},
        )

    def intel_ip(self, op: int) -> None:
        server = self.net.server(netmod.WSUS, op)
        bad_ip = self._intel(self.addr.take("192.0.2"), "ip", "Malware download server")
        first = self._at(0.5)
        times = first + np.cumsum(self.rng.integers(30 * MICROS, 300 * MICROS, 3))
        n = len(times)
        uid, ports = self.rec.conn(
            times,
            server.ip,
            bad_ip,
            80,
            service="http",
            duration=self.rng.integers(200_000, 900_000, n),
            orig_bytes=self.rng.integers(180, 400, n),
            resp_bytes=self.rng.integers(150_000, 400_000, n),
        )
        self.rec.row(
            "http",
            n,
            {
                "ts": times + 30_000,
                "uid": uid,
                "id.orig_h": server.ip,
                "id.orig_p": ports,
                "id.resp_h": bad_ip,
                "id.resp_p": 80,
                "trans_depth": 1,
                "method": "GET",
                "host": bad_ip,
                "uri": "/dl/upd.bin",
                "version": "1.1",
                "user_agent": "Microsoft BITS/7.8",
                "request_body_len": 0,
                "response_body_len": self.rng.integers(140_000, 390_000, n),
                "status_code": 200,
                "status_msg": "OK",
                "tags": "(empty)",
                "resp_fuids": new_ids(self.rng, n, prefix="F", length=16),
                "resp_mime_types": "application/x-dosexec",
            },
        )
        self._record(
            "known_bad_ip",
            "intel.indicator_match",
            op,
            server.ip,
            bad_ip,
            80,
            None,
            ["T1105"],
            uid,
            times,
            f"The update server {server.hostname} downloads an executable over plain HTTP "
            f"straight from the known-bad address {bad_ip} (no DNS lookup).",
            {"downloads": n},
            indicators=[bad_ip],
        )

    def ics_write(self, op: int) -> None:
        host = self._victim(op)
        plcs = self.net.role_hosts(netmod.PLC, op) or self.net.role_hosts(netmod.RTU, op)
        plc = plcs[int(self.rng.integers(len(plcs)))]
        masters = sorted(
            {self.net.hosts[p.master].ip for p in self.net.ics_pairs if p.outstation == plc.index}
        )
        first = self._at(0.70)
        times = first + np.array([0, 95 * MICROS, 97 * MICROS])
        n = len(times)
        uid, ports = self.rec.conn(
            times,
            host.ip,
            plc.ip,
            netmod.MODBUS_PORT,
            service="modbus",
            duration=np.array([1_400_000, 800_000, 600_000]),
            orig_bytes=np.array([36, 24, 16]),
            resp_bytes=np.array([75, 24, 12]),
        )
        funcs = [
            (0, "READ_HOLDING_REGISTERS"),
            (0, "READ_HOLDING_REGISTERS"),
            (0, "READ_COILS"),
            (1, "WRITE_SINGLE_REGISTER"),
            (1, "WRITE_SINGLE_REGISTER"),
            (2, "WRITE_MULTIPLE_COILS"),
        ]
        rows = np.array([c for c, _ in funcs])
        self.rec.row(
            "modbus",
            len(funcs),
            {
                "ts": times[rows] + np.arange(len(funcs)) * 120_000 + 3_000,
                "uid": uid.take(pa.array(rows)),
                "id.orig_h": host.ip,
                "id.orig_p": ports[rows],
                "id.resp_h": plc.ip,
                "id.resp_p": netmod.MODBUS_PORT,
                "func": pa.array([f for _, f in funcs]),
            },
        )
        self._record(
            "ics_unexpected_write",
            "ics.unexpected_command",
            op,
            host.ip,
            plc.ip,
            netmod.MODBUS_PORT,
            None,
            ["T0855", "T0836", "T0846"],
            uid,
            times,
            f"The office workstation {host.hostname}, not a master of {plc.hostname} "
            f"({plc.ip}; masters {', '.join(masters)}), reads its registers and then writes "
            "a register and coils over Modbus/TCP.",
            {
                "writes": 3,
                "functions": sorted({f for _, f in funcs}),
                "legitimate_masters": masters,
            },
        )
        del n
