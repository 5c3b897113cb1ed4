"""The simulated topology: operators, their sites, subnets, hosts and ICS polling relations.

Each operator gets its own ``10.<20+i>.0.0/16`` (RFC 1918) with a fixed plan, so that an
address alone says which operator and which segment a host is in:

====================  ==========================================================
``10.B.0.0/24``       DMZ: public web server, exposed SFTP/SSH server, mail relay
``10.B.1.0/24``       servers: DNS resolver + NTP (domain controller), intranet,
                      file server, web proxy, WSUS, jump host
``10.B.16.0/20``      office workstations
``10.B.100.0/24``     ICS control centre: SCADA master, HMI
``10.B.101-102.0/24`` ICS field sites: PLCs and RTUs (outstations)
====================  ==========================================================
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import numpy as np

from signalfire.errors import ConfigError

SECTORS: tuple[str, ...] = ("energy", "water", "finance", "telecom", "transport")

# (display name, short name used in host names and DNS domains, field-site names)
_OPERATOR_STYLE: dict[str, tuple[str, str, tuple[str, str]]] = {
    "energy": ("Northgrid Energy", "northgrid", ("Substation Kelso", "Substation Marsh Lane")),
    "water": ("Riverside Water", "riverside", ("Treatment Works Elm", "Pumping Station 4")),
    "finance": ("Harbourside Bank", "harbourside", ("Data Centre East", "Branch Plant Room")),
    "telecom": ("Meridian Telecom", "meridian", ("Exchange Central", "Exchange North")),
    "transport": ("Eastline Rail", "eastline", ("Signal Centre York", "Traction Substation 2")),
}

MAX_OPERATORS = 100
MIN_HOSTS = 20
MAX_HOSTS = 4000

# Roles; the values are written to network.json.
WORKSTATION = "workstation"
DNS = "dns_resolver"
MAIL = "mail_server"
WEB = "web_server"
SFTP = "sftp_server"
INTRANET = "intranet_server"
FILE = "file_server"
PROXY = "web_proxy"
WSUS = "update_server"
JUMP = "jump_host"
SCADA = "scada_master"
HMI = "hmi"
PLC = "plc"
RTU = "rtu"

_SERVERS: tuple[tuple[str, str, str, str], ...] = (
    # role, host name stem, address, operating system
    (WEB, "www", "0.10", "Ubuntu 22.04 LTS"),
    (SFTP, "sftp", "0.20", "Ubuntu 22.04 LTS"),
    (MAIL, "mx", "0.25", "Ubuntu 22.04 LTS"),
    (DNS, "dc01", "1.10", "Windows Server 2022"),
    (INTRANET, "intranet", "1.20", "Windows Server 2022"),
    (FILE, "fs01", "1.30", "Windows Server 2022"),
    (PROXY, "proxy", "1.40", "Ubuntu 22.04 LTS"),
    (WSUS, "wsus", "1.50", "Windows Server 2022"),
    (JUMP, "jump01", "1.60", "Ubuntu 22.04 LTS"),
)

PROXY_PORT = 3128
MODBUS_PORT = 502
DNP3_PORT = 20000

_ICS_MODELS = {
    PLC: ("Schneider Electric Modicon M580", "Siemens S7-1500", "Rockwell ControlLogix 5580"),
    RTU: ("SEL-3530 RTAC", "GE D20MX", "ABB RTU560"),
}


@dataclass(frozen=True)
class Host:
    """One host of the simulated network (a row of network.json's ``hosts``)."""

    index: int
    ip: str
    hostname: str
    fqdn: str
    role: str
    operator: int
    site: str
    ics: bool
    os: str


@dataclass(frozen=True)
class Operator:
    """One critical-infrastructure operator."""

    index: int
    name: str
    short: str
    sector: str
    domain: str
    public_domain: str
    octet: int
    sites: tuple[str, ...]
    explicit_proxy: bool

    def subnets(self) -> list[dict[str, str]]:
        """The operator's subnets with their purpose and site."""
        b = f"10.{self.octet}"
        return [
            {"cidr": f"{b}.0.0/24", "purpose": "dmz", "site": self.sites[0]},
            {"cidr": f"{b}.1.0/24", "purpose": "servers", "site": self.sites[0]},
            {"cidr": f"{b}.16.0/20", "purpose": "office", "site": self.sites[0]},
            {"cidr": f"{b}.100.0/24", "purpose": "ics_control", "site": self.sites[1]},
            {"cidr": f"{b}.101.0/24", "purpose": "ics_field", "site": self.sites[2]},
            {"cidr": f"{b}.102.0/24", "purpose": "ics_field", "site": self.sites[3]},
        ]


@dataclass(frozen=True)
class IcsPair:
    """A master that polls an outstation: the benign ICS relation."""

    master: int
    outstation: int
    protocol: str  # "modbus" or "dnp3"
    poll_interval: float  # seconds between polls, fixed per pair (real masters poll on a clock)
    session_length: float  # seconds a TCP session lasts before the master reconnects
    phase: float  # offset of the polling clock, seconds


@dataclass(frozen=True)
class Network:
    """The whole simulated topology."""

    operators: tuple[Operator, ...]
    hosts: tuple[Host, ...]
    ics_pairs: tuple[IcsPair, ...]

    def role_hosts(self, role: str, operator: int | None = None) -> list[Host]:
        """Hosts of one role, optionally of one operator, in address order."""
        return [
            h for h in self.hosts if h.role == role and (operator is None or h.operator == operator)
        ]

    def server(self, role: str, operator: int) -> Host:
        """The single server of ``role`` at ``operator``."""
        return self.role_hosts(role, operator)[0]

    @property
    def ips(self) -> list[str]:
        """Host addresses by host index."""
        return [h.ip for h in self.hosts]

    def roles(self) -> np.ndarray[Any, np.dtype[Any]]:
        """Host roles by host index."""
        return np.array([h.role for h in self.hosts])

    def to_document(self) -> dict[str, Any]:
        """The content of network.json (the asset inventory a later stage imports)."""
        by_index = self.hosts
        return {
            "operators": [
                {
                    "id": f"op{op.index + 1}",
                    "name": op.name,
                    "sector": op.sector,
                    "internal_domain": op.domain,
                    "public_domain": op.public_domain,
                    "sites": list(op.sites),
                    "subnets": op.subnets(),
                    "dns_resolvers": [self.server(DNS, op.index).ip],
                    "ntp_servers": [self.server(DNS, op.index).ip],
                    "proxy": {
                        "ip": self.server(PROXY, op.index).ip,
                        "port": PROXY_PORT,
                        "explicit": op.explicit_proxy,
                    },
                }
                for op in self.operators
            ],
            "hosts": [
                {
                    "ip": h.ip,
                    "hostname": h.hostname,
                    "fqdn": h.fqdn,
                    "role": h.role,
                    "operator": self.operators[h.operator].name,
                    "site": h.site,
                    "ics": h.ics,
                    "os": h.os,
                }
                for h in self.hosts
            ],
            "dns_resolvers": [h.ip for h in self.hosts if h.role == DNS],
            "proxies": [
                {"ip": h.ip, "port": PROXY_PORT, "operator": self.operators[h.operator].name}
                for h in self.hosts
                if h.role == PROXY
            ],
            "ics": {
                "masters": [h.ip for h in self.hosts if h.role in (SCADA, HMI)],
                "outstations": [h.ip for h in self.hosts if h.role in (PLC, RTU)],
                "polling": [
                    {
                        "master": by_index[p.master].ip,
                        "outstation": by_index[p.outstation].ip,
                        "protocol": p.protocol,
                        "port": MODBUS_PORT if p.protocol == "modbus" else DNP3_PORT,
                        "poll_interval_s": p.poll_interval,
                    }
                    for p in self.ics_pairs
                ],
            },
        }


def _check(operators: int, hosts_per_operator: int) -> None:
    if not 1 <= operators <= MAX_OPERATORS:
        raise ConfigError(
            f"operators must be between 1 and {MAX_OPERATORS} (got {operators}): "
            "pass a value in that range to --operators"
        )
    if not MIN_HOSTS <= hosts_per_operator <= MAX_HOSTS:
        raise ConfigError(
            f"hosts per operator must be between {MIN_HOSTS} and {MAX_HOSTS} "
            f"(got {hosts_per_operator}): the fixed servers and ICS devices need {MIN_HOSTS}; "
            "pass a value in that range to --hosts"
        )


def build_network(operators: int, hosts_per_operator: int, rng: np.random.Generator) -> Network:
    """Build the topology.

    Args:
        operators: number of operators; sectors cycle through ``SECTORS``.
        hosts_per_operator: hosts of each operator (servers, ICS devices and workstations).
        rng: the topology's random generator (host details, polling clocks).

    Raises:
        ConfigError: a count is out of range.
    """
    _check(operators, hosts_per_operator)
    ops: list[Operator] = []
    hosts: list[Host] = []
    pairs: list[IcsPair] = []
    for i in range(operators):
        sector = SECTORS[i % len(SECTORS)]
        display, short, field_sites = _OPERATOR_STYLE[sector]
        round_ = i // len(SECTORS)
        if round_:
            display, short = f"{display} {round_ + 1}", f"{short}{round_ + 1}"
        op = Operator(
            index=i,
            name=display,
            short=short,
            sector=sector,
            domain=f"{short}.internal",
            public_domain=f"{short}-{sector}.example",
            octet=20 + i,
            sites=("Head Office", "Control Centre", *field_sites),
            # Finance and transport send web traffic through an explicit proxy, the others
            # browse directly: detections must handle both.
            explicit_proxy=sector in ("finance", "transport"),
        )
        ops.append(op)
        _add_operator_hosts(op, hosts_per_operator, hosts, pairs, rng)
    return Network(tuple(ops), tuple(hosts), tuple(pairs))


def _add_operator_hosts(
    op: Operator,
    count: int,
    hosts: list[Host],
    pairs: list[IcsPair],
    rng: np.random.Generator,
) -> None:
    base = f"10.{op.octet}"
    prefix = op.short[:3].upper()

    def add(role: str, ip: str, name: str, site: str, ics: bool, os_name: str) -> Host:
        host = Host(len(hosts), ip, name, f"{name}.{op.domain}", role, op.index, site, ics, os_name)
        hosts.append(host)
        return host

    for role, stem, suffix, os_name in _SERVERS:
        add(role, f"{base}.{suffix}", stem, op.sites[0], False, os_name)
    scada = add(SCADA, f"{base}.100.10", "scada01", op.sites[1], True, "Windows Server 2019")
    hmi = add(HMI, f"{base}.100.20", "hmi01", op.sites[1], True, "Windows 10 IoT Enterprise")

    heavy_ics = op.sector in ("energy", "water")
    n_out = max(2, count // 8 if heavy_ics else count // 20)
    n_out = min(n_out, 200, count - len(_SERVERS) - 2 - 4)
    dnp3_share = {"energy": 0.5, "water": 0.3}.get(op.sector, 0.0)
    for k in range(n_out):
        site_no = k % 2
        is_rtu = rng.random() < dnp3_share
        role = RTU if is_rtu else PLC
        model = _ICS_MODELS[role][int(rng.integers(len(_ICS_MODELS[role])))]
        ip = f"{base}.{101 + site_no}.{10 + k // 2}"
        out = add(role, ip, f"{role}{k + 1:02d}", op.sites[2 + site_no], True, model)
        masters = [scada] if k % 3 else [scada, hmi]
        for master in masters:
            pairs.append(
                IcsPair(
                    master=master.index,
                    outstation=out.index,
                    protocol="dnp3" if is_rtu else "modbus",
                    poll_interval=float(rng.choice([5.0, 8.0, 10.0, 15.0])),
                    session_length=float(rng.integers(15, 61) * 60),
                    phase=float(rng.uniform(0, 60)),
                )
            )

    n_ws = count - len(_SERVERS) - 2 - n_out
    office = ipaddress.ip_network(f"{base}.16.0/20")
    addresses = (a for a in office.hosts() if int(a) % 256 not in (0, 255) and int(a) % 256 >= 10)
    os_choices = ("Windows 11 Enterprise", "Windows 10 Enterprise")
    for k in range(n_ws):
        os_name = os_choices[int(rng.random() < 0.3)]
        add(
            WORKSTATION,
            str(next(addresses)),
            f"{prefix}-WS{k + 1:04d}",
            op.sites[0],
            False,
            os_name,
        )
