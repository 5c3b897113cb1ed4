"""Benign traffic: what a quiet day on an operator's network looks like, as Zeek records.

Two kinds of traffic:

* **Demand** (people and the machines they drive): web browsing, background telemetry and sync,
  intranet, file shares and mail, visitors of the public web site, mail relaying, stale-name
  lookups. Arrivals are Poisson with a rate that follows a diurnal and weekly profile (office
  hours busy, nights and weekends quiet) and a heavy-tailed per-host activity. Sizes and
  durations are log-normal. Only demand is multiplied by the ``scale`` that ``conn_rows`` sets.
* **Clockwork** (machines on their own timers): NTP polls with a fixed interval, ICS masters
  polling their outstations every few seconds over TCP sessions they renew, software updates
  (jittered), and a few administrator SSH sessions. This is the benign periodic traffic that a
  beaconing detection must *not* flag; it does not grow with ``scale``.

All generation is vectorised: Python loops run over traffic classes and rate steps, never rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from signalfire.simulate import network as netmod
from signalfire.simulate.internet import Internet, zipf_weights
from signalfire.simulate.network import Network
from signalfire.simulate.records import (
    OTH,
    REJ,
    RSTO,
    RSTR,
    S0,
    SF,
    Arr,
    conn_table,
    dns_table,
    ephemeral_ports,
    hash_keys,
    ids_from_keys,
    lognormal_int,
    new_ids,
    take,
    text_where,
)
from signalfire.simulate.zeek_writer import MICROS, build_table

HOUR_US = 3600 * MICROS
#: The rate of demand traffic is held constant over steps of this length (aligned to the epoch).
RATE_STEP_US = 300 * MICROS

# Probability that a client (or the proxy) looks a public name up before connecting: the rest
# hit the client's own cache.
P_LOOKUP = 0.5
P_LOOKUP_INTERNAL = 0.3
# Probability that the operator's resolver does not have the answer cached and asks upstream.
P_MISS = 0.3


@dataclass(frozen=True)
class Profile:
    """Relative activity by hour of day (knots at hh:30, linearly interpolated), weekday/weekend."""

    weekday: tuple[float, ...]
    weekend: tuple[float, ...]

    def at(self, t_us: Arr) -> Arr:
        """The profile's value at times ``t_us`` (µs since the epoch, UTC)."""
        hours = np.asarray(t_us, dtype=np.int64) / HOUR_US - 0.5
        base = np.floor(hours)
        frac = hours - base
        knots = np.array(self.weekday + self.weekend, dtype=np.float64)

        def value(h: Arr) -> Arr:
            # 1970-01-01 was a Thursday: day 0 -> weekday index 3 (Monday = 0).
            day = (h // 24 + 3) % 7
            hour = (h % 24).astype(np.int64)
            return np.asarray(knots[np.where(day >= 5, 24, 0) + hour])

        return np.asarray(value(base) * (1 - frac) + value(base + 1) * frac)


OFFICE = Profile(
    weekday=(0.04, 0.03, 0.03, 0.03, 0.04, 0.06, 0.15, 0.45, 0.85, 1.0, 1.0, 0.95,
             0.7, 0.9, 1.0, 0.95, 0.85, 0.6, 0.3, 0.18, 0.12, 0.09, 0.06, 0.05),
    weekend=(0.04, 0.03, 0.03, 0.03, 0.03, 0.04, 0.05, 0.07, 0.1, 0.12, 0.13, 0.13,
             0.12, 0.12, 0.12, 0.11, 0.1, 0.09, 0.08, 0.07, 0.06, 0.05, 0.05, 0.04),
)  # fmt: skip
# Machines that stay on (and their telemetry) whether or not someone works at them.
ALWAYS_ON = Profile(
    weekday=(0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.35, 0.6, 0.9, 1.0, 1.0, 1.0,
             0.9, 1.0, 1.0, 1.0, 0.95, 0.8, 0.6, 0.5, 0.45, 0.4, 0.38, 0.36),
    weekend=(0.3,) * 24,
)  # fmt: skip
# The public's visits to an operator's web site: evenings are busiest.
PUBLIC = Profile(
    weekday=(0.3, 0.2, 0.15, 0.12, 0.12, 0.15, 0.3, 0.5, 0.7, 0.8, 0.85, 0.9,
             0.95, 0.9, 0.85, 0.85, 0.9, 0.95, 1.0, 1.0, 0.95, 0.8, 0.6, 0.4),
    weekend=(0.35, 0.25, 0.18, 0.14, 0.13, 0.15, 0.25, 0.4, 0.6, 0.75, 0.85, 0.9,
             0.9, 0.9, 0.85, 0.85, 0.85, 0.9, 0.95, 0.95, 0.9, 0.8, 0.6, 0.45),
)  # fmt: skip

_BROWSER_UAS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
)

# Plain-HTTP request shapes: method, URIs, response MIME type, user agent (None: the browser's).
_HTTP_KINDS: dict[str, tuple[str, tuple[str, ...], str, str | None]] = {
    "web": (
        "GET",
        (
            "/",
            "/index.html",
            "/favicon.ico",
            "/css/site.css",
            "/js/main.js",
            "/images/logo.png",
            "/news/",
            "/about/",
        ),
        "text/html",
        None,
    ),
    "ocsp": ("POST", ("/",), "application/ocsp-response", "Microsoft-CryptoAPI/10.0"),
    "crl": (
        "GET",
        ("/DigiCertGlobalRootG2.crl", "/SectigoRSADomainValidationSecureServerCA.crl"),
        "application/pkix-crl",
        "Microsoft-CryptoAPI/10.0",
    ),
    "ncsi": ("GET", ("/connecttest.txt",), "text/plain", "Microsoft NCSI"),
    "ctl": (
        "GET",
        ("/msdownload/update/v3/static/trustedr/en/authrootstl.cab",),
        "application/vnd.ms-cab-compressed",
        "Microsoft-CryptoAPI/10.0",
    ),
    "apt": (
        "GET",
        (
            "/ubuntu/dists/jammy-updates/InRelease",
            "/ubuntu/dists/jammy-security/InRelease",
            "/ubuntu/pool/main/o/openssl/libssl3_3.0.2-0ubuntu1.15_amd64.deb",
        ),
        "application/octet-stream",
        "Debian APT-HTTP/1.3 (2.4.11)",
    ),
    "wsus": (
        "POST",
        ("/ClientWebService/client.asmx", "/SimpleAuthWebService/SimpleAuth.asmx"),
        "text/xml",
        "Windows-Update-Agent/10.0.10011.16384 Client-Protocol/2.71",
    ),
}
_HTTP_KIND_NAMES = tuple(_HTTP_KINDS)

_SSH_CLIENTS = (
    "SSH-2.0-OpenSSH_9.6",
    "SSH-2.0-PuTTY_Release_0.81",
    "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.6",
)
_SSH_PARTNER_CLIENTS = ("SSH-2.0-WinSCP_release_6.3.3", "SSH-2.0-FileZilla_3.67.0")
SSH_SERVER = "SSH-2.0-OpenSSH_8.9p1 Ubuntu-3ubuntu0.10"
SSH_ALGOS: dict[str, str] = {
    "cipher_alg": "chacha20-poly1305@openssh.com",
    "mac_alg": "umac-128-etm@openssh.com",
    "compression_alg": "none",
    "kex_alg": "curve25519-sha256",
    "host_key_alg": "ssh-ed25519",
}

_MODBUS_READS = (
    "READ_HOLDING_REGISTERS",
    "READ_INPUT_REGISTERS",
    "READ_COILS",
    "READ_DISCRETE_INPUTS",
)


@dataclass(frozen=True)
class _Demand:
    """A Poisson demand class: sources, their peak hourly rates and how many conn rows an
    event yields on average (for the conn_rows calibration)."""

    name: str
    sources: Arr  # host indexes (or operator indexes for per-operator classes)
    rate: Arr  # events per hour at profile value 1, per source
    profile: Profile
    scalable: bool
    conn_per_event: Arr  # expected conn rows per event, per source
    emit: Callable[[np.random.Generator, dict[str, list[pa.Table]], Arr, Arr], None]


class Rows:
    """Per-log lists of tables produced for one time slice."""

    def __init__(self) -> None:
        self.tables: dict[str, list[pa.Table]] = {}

    def add(self, log: str, table: pa.Table) -> None:
        """Append ``table`` to the rows of ``log`` (empty tables are dropped)."""
        if table.num_rows:
            self.tables.setdefault(log, []).append(table)


class BenignTraffic:
    """Generates the benign records of any time slice (see the module docstring).

    Args:
        network: the topology.
        internet: the public Internet.
        seed: the simulation seed (used to derive stable uids of ICS sessions).
        rng: the generator for fixed per-host traits (activity, user agent, NTP clocks).
    """

    def __init__(
        self, network: Network, internet: Internet, seed: int, rng: np.random.Generator
    ) -> None:
        self.network = network
        self.internet = internet
        self.seed = seed
        self.scale = 1.0
        #: Start of the simulated window: ICS sessions already open then are logged from it.
        self.window_start_us: int | None = None
        hosts = network.hosts
        self.n_hosts = len(hosts)
        roles = network.roles()
        self.role = roles
        self.op_of = np.array([h.operator for h in hosts], dtype=np.int64)

        # One table of addresses: hosts first, then every external address the traffic uses.
        ext: list[str] = []
        for d in internet.domains:
            ext.extend(d.ips)
        for pair in internet.upstream_resolvers:
            ext.extend(pair)
        ext.extend(internet.client_ips)
        addresses = network.ips + ext
        self.addresses = pa.array(addresses)
        self.addr_index = {ip: i for i, ip in enumerate(addresses)}

        def server_of(role: str) -> Arr:
            per_op = [network.server(role, op.index).index for op in network.operators]
            return np.array(per_op, dtype=np.int64)[self.op_of]

        self.resolver_of = server_of(netmod.DNS)
        self.proxy_of = server_of(netmod.PROXY)
        explicit = np.array([op.explicit_proxy for op in network.operators])
        self.uses_proxy = explicit[self.op_of] & (roles == netmod.WORKSTATION)
        upstream = np.array(
            [
                [self.addr_index[ip] for ip in internet.upstream_resolvers[k % 3]]
                for k in range(len(network.operators))
            ]
        )
        self.upstream_of_op = upstream
        self.ua_of = rng.integers(0, len(_BROWSER_UAS), self.n_hosts)
        # Heavy-tailed activity: a few people generate much of the traffic.
        activity = rng.lognormal(0.0, 0.7, self.n_hosts)
        self.activity = activity / activity.mean()

        # MD5 fingerprints of the hosts' SSH keys, as Zeek 6 logs them.
        self.host_keys = pa.array(
            [":".join(f"{b:02x}" for b in rng.integers(0, 256, 16)) for _ in range(self.n_hosts)]
        )
        self._build_domains(rng)
        self._build_clockwork(rng)
        ops = self.network.operators
        not_targets = (netmod.WORKSTATION, netmod.PLC, netmod.RTU, netmod.JUMP)
        self.ssh_targets = [
            np.flatnonzero((self.op_of == op.index) & ~np.isin(roles, not_targets)) for op in ops
        ]
        self.ssh_admins = [
            np.flatnonzero((self.op_of == op.index) & (roles == netmod.WORKSTATION))[:2]
            for op in ops
        ]
        self._build_demand()

    # ------------------------------------------------------------------ domain table
    def _build_domains(self, rng: np.random.Generator) -> None:
        names: list[str] = []
        first: list[int] = []
        count: list[int] = []
        answers: list[str] = []
        ttls: list[str] = []
        internal: list[bool] = []
        is_http: list[bool] = []
        http_kind: list[int] = []
        port: list[int] = []
        tls: list[tuple[str, str, str, str, str, str, str]] = []
        kinds: list[str] = []
        operator: list[int] = []

        def add(
            name: str,
            ips: list[int],
            answer: str,
            ttl: str,
            is_internal: bool,
            kind: str,
            hkind: str | None,
            tls_params: tuple[str, str, str, str, str, str, str],
            op: int = -1,
            service_port: int | None = None,
        ) -> int:
            names.append(name)
            first.append(ips[0])
            count.append(len(ips))
            answers.append(answer)
            ttls.append(ttl)
            internal.append(is_internal)
            is_http.append(hkind is not None)
            http_kind.append(_HTTP_KIND_NAMES.index(hkind) if hkind else 0)
            port.append(service_port or (80 if hkind else 443))
            tls.append(tls_params)
            kinds.append(kind)
            operator.append(op)
            return len(names) - 1

        def hkind_of(name: str, kind: str) -> str | None:
            if kind == "http":
                if name.startswith("ocsp") or ".o.lencr" in name or name == "ocsp.pki.goog":
                    return "ocsp"
                if name.startswith("crl") or name == "c.pki.goog":
                    return "crl"
                if "msftconnecttest" in name:
                    return "ncsi"
                if name.startswith("ctldl"):
                    return "ctl"
                return "web"
            if name.endswith("ubuntu.com"):
                return "apt"
            return None

        self.public_index: dict[str, int] = {}
        for d in self.internet.domains:
            ips = [self.addr_index[ip] for ip in d.ips]
            # Addresses of one domain are consecutive in the address table (see __init__).
            assert ips == list(range(ips[0], ips[0] + len(ips)))
            hk = hkind_of(d.name, d.kind)
            history = "CsiI" if d.tls_version == "TLSv13" else "CsxknGIi"
            valid = "-" if d.tls_version == "TLSv13" else "ok"
            self.public_index[d.name] = add(
                d.name,
                ips,
                d.answers,
                d.ttls,
                False,
                d.kind,
                hk,
                (d.tls_version, d.cipher, d.curve, d.alpn, d.cert_chain_fps, history, valid),
            )
        # Internal names, answered by the operator's own resolver with authority.
        self.internal_index: dict[tuple[int, str], int] = {}
        for op in self.network.operators:
            internal_ca = ",".join(
                bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex() for _ in range(2)
            )
            tls12 = ("TLSv12", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "secp256r1", "http/1.1")
            for role, label, service_port, hk in (
                (netmod.INTRANET, "intranet", 443, None),
                (netmod.FILE, "fs01", 445, None),
                (netmod.MAIL, "mail", 993, None),
                (netmod.WSUS, "wsus", 8530, "wsus"),
                (netmod.PROXY, "proxy", netmod.PROXY_PORT, None),
                (netmod.JUMP, "jump01", 22, None),
            ):
                host = self.network.server(role, op.index)
                self.internal_index[(op.index, label)] = add(
                    f"{label}.{op.domain}",
                    [host.index],
                    host.ip,
                    "1200.000000",
                    True,
                    "internal",
                    hk,
                    (*tls12, internal_ca, "CsxknGIi", "ok"),
                    op.index,
                    service_port,
                )
            pub = self.network.server(netmod.WEB, op.index)
            self.internal_index[(op.index, "www")] = add(
                f"www.{op.public_domain}",
                [pub.index],
                pub.ip,
                "3600.000000",
                False,
                "own",
                None,
                ("TLSv13", "TLS_AES_256_GCM_SHA384", "x25519", "h2", "-", "CsiI", "-"),
                op.index,
            )
        self.dom_name = pa.array(names)
        self.dom_name_len = np.array([len(n) for n in names], dtype=np.int64)
        self.dom_first = np.array(first, dtype=np.int64)
        self.dom_count = np.array(count, dtype=np.int64)
        self.dom_answers = pa.array(answers)
        self.dom_n_answers = np.array([a.count(",") + 1 for a in answers], dtype=np.int64)
        self.dom_ttls = pa.array(ttls)
        self.dom_internal = np.array(internal)
        self.dom_http = np.array(is_http)
        self.dom_http_kind = np.array(http_kind, dtype=np.int64)
        self.dom_port = np.array(port, dtype=np.int64)
        self.dom_tls = [pa.array([t[i] for t in tls]) for i in range(7)]
        self.dom_tls[3] = pa.array([None if t[3] == "-" else t[3] for t in tls], pa.string())
        self.dom_tls13 = np.array([t[0] == "TLSv13" for t in tls])
        self.dom_kind = np.array(kinds)

        ws_pool = [
            self.public_index[self.internet.domains[i].name]
            for i in range(len(self.internet.domains))
            if self.internet.domains[i].kind in ("web", "cloud", "http")
        ]
        self.browse_pool = np.array(ws_pool, dtype=np.int64)
        self.browse_p = zipf_weights(len(ws_pool))
        bg = [self.public_index[d.name] for d in self.internet.domains if d.kind == "bg"]
        self.bg_pool = np.array(bg, dtype=np.int64)
        self.bg_p = zipf_weights(len(bg), exponent=0.8)
        self.update_pool = np.array(
            [
                self.public_index[d.name]
                for d in self.internet.domains
                if d.kind == "update" and "ubuntu" not in d.name
            ],
            dtype=np.int64,
        )
        self.apt_pool = np.array(
            [self.public_index[d.name] for d in self.internet.domains if "ubuntu" in d.name],
            dtype=np.int64,
        )
        self.mx_pool = np.array(
            [self.public_index[d.name] for d in self.internet.domains if d.kind == "mx"],
            dtype=np.int64,
        )
        self.ntp_pool = np.array(
            [
                self.dom_first[self.public_index[d.name]]
                for d in self.internet.domains
                if d.kind == "ntp"
            ],
            dtype=np.int64,
        )
        self.client_first = self.addr_index[self.internet.client_ips[0]]
        self.n_clients = len(self.internet.client_ips)

    # ------------------------------------------------------------------ demand classes
    def _build_demand(self) -> None:
        net = self.network
        ws = np.flatnonzero(self.role == netmod.WORKSTATION)
        n_ops = len(net.operators)
        ops = np.arange(n_ops)
        ws_per_op = np.bincount(self.op_of[ws], minlength=n_ops).astype(np.float64)
        web_cpe = np.where(self.uses_proxy[ws], 2.0, 1.0) + P_LOOKUP * (1 + P_MISS)
        linux = np.flatnonzero(
            np.isin(self.role, [netmod.WEB, netmod.SFTP, netmod.MAIL, netmod.PROXY, netmod.JUMP])
        )
        wsus = np.array([net.server(netmod.WSUS, int(o)).index for o in ops], dtype=np.int64)
        ones = np.ones
        self.demand: tuple[_Demand, ...] = (
            _Demand(
                "browse", ws, 60.0 * self.activity[ws], OFFICE, True, web_cpe, self._emit_browse
            ),
            _Demand(
                "background",
                ws,
                14.0 * np.sqrt(self.activity[ws]),
                ALWAYS_ON,
                True,
                web_cpe,
                self._emit_background,
            ),
            _Demand(
                "intranet",
                ws,
                14.0 * self.activity[ws],
                OFFICE,
                True,
                np.full(len(ws), 1 + P_LOOKUP_INTERNAL),
                self._emit_intranet,
            ),
            _Demand(
                "stale_lookups",
                ws,
                ones(len(ws)) * 1.2,
                ALWAYS_ON,
                True,
                ones(len(ws)),
                self._emit_stale_lookups,
            ),
            _Demand(
                "public_web",
                ops,
                40.0 + 2.0 * ws_per_op,
                PUBLIC,
                True,
                ones(n_ops),
                self._emit_public_web,
            ),
            _Demand(
                "mail_out",
                ops,
                1.5 * ws_per_op,
                OFFICE,
                True,
                np.full(n_ops, 1 + P_LOOKUP * (1 + P_MISS)),
                self._emit_mail_out,
            ),
            _Demand(
                "mail_in", ops, 2.0 * ws_per_op, ALWAYS_ON, True, ones(n_ops), self._emit_mail_in
            ),
            # Clockwork with jitter: update checks are randomised by their agents on purpose.
            _Demand(
                "wsus_check",
                ws,
                ones(len(ws)) * 0.25,
                ALWAYS_ON,
                False,
                ones(len(ws)) * (1 + P_LOOKUP_INTERNAL),
                self._emit_wsus_check,
            ),
            _Demand(
                "wsus_sync",
                wsus,
                ones(n_ops) * 0.8,
                ALWAYS_ON,
                False,
                ones(n_ops) * (1 + P_LOOKUP * (1 + P_MISS)),
                self._emit_wsus_sync,
            ),
            _Demand(
                "apt",
                linux,
                ones(len(linux)) * 0.1,
                ALWAYS_ON,
                False,
                ones(len(linux)) * (1 + P_LOOKUP * (1 + P_MISS)),
                self._emit_apt,
            ),
            _Demand(
                "ssh_admin",
                ops,
                ones(n_ops) * 1.5,
                OFFICE,
                False,
                ones(n_ops),
                self._emit_ssh_admin,
            ),
            _Demand(
                "ssh_partner",
                ops,
                ones(n_ops) * 0.5,
                OFFICE,
                False,
                ones(n_ops),
                self._emit_ssh_partner,
            ),
        )

    # ------------------------------------------------------------------ clockwork
    def _build_clockwork(self, rng: np.random.Generator) -> None:
        roles = self.role
        clients = np.flatnonzero(~np.isin(roles, [netmod.PLC, netmod.RTU, netmod.DNS]))
        # Windows domain members poll w32time every 1024-2048 s; Linux chrony starts at 64 s and
        # settles higher; ICS masters are configured tight.
        interval = np.where(
            roles[clients] == netmod.WORKSTATION,
            rng.choice([1024, 2048], len(clients)),
            np.where(
                np.isin(roles[clients], [netmod.SCADA, netmod.HMI]),
                256,
                rng.choice([256, 512, 1024], len(clients)),
            ),
        )
        dc = np.array(
            [self.network.server(netmod.DNS, op.index).index for op in self.network.operators]
        )
        ntp_src = np.concatenate([clients, np.repeat(dc, 2)])
        ntp_dst = np.concatenate(
            [
                self.resolver_of[clients],
                self.ntp_pool[rng.integers(0, len(self.ntp_pool), 2 * len(dc))],
            ]
        )
        self.ntp_src = ntp_src
        self.ntp_dst = ntp_dst
        self.ntp_interval = np.concatenate([interval, np.full(2 * len(dc), 1024)]) * MICROS
        self.ntp_phase = (rng.random(len(ntp_src)) * self.ntp_interval).astype(np.int64)

        pairs = self.network.ics_pairs
        self.ics_master = np.array([p.master for p in pairs], dtype=np.int64)
        self.ics_out = np.array([p.outstation for p in pairs], dtype=np.int64)
        self.ics_dnp3 = np.array([p.protocol == "dnp3" for p in pairs], dtype=bool)
        self.ics_interval = (np.array([p.poll_interval for p in pairs]) * MICROS).astype(np.int64)
        self.ics_session = (np.array([p.session_length for p in pairs]) * MICROS).astype(np.int64)
        self.ics_phase = (np.array([p.phase for p in pairs]) * MICROS).astype(np.int64)

    # ------------------------------------------------------------------ calibration
    def expected_conn_rows(self, start_us: int, end_us: int) -> tuple[float, float]:
        """Expected conn rows in ``[start_us, end_us)`` at scale 1: (scalable, fixed) parts."""
        scalable = fixed = 0.0
        for a, b in _steps(start_us, end_us):
            mid = np.array([(a + b) // 2])
            hours = (b - a) / HOUR_US
            for demand in self.demand:
                level = float(demand.profile.at(mid)[0])
                value = float(np.sum(demand.rate * demand.conn_per_event)) * level * hours
                if demand.scalable:
                    scalable += value
                else:
                    fixed += value
        fixed += float(_count_ticks(self.ntp_phase, self.ntp_interval, start_us, end_us).sum())
        fixed += float(_count_ticks(self.ics_phase, self.ics_session, start_us, end_us).sum())
        return scalable, fixed

    def peak_rows_per_second(self, start_us: int, end_us: int) -> float:
        """Highest expected rate of rows over all logs (at the current scale), for slicing."""
        peak = 0.0
        ticks = len(self.ntp_src) / 1024 + float(np.sum(MICROS / self.ics_interval))
        for a, b in _steps(start_us, min(end_us, start_us + 8 * 24 * HOUR_US)):
            mid = np.array([(a + b) // 2])
            rate = 0.0
            for demand in self.demand:
                factor = self.scale if demand.scalable else 1.0
                rate += (
                    float(np.sum(demand.rate * demand.conn_per_event))
                    * float(demand.profile.at(mid)[0])
                    * factor
                )
            peak = max(peak, rate)
        # Every conn row carries about 1.6 rows of other logs (dns, ssl, http).
        return peak / 3600 * 2.6 + ticks

    # ------------------------------------------------------------------ generation
    def generate(self, start_us: int, end_us: int, rng: np.random.Generator) -> Rows:
        """All benign records whose activity starts in ``[start_us, end_us)``.

        Records of an event may end a little after ``end_us`` (a connection follows its DNS
        lookup); the caller carries those over to the next slice.
        """
        out = Rows()
        steps = _steps(start_us, end_us)
        mids = np.array([(a + b) // 2 for a, b in steps], dtype=np.int64)
        levels = {
            id(p): p.at(mids) for p in {id(d.profile): d.profile for d in self.demand}.values()
        }
        for demand in self.demand:
            factor = self.scale if demand.scalable else 1.0
            src_parts: list[Arr] = []
            ts_parts: list[Arr] = []
            for (a, b), level in zip(steps, levels[id(demand.profile)], strict=True):
                lam = demand.rate * (factor * float(level) * (b - a) / HOUR_US)
                counts = rng.poisson(lam)
                total = int(counts.sum())
                if total:
                    src_parts.append(np.repeat(np.arange(len(lam)), counts))
                    ts_parts.append(rng.integers(a, b, total))
            if src_parts:
                demand.emit(
                    rng,
                    out.tables,
                    demand.sources[np.concatenate(src_parts)],
                    np.concatenate(ts_parts),
                )
        self._emit_ntp(rng, out, start_us, end_us)
        self._emit_ics(rng, out, start_us, end_us)
        return out

    # ------------------------------------------------------------------ building blocks
    def _local(self, idx: Arr) -> Arr:
        return np.asarray(idx < self.n_hosts)

    def _conn(
        self,
        rng: np.random.Generator,
        out: dict[str, list[pa.Table]],
        *,
        ts: Arr,
        orig: Arr,
        orig_p: Arr,
        resp: Arr,
        resp_p: Arr | int,
        proto: str,
        service: str | pa.Array | None,
        duration: Arr,
        orig_bytes: Arr,
        resp_bytes: Arr,
        state: Arr | int,
        uid: pa.Array | None = None,
        history: str | pa.Array | None = None,
        orig_pkts: Arr | None = None,
        resp_pkts: Arr | None = None,
    ) -> pa.Array:
        n = len(ts)
        if uid is None:
            uid = new_ids(rng, n)
        state_arr = np.broadcast_to(np.asarray(state, dtype=np.int64), (n,))
        table = conn_table(
            rng,
            ts=ts,
            uid=uid,
            orig_h=take(self.addresses, orig),
            orig_p=orig_p,
            resp_h=take(self.addresses, resp),
            resp_p=np.broadcast_to(np.asarray(resp_p, dtype=np.int64), (n,)),
            proto=proto,
            service=service,
            duration=duration,
            orig_bytes=orig_bytes,
            resp_bytes=resp_bytes,
            state=state_arr,
            local_orig=self._local(orig),
            local_resp=self._local(resp),
            history=history,
            orig_pkts=orig_pkts,
            resp_pkts=resp_pkts,
        )
        out.setdefault("conn", []).append(table)
        return uid

    def lookups(
        self,
        rng: np.random.Generator,
        out: dict[str, list[pa.Table]],
        who: Arr,
        ts: Arr,
        dom: Arr,
        miss: Arr,
    ) -> Arr:
        """DNS lookups of domains ``dom`` by hosts ``who`` through their resolver.

        Returns the lookup latency seen by the client (µs), so callers connect after it.
        """
        n = len(who)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        rtt = np.where(
            miss,
            lognormal_int(rng, n, 25_000, 0.5, 4_000, 400_000),
            rng.integers(250, 1_500, n),
        )
        internal = self.dom_internal[dom]
        # Windows asks A and AAAA on one socket: two dns.log rows share the connection's uid.
        both = ~internal & (rng.random(n) < 0.5)
        qlen = self.dom_name_len[dom] + 17
        rlen = qlen + 16 * self.dom_n_answers[dom]
        resolver = self.resolver_of[who]
        port = ephemeral_ports(rng, n)
        uid = self._conn(
            rng,
            out,
            ts=ts,
            orig=who,
            orig_p=port,
            resp=resolver,
            resp_p=53,
            proto="udp",
            service="dns",
            duration=rtt + both * 300,
            orig_bytes=qlen * (1 + both),
            resp_bytes=rlen + both * qlen,
            state=SF,
            orig_pkts=1 + both.astype(np.int64),
            resp_pkts=1 + both.astype(np.int64),
        )
        name = take(self.dom_name, dom)
        answers = take(self.dom_answers, dom)
        ttls = take(self.dom_ttls, dom)
        out.setdefault("dns", []).append(
            dns_table(
                ts=ts,
                uid=uid,
                orig_h=take(self.addresses, who),
                orig_p=port,
                resp_h=take(self.addresses, resolver),
                trans_id=rng.integers(0, 65536, n),
                rtt=rtt,
                query=name,
                qtype=np.ones(n, dtype=np.int64),
                rcode=np.zeros(n, dtype=np.int64),
                answers=answers,
                ttls=ttls,
                aa=internal,
            )
        )
        k = np.flatnonzero(both)
        if len(k):
            out["dns"].append(
                dns_table(
                    ts=ts[k] + 150,
                    uid=uid.take(pa.array(k)),
                    orig_h=take(self.addresses, who[k]),
                    orig_p=port[k],
                    resp_h=take(self.addresses, resolver[k]),
                    trans_id=rng.integers(0, 65536, len(k)),
                    rtt=rtt[k],
                    query=take(name, k),
                    qtype=np.full(len(k), 28, dtype=np.int64),
                    rcode=np.zeros(len(k), dtype=np.int64),
                    answers=pa.nulls(len(k), pa.string()),
                    ttls=pa.nulls(len(k), pa.string()),
                )
            )
        # The resolver's own recursion, for answers it did not have cached.
        m = np.flatnonzero(miss & ~internal)
        if len(m):
            res = resolver[m]
            ups = self.upstream_of_op[self.op_of[res], rng.integers(0, 2, len(m))]
            up_rtt = np.maximum(rtt[m] - 600, 100)
            up_port = ephemeral_ports(rng, len(m))
            up_uid = self._conn(
                rng,
                out,
                ts=ts[m] + 200,
                orig=res,
                orig_p=up_port,
                resp=ups,
                resp_p=53,
                proto="udp",
                service="dns",
                duration=up_rtt,
                orig_bytes=qlen[m] + 11,
                resp_bytes=rlen[m] + 11,
                state=SF,
            )
            out["dns"].append(
                dns_table(
                    ts=ts[m] + 200,
                    uid=up_uid,
                    orig_h=take(self.addresses, res),
                    orig_p=up_port,
                    resp_h=take(self.addresses, ups),
                    trans_id=rng.integers(0, 65536, len(m)),
                    rtt=up_rtt,
                    query=take(name, m),
                    qtype=np.ones(len(m), dtype=np.int64),
                    rcode=np.zeros(len(m), dtype=np.int64),
                    answers=take(answers, m),
                    ttls=take(ttls, m),
                )
            )
        return np.asarray(rtt)

    def web(
        self,
        rng: np.random.Generator,
        out: dict[str, list[pa.Table]],
        src: Arr,
        ts: Arr,
        dom: Arr,
        sizes: str,
        via_proxy: Arr | None = None,
    ) -> None:
        """Web requests (HTTPS or plain HTTP by domain) from hosts ``src`` at times ``ts``.

        Direct: an optional DNS lookup, then the connection with its ssl or http record.
        Through the explicit proxy: client -> proxy:3128 with ``CONNECT`` (or an absolute-URI
        ``GET``) in http.log and, for HTTPS, the TLS session Zeek sees inside the tunnel; then
        the proxy's own lookup and its connection to the server.
        """
        n = len(src)
        if n == 0:
            return
        if via_proxy is None:
            via_proxy = self.uses_proxy[src] & ~self.dom_internal[dom]
        via_proxy = np.asarray(via_proxy, dtype=bool)
        internal = self.dom_internal[dom]
        looker = np.where(via_proxy, self.proxy_of[src], src)
        lookup = rng.random(n) < np.where(internal, P_LOOKUP_INTERNAL, P_LOOKUP)
        miss = rng.random(n) < P_MISS
        delay = np.zeros(n, dtype=np.int64)
        li = np.flatnonzero(lookup)
        lookup_ts = ts + np.where(via_proxy, 1_500, 0)
        delay[li] = self.lookups(rng, out, looker[li], lookup_ts[li], dom[li], miss[li])
        server_ts = lookup_ts + delay + rng.integers(300, 20_000, n)
        server = self.dom_first[dom] + (rng.random(n) * self.dom_count[dom]).astype(np.int64)
        port = self.dom_port[dom]
        http = self.dom_http[dom]

        ob, rb, dur = self._sizes(rng, n, sizes)
        u = rng.random(n)
        state = np.where(u < 0.015, S0, np.where(u < 0.03, RSTO, np.where(u < 0.04, RSTR, SF)))
        failed = state == S0
        ob = np.where(failed, 0, ob)
        rb = np.where(failed, 0, rb)
        dur = np.where(
            failed, np.where(rng.random(n) < 0.5, -1, rng.integers(1, 3, n) * MICROS), dur
        )
        sv = text_where(~failed, take(pa.array(["ssl", "http"]), http.astype(np.int64)))
        orig_p = ephemeral_ports(rng, n)
        uid = self._conn(
            rng,
            out,
            ts=server_ts,
            orig=looker,
            orig_p=orig_p,
            resp=server,
            resp_p=port,
            proto="tcp",
            service=sv,
            duration=dur,
            orig_bytes=ob,
            resp_bytes=rb,
            state=state,
        )
        ok = ~failed
        tls_rows = np.flatnonzero(ok & ~http)
        self._ssl(rng, out, server_ts, uid, looker, orig_p, server, port, dom, tls_rows)
        http_rows = np.flatnonzero(ok & http)
        self._http(
            rng,
            out,
            server_ts,
            uid,
            looker,
            orig_p,
            server,
            port,
            dom,
            src,
            rb,
            http_rows,
            proxied_for=np.where(via_proxy, src, -1),
        )

        p = np.flatnonzero(via_proxy)
        if len(p):
            # The client's leg: to the proxy, slightly larger than the proxy's leg.
            c_port = ephemeral_ports(rng, len(p))
            c_dur = np.where(dur[p] < 0, 2_000_000, dur[p]) + delay[p] + 4_000
            proxy = self.proxy_of[src[p]]
            c_service = np.where(http[p], "http", "http,ssl")
            c_uid = self._conn(
                rng,
                out,
                ts=ts[p],
                orig=src[p],
                orig_p=c_port,
                resp=proxy,
                resp_p=netmod.PROXY_PORT,
                proto="tcp",
                service=pa.array(c_service),
                duration=c_dur,
                orig_bytes=ob[p] + 180,
                resp_bytes=rb[p] + 90,
                state=SF,
            )
            pts = ts[p]
            https = np.flatnonzero(~http[p])
            if len(https):
                host = take(self.dom_name, dom[p][https])
                status = np.where(failed[p][https], 503, 200)
                out.setdefault("http", []).append(
                    build_table(
                        "http",
                        len(https),
                        {
                            "ts": pts[https] + 900,
                            "uid": c_uid.take(pa.array(https)),
                            "id.orig_h": take(self.addresses, src[p][https]),
                            "id.orig_p": c_port[https],
                            "id.resp_h": take(self.addresses, proxy[https]),
                            "id.resp_p": netmod.PROXY_PORT,
                            "trans_depth": 1,
                            "method": "CONNECT",
                            "host": host,
                            "uri": pc.binary_join_element_wise(host, ":443", ""),
                            "version": "1.1",
                            "user_agent": take(pa.array(_BROWSER_UAS), self.ua_of[src[p][https]]),
                            "request_body_len": 0,
                            "response_body_len": 0,
                            "status_code": status,
                            "status_msg": pa.array(
                                np.where(
                                    status == 200, "Connection established", "Service Unavailable"
                                )
                            ),
                            "tags": "(empty)",
                        },
                    )
                )
                ok_https = https[~failed[p][https]]
                self._ssl(
                    rng,
                    out,
                    pts,
                    c_uid,
                    src[p],
                    c_port,
                    proxy,
                    np.full(len(p), netmod.PROXY_PORT),
                    dom[p],
                    ok_https,
                )
            plain = np.flatnonzero(http[p])
            self._http(
                rng,
                out,
                pts,
                c_uid,
                src[p],
                c_port,
                proxy,
                np.full(len(p), netmod.PROXY_PORT),
                dom[p],
                src[p],
                rb[p],
                plain,
                absolute=True,
            )

    def _sizes(self, rng: np.random.Generator, n: int, kind: str) -> tuple[Arr, Arr, Arr]:
        if kind == "browse":
            ob = lognormal_int(rng, n, 1_100, 0.9, 200, 400_000)
            rb = lognormal_int(rng, n, 18_000, 1.7, 300, 40_000_000)
            dur = lognormal_int(rng, n, 1_500_000, 1.5, 8_000, 1_500 * MICROS)
            # Occasional uploads (attachments, shared documents): at most tens of MB.
            up = rng.random(n) < 0.01
            ob = np.where(up, lognormal_int(rng, n, 1_500_000, 1.0, 50_000, 25_000_000), ob)
        elif kind == "small":
            ob = lognormal_int(rng, n, 800, 0.6, 150, 40_000)
            rb = lognormal_int(rng, n, 2_500, 1.0, 200, 2_000_000)
            dur = lognormal_int(rng, n, 400_000, 1.2, 5_000, 300 * MICROS)
        elif kind == "update":
            ob = lognormal_int(rng, n, 4_000, 0.8, 500, 200_000)
            rb = lognormal_int(rng, n, 200_000, 2.0, 1_000, 400_000_000)
            dur = lognormal_int(rng, n, 5 * MICROS, 1.4, 50_000, 1_200 * MICROS)
        else:  # "internal": intranet pages, file shares, mailboxes
            ob = lognormal_int(rng, n, 2_000, 1.2, 200, 5_000_000)
            rb = lognormal_int(rng, n, 25_000, 1.8, 300, 80_000_000)
            dur = lognormal_int(rng, n, 2 * MICROS, 1.5, 3_000, 1_800 * MICROS)
        return ob, rb, dur

    def _ssl(
        self,
        rng: np.random.Generator,
        out: dict[str, list[pa.Table]],
        ts: Arr,
        uid: pa.Array,
        orig: Arr,
        orig_p: Arr,
        resp: Arr,
        resp_p: Arr,
        dom: Arr,
        rows: Arr,
    ) -> None:
        if len(rows) == 0:
            return
        n = len(rows)
        d = dom[rows]
        version, cipher, curve, alpn, fps, history, valid = (take(col, d) for col in self.dom_tls)
        resumed = rng.random(n) < 0.25
        tls13 = self.dom_tls13[d]
        # Zeek sees certificates only in a full TLS 1.2 handshake (1.3 encrypts them).
        seen_cert = pa.array(~tls13 & ~resumed)
        unset = pa.scalar(None, pa.string())
        table = build_table(
            "ssl",
            n,
            {
                "ts": ts[rows],
                "uid": uid.take(pa.array(rows)),
                "id.orig_h": take(self.addresses, orig[rows]),
                "id.orig_p": orig_p[rows],
                "id.resp_h": take(self.addresses, resp[rows]),
                "id.resp_p": resp_p[rows],
                "version": version,
                "cipher": cipher,
                "curve": curve,
                "server_name": take(self.dom_name, d),
                "resumed": resumed,
                "next_protocol": alpn,
                "established": True,
                "ssl_history": pc.if_else(pa.array(resumed & ~tls13), "CsiI", history),
                "cert_chain_fps": pc.if_else(seen_cert, fps, unset),
                "sni_matches_cert": pc.if_else(seen_cert, True, pa.scalar(None, pa.bool_())),
                "validation_status": pc.if_else(seen_cert, valid, unset),
            },
        )
        out.setdefault("ssl", []).append(table)

    def _http(
        self,
        rng: np.random.Generator,
        out: dict[str, list[pa.Table]],
        ts: Arr,
        uid: pa.Array,
        orig: Arr,
        orig_p: Arr,
        resp: Arr,
        resp_p: Arr,
        dom: Arr,
        client: Arr,
        resp_bytes: Arr,
        rows: Arr,
        proxied_for: Arr | None = None,
        absolute: bool = False,
    ) -> None:
        if len(rows) == 0:
            return
        n = len(rows)
        d = dom[rows]
        kind = self.dom_http_kind[d]
        method = np.empty(n, dtype=object)
        uri = np.empty(n, dtype=object)
        mime = np.empty(n, dtype=object)
        ua = take(pa.array(_BROWSER_UAS), self.ua_of[client[rows]]).to_numpy(zero_copy_only=False)
        ua = np.asarray(ua, dtype=object)
        for k, name in enumerate(_HTTP_KIND_NAMES):
            mask = kind == k
            if not mask.any():
                continue
            m, uris, mt, agent = _HTTP_KINDS[name]
            method[mask] = m
            uri[mask] = np.array(uris, dtype=object)[rng.integers(0, len(uris), int(mask.sum()))]
            mime[mask] = mt
            if agent is not None:
                ua[mask] = agent
        host = take(self.dom_name, d)
        if absolute:
            uri = np.char.add(
                np.char.add("http://", np.asarray(host.to_numpy(zero_copy_only=False), dtype=str)),
                uri.astype(str),
            ).astype(object)
        u = rng.random(n)
        status = np.where(u < 0.86, 200, np.where(u < 0.94, 304, np.where(u < 0.97, 302, 404)))
        status_msg = np.where(
            status == 200,
            "OK",
            np.where(status == 304, "Not Modified", np.where(status == 302, "Found", "Not Found")),
        )
        body = np.where(status == 200, np.maximum(resp_bytes[rows] - 320, 0), 0)
        has_body = body > 0
        fuids = new_ids(rng, n, prefix="F", length=16)
        request_len = np.where(method == "POST", rng.integers(80, 900, n), 0)
        proxied = None
        if proxied_for is not None:
            pf = proxied_for[rows]
            via = pf >= 0
            if via.any():
                proxied = text_where(via, "VIA -> 1.1 proxy (squid/5.7)")
        out.setdefault("http", []).append(
            build_table(
                "http",
                n,
                {
                    "ts": ts[rows] + rng.integers(2_000, 60_000, n),
                    "uid": uid.take(pa.array(rows)),
                    "id.orig_h": take(self.addresses, orig[rows]),
                    "id.orig_p": orig_p[rows],
                    "id.resp_h": take(self.addresses, resp[rows]),
                    "id.resp_p": resp_p[rows],
                    "trans_depth": 1,
                    "method": pa.array(method, pa.string()),
                    "host": host,
                    "uri": pa.array(uri, pa.string()),
                    "version": "1.1",
                    "user_agent": pa.array(ua, pa.string()),
                    "request_body_len": request_len,
                    "response_body_len": body,
                    "status_code": status,
                    "status_msg": pa.array(status_msg),
                    "tags": "(empty)",
                    "proxied": proxied,
                    "resp_fuids": text_where(has_body, fuids),
                    "resp_mime_types": text_where(has_body, pa.array(mime, pa.string())),
                },
            )
        )

    # ------------------------------------------------------------------ demand emitters
    def _emit_browse(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], src: Arr, ts: Arr
    ) -> None:
        dom = self.browse_pool[rng.choice(len(self.browse_pool), len(src), p=self.browse_p)]
        self.web(rng, out, src, ts, dom, "browse")

    def _emit_background(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], src: Arr, ts: Arr
    ) -> None:
        dom = self.bg_pool[rng.choice(len(self.bg_pool), len(src), p=self.bg_p)]
        self.web(rng, out, src, ts, dom, "small")

    def _internal_dom(self, src: Arr, label: str) -> Arr:
        table = np.array([self.internal_index[(op.index, label)] for op in self.network.operators])
        return np.asarray(table[self.op_of[src]])

    def _emit_intranet(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], src: Arr, ts: Arr
    ) -> None:
        n = len(src)
        pick = rng.random(n)
        web_dom = self._internal_dom(src, "intranet")
        fs_dom = self._internal_dom(src, "fs01")
        mail_dom = self._internal_dom(src, "mail")
        dom = np.where(pick < 0.5, web_dom, np.where(pick < 0.8, fs_dom, mail_dom))
        tls = dom != fs_dom
        t = np.flatnonzero(tls)
        self.web(rng, out, src[t], ts[t], dom[t], "internal", via_proxy=np.zeros(len(t), bool))
        s = np.flatnonzero(~tls)
        if len(s):
            lookup = rng.random(len(s)) < P_LOOKUP_INTERNAL
            li = s[lookup]
            delay = np.zeros(n, dtype=np.int64)
            delay[li] = self.lookups(rng, out, src[li], ts[li], dom[li], np.zeros(len(li), bool))
            ob, rb, dur = self._sizes(rng, len(s), "internal")
            state = np.where(rng.random(len(s)) < 0.01, REJ, SF)
            rej = state == REJ
            self._conn(
                rng,
                out,
                ts=ts[s] + delay[s] + 500,
                orig=src[s],
                orig_p=ephemeral_ports(rng, len(s)),
                resp=self.dom_first[dom[s]],
                resp_p=445,
                proto="tcp",
                service=text_where(~rej, "smb"),
                duration=np.where(rej, 400, dur),
                orig_bytes=np.where(rej, 0, ob),
                resp_bytes=np.where(rej, 0, rb),
                state=state,
            )

    def _emit_stale_lookups(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], src: Arr, ts: Arr
    ) -> None:
        # WPAD/ISATAP probing and names of decommissioned hosts: the NXDOMAINs of any network.
        n = len(src)
        labels = np.array(
            ["wpad", "isatap", "printer-3f", "oldfs02", "sccm01", "_ldap._tcp.dc._msdcs"]
        )
        domains = np.array([op.domain for op in self.network.operators])[self.op_of[src]]
        label = labels[rng.integers(0, len(labels), n)]
        query = np.char.add(np.char.add(label, "."), domains)
        qtype = np.where(np.char.startswith(label, "_ldap"), 33, 1)
        rcode = np.where(qtype == 33, 0, 3)
        answers = text_where(qtype == 33, pa.array(np.char.add("0 100 389 dc01.", domains)))
        resolver = self.resolver_of[src]
        port = ephemeral_ports(rng, n)
        rtt = rng.integers(300, 1_500, n)
        qlen = np.char.str_len(query) + 17
        uid = self._conn(
            rng,
            out,
            ts=ts,
            orig=src,
            orig_p=port,
            resp=resolver,
            resp_p=53,
            proto="udp",
            service="dns",
            duration=rtt,
            orig_bytes=qlen,
            resp_bytes=qlen + 40,
            state=SF,
        )
        out.setdefault("dns", []).append(
            dns_table(
                ts=ts,
                uid=uid,
                orig_h=take(self.addresses, src),
                orig_p=port,
                resp_h=take(self.addresses, resolver),
                trans_id=rng.integers(0, 65536, n),
                rtt=rtt,
                query=pa.array(query),
                qtype=qtype,
                rcode=rcode,
                answers=answers,
                ttls=text_where(qtype == 33, "600.000000"),
                aa=True,
            )
        )

    def _emit_public_web(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], ops: Arr, ts: Arr
    ) -> None:
        n = len(ops)
        clients = self.client_first + rng.integers(0, self.n_clients, n)
        dom = np.array([self.internal_index[(op.index, "www")] for op in self.network.operators])[
            ops
        ]
        server = self.dom_first[dom]
        ob, rb, dur = self._sizes(rng, n, "browse")
        ob = np.minimum(ob, 20_000)
        port = ephemeral_ports(rng, n)
        uid = self._conn(
            rng,
            out,
            ts=ts,
            orig=clients,
            orig_p=port,
            resp=server,
            resp_p=443,
            proto="tcp",
            service="ssl",
            duration=dur,
            orig_bytes=ob,
            resp_bytes=rb,
            state=SF,
        )
        self._ssl(rng, out, ts, uid, clients, port, server, np.full(n, 443), dom, np.arange(n))

    def _emit_mail_out(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], ops: Arr, ts: Arr
    ) -> None:
        n = len(ops)
        mail = np.array(
            [self.network.server(netmod.MAIL, op.index).index for op in self.network.operators]
        )[ops]
        dom = self.mx_pool[rng.integers(0, len(self.mx_pool), n)]
        lookup = rng.random(n) < P_LOOKUP
        li = np.flatnonzero(lookup)
        delay = np.zeros(n, dtype=np.int64)
        delay[li] = self.lookups(rng, out, mail[li], ts[li], dom[li], rng.random(len(li)) < P_MISS)
        ob = lognormal_int(rng, n, 30_000, 1.4, 1_500, 30_000_000)
        self._conn(
            rng,
            out,
            ts=ts + delay + 1_000,
            orig=mail,
            orig_p=ephemeral_ports(rng, n),
            resp=self.dom_first[dom],
            resp_p=25,
            proto="tcp",
            service="smtp",
            duration=lognormal_int(rng, n, 900_000, 0.8, 100_000, 120 * MICROS),
            orig_bytes=ob,
            resp_bytes=lognormal_int(rng, n, 900, 0.3, 400, 5_000),
            state=SF,
        )

    def _emit_mail_in(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], ops: Arr, ts: Arr
    ) -> None:
        n = len(ops)
        mail = np.array(
            [self.network.server(netmod.MAIL, op.index).index for op in self.network.operators]
        )[ops]
        sender = self.dom_first[self.mx_pool[rng.integers(0, len(self.mx_pool), n)]]
        self._conn(
            rng,
            out,
            ts=ts,
            orig=sender,
            orig_p=ephemeral_ports(rng, n),
            resp=mail,
            resp_p=25,
            proto="tcp",
            service="smtp",
            duration=lognormal_int(rng, n, 1_200_000, 0.8, 100_000, 120 * MICROS),
            orig_bytes=lognormal_int(rng, n, 40_000, 1.4, 1_500, 30_000_000),
            resp_bytes=lognormal_int(rng, n, 900, 0.3, 400, 5_000),
            state=SF,
        )

    def _emit_wsus_check(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], src: Arr, ts: Arr
    ) -> None:
        self.web(
            rng,
            out,
            src,
            ts,
            self._internal_dom(src, "wsus"),
            "small",
            via_proxy=np.zeros(len(src), bool),
        )

    def _emit_wsus_sync(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], src: Arr, ts: Arr
    ) -> None:
        dom = self.update_pool[rng.integers(0, len(self.update_pool), len(src))]
        self.web(rng, out, src, ts, dom, "update", via_proxy=np.zeros(len(src), bool))

    def _emit_apt(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], src: Arr, ts: Arr
    ) -> None:
        dom = self.apt_pool[rng.integers(0, len(self.apt_pool), len(src))]
        self.web(rng, out, src, ts, dom, "update", via_proxy=np.zeros(len(src), bool))

    def _ssh(
        self,
        rng: np.random.Generator,
        out: dict[str, list[pa.Table]],
        ts: Arr,
        client: Arr,
        server: Arr,
        clients_sw: tuple[str, ...],
        direction: str | None,
    ) -> None:
        n = len(ts)
        port = ephemeral_ports(rng, n)
        if direction is None:
            # Administrators: interactive sessions, minutes to a few hours, inside the network.
            duration = lognormal_int(rng, n, 240 * MICROS, 1.2, 5 * MICROS, 3 * HOUR_US)
            sent = lognormal_int(rng, n, 30_000, 1.3, 3_000, 50_000_000)
            received = lognormal_int(rng, n, 150_000, 1.5, 4_000, 200_000_000)
        else:
            # Partners drop files on the SFTP server; kept short and small so that no benign
            # Internet session looks like a long connection or an exfiltration.
            duration = lognormal_int(rng, n, 40 * MICROS, 1.0, 3 * MICROS, 1_500 * MICROS)
            sent = lognormal_int(rng, n, 1_500_000, 1.2, 5_000, 25_000_000)
            received = lognormal_int(rng, n, 40_000, 1.0, 4_000, 5_000_000)
        uid = self._conn(
            rng,
            out,
            ts=ts,
            orig=client,
            orig_p=port,
            resp=server,
            resp_p=22,
            proto="tcp",
            service="ssh",
            duration=duration,
            orig_bytes=sent,
            resp_bytes=received,
            state=SF,
        )
        out.setdefault("ssh", []).append(
            build_table(
                "ssh",
                n,
                {
                    "ts": ts + rng.integers(1_000, 30_000, n),
                    "uid": uid,
                    "id.orig_h": take(self.addresses, client),
                    "id.orig_p": port,
                    "id.resp_h": take(self.addresses, server),
                    "id.resp_p": 22,
                    "version": 2,
                    "auth_success": True,
                    "auth_attempts": 1 + (rng.random(n) < 0.1).astype(np.int64),
                    "direction": direction,
                    "client": pa.array(np.array(clients_sw)[rng.integers(0, len(clients_sw), n)]),
                    "server": SSH_SERVER,
                    **SSH_ALGOS,
                    "host_key": take(self.host_keys, server),
                },
            )
        )

    def _emit_ssh_admin(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], ops: Arr, ts: Arr
    ) -> None:
        n = len(ops)
        jump = np.array(
            [self.network.server(netmod.JUMP, op.index).index for op in self.network.operators]
        )[ops]
        # Half the sessions: an administrator reaches the jump host; the other half: the jump
        # host reaches a server.
        to_jump = rng.random(n) < 0.5
        server = _pick(rng, self.ssh_targets, ops)
        admin = _pick(rng, self.ssh_admins, ops)
        client = np.where(to_jump, admin, jump)
        server = np.where(to_jump, jump, server)
        self._ssh(rng, out, ts, client, server, _SSH_CLIENTS, None)

    def _emit_ssh_partner(
        self, rng: np.random.Generator, out: dict[str, list[pa.Table]], ops: Arr, ts: Arr
    ) -> None:
        # Each operator has two partners that log in to its SFTP server with a key.
        partner = self.client_first + 2 * ops + rng.integers(0, 2, len(ops))
        sftp = np.array(
            [self.network.server(netmod.SFTP, op.index).index for op in self.network.operators]
        )[ops]
        self._ssh(rng, out, ts, partner, sftp, _SSH_PARTNER_CLIENTS, "INBOUND")

    # ------------------------------------------------------------------ clockwork emitters
    def _emit_ntp(self, rng: np.random.Generator, out: Rows, start_us: int, end_us: int) -> None:
        which, times = _ticks(self.ntp_phase, self.ntp_interval, start_us, end_us)
        n = len(which)
        if n == 0:
            return
        ts = times + rng.integers(0, 2_000, n)
        self._conn(
            rng,
            out.tables,
            ts=ts,
            orig=self.ntp_src[which],
            orig_p=np.full(n, 123),
            resp=self.ntp_dst[which],
            resp_p=123,
            proto="udp",
            service="ntp",
            duration=rng.integers(300, 3_000, n),
            orig_bytes=np.full(n, 48),
            resp_bytes=np.full(n, 48),
            state=SF,
        )

    def _emit_ics(self, rng: np.random.Generator, out: Rows, start_us: int, end_us: int) -> None:
        # Sessions that start in this slice: one conn row each, whose size counts its polls.
        pair, begin = _ticks(self.ics_phase, self.ics_session, start_us, end_us)
        midstream = np.zeros(len(pair), dtype=bool)
        if start_us == self.window_start_us:
            # Sessions already open when the sensor starts: Zeek logs them from their first
            # packet it sees, without a handshake (state OTH).
            running = np.flatnonzero((start_us - self.ics_phase) % self.ics_session > 0)
            pair = np.concatenate([running, pair])
            begin = np.concatenate([np.full(len(running), start_us), begin])
            midstream = np.concatenate([np.ones(len(running), dtype=bool), midstream])
        if len(pair):
            session_no = (begin - self.ics_phase[pair]) // self.ics_session[pair]
            key = hash_keys(self.seed, pair, session_no)
            port = 49152 + (hash_keys(key, 7) % np.uint64(16384)).astype(np.int64)
            session_end = self.ics_phase[pair] + (session_no + 1) * self.ics_session[pair]
            length = session_end - 500_000 - begin
            polls = length // self.ics_interval[pair]
            dnp3 = self.ics_dnp3[pair]
            self._conn(
                rng,
                out.tables,
                ts=begin,
                uid=ids_from_keys(key),
                orig=self.ics_master[pair],
                orig_p=port,
                resp=self.ics_out[pair],
                resp_p=np.where(dnp3, netmod.DNP3_PORT, netmod.MODBUS_PORT),
                proto="tcp",
                service=pa.array(np.where(dnp3, "dnp3_tcp", "modbus")),
                duration=length,
                orig_bytes=polls * np.where(dnp3, 20, 12),
                resp_bytes=polls * np.where(dnp3, 64, 29),
                state=np.where(midstream, OTH, SF),
                history=pa.array(np.where(midstream, "DdAaFf", "ShADadFf")),
                orig_pkts=2 * polls + 4,
                resp_pkts=polls + 3,
            )
        # Polls in this slice, labelled with the uid of the session they belong to.
        pair, at = _ticks(self.ics_phase, self.ics_interval, start_us, end_us)
        if len(pair) == 0:
            return
        session_no = (at - self.ics_phase[pair]) // self.ics_session[pair]
        key = hash_keys(self.seed, pair, session_no)
        uid = ids_from_keys(key)
        port = 49152 + (hash_keys(key, 7) % np.uint64(16384)).astype(np.int64)
        ts = at + rng.integers(1_000, 6_000, len(pair))
        poll_no = (at - self.ics_phase[pair]) // self.ics_interval[pair]
        # Masters sometimes write a setpoint: legitimate control, from a legitimate master.
        office = OFFICE.at(np.array([start_us]))[0]
        write = rng.random(len(pair)) < 0.0004 * office
        for is_dnp3, log in ((False, "modbus"), (True, "dnp3")):
            rows = np.flatnonzero(self.ics_dnp3[pair] == is_dnp3)
            if len(rows) == 0:
                continue
            r = pa.array(rows)
            columns: dict[str, Any] = {
                "ts": ts[rows],
                "uid": uid.take(r),
                "id.orig_h": take(self.addresses, self.ics_master[pair[rows]]),
                "id.orig_p": port[rows],
                "id.resp_h": take(self.addresses, self.ics_out[pair[rows]]),
                "id.resp_p": netmod.DNP3_PORT if is_dnp3 else netmod.MODBUS_PORT,
            }
            if is_dnp3:
                columns["fc_request"] = pa.array(np.where(write[rows], "DIRECT_OPERATE", "READ"))
                columns["fc_reply"] = "RESPONSE"
                iin = np.where(rng.random(len(rows)) < 0.05, 256, 0)
                columns["iin"] = iin
            else:
                funcs = np.array(_MODBUS_READS)[(poll_no[rows] + pair[rows]) % 3]
                columns["func"] = pa.array(np.where(write[rows], "WRITE_SINGLE_REGISTER", funcs))
                exc = rng.random(len(rows)) < 0.0005
                columns["exception"] = text_where(exc, "ILLEGAL_DATA_ADDRESS")
            out.add(log, build_table(log, len(rows), columns))


def _pick(rng: np.random.Generator, groups: list[Arr], which: Arr) -> Arr:
    """One random member of ``groups[w]`` for each ``w`` in ``which`` (vectorised)."""
    sizes = np.array([len(g) for g in groups])
    starts = np.cumsum(sizes) - sizes
    flat = np.concatenate(groups)
    return np.asarray(
        flat[starts[which] + (rng.random(len(which)) * sizes[which]).astype(np.int64)]
    )


def _steps(start_us: int, end_us: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut at multiples of RATE_STEP_US."""
    cuts = list(range(start_us - start_us % RATE_STEP_US + RATE_STEP_US, end_us, RATE_STEP_US))
    bounds = [start_us, *cuts, end_us]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _ticks(phase: Arr, interval: Arr, start_us: int, end_us: int) -> tuple[Arr, Arr]:
    """Every ``phase[i] + k * interval[i]`` in ``[start_us, end_us)``: (i, time) arrays."""
    first = -((phase - start_us) // interval)  # ceil((start - phase) / interval)
    last = -((phase - end_us) // interval)
    counts = np.maximum(last - first, 0)
    which = np.repeat(np.arange(len(phase)), counts)
    if len(which) == 0:
        return which, np.zeros(0, dtype=np.int64)
    offsets = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
    k = first[which] + offsets
    return which, phase[which] + k * interval[which]


def _count_ticks(phase: Arr, interval: Arr, start_us: int, end_us: int) -> Arr:
    first = -((phase - start_us) // interval)
    last = -((phase - end_us) // interval)
    return np.asarray(np.maximum(last - first, 0))
