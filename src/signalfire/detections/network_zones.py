"""Which addresses are internal: a setting (default RFC 1918 + ULA), applied as columns.

The runner adds ``source_internal`` and ``destination_internal`` to every input table that has
the address columns, so detections stay pure and look at pairs in every direction.
IPv4 networks of any prefix length are tested by octet-aligned textual prefixes (plus the last
octet as a number past /24); IPv6 networks by textual prefix, which is exact for prefix lengths
that are multiples of 4 (fc00::/7, whose halves fc and fd are listed, and fe80::/10 are special
cases).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

import ibis.expr.types as ir

from signalfire.errors import ConfigError

DEFAULT_INTERNAL = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


def parse_networks(
    texts: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse CIDRs (comma-separated items allowed).

    Raises:
        ConfigError: an item is not a network.
    """
    out = []
    for text in texts:
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                out.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ConfigError(
                    f"{item!r} is not a network in CIDR notation (e.g. 10.0.0.0/8): {exc}"
                ) from exc
    if not out:
        raise ConfigError("no internal network given: pass at least one CIDR")
    return tuple(out)


def _ipv4_tests(ip: ir.StringValue, network: ipaddress.IPv4Network) -> list[ir.BooleanValue]:
    """Textual prefix tests (octet-aligned), the last octet compared as a number when the prefix
    length is over 24 and not a multiple of 8. Prefix tests are portable (Spark's split() takes
    a regex, DuckDB's a literal) and an order of magnitude faster than parsing every address."""
    p = network.prefixlen
    if p == 0:
        return [ip.re_search(r"^\d+\.\d+\.\d+\.\d+$")]
    if p == 32:
        return [ip == str(network.network_address)]
    if p > 24:
        octets = str(network.network_address).split(".")
        last = ip.re_extract(r"\.(\d+)$", 1).try_cast("int64")
        low = int(octets[3])
        return [
            ip.startswith(".".join(octets[:3]) + ".") & last.between(low, low + 2 ** (32 - p) - 1)
        ]
    aligned = -(-p // 8) * 8
    return [
        ip.startswith(".".join(str(sub.network_address).split(".")[: aligned // 8]) + ".")
        for sub in network.subnets(new_prefix=aligned)
    ]


def _ipv6_prefixes(network: ipaddress.IPv6Network) -> list[str]:
    if network.prefixlen == 7 and str(network.network_address) == "fc00::":
        return ["fc", "fd"]
    if network.prefixlen == 10 and str(network.network_address) == "fe80::":
        return ["fe8", "fe9", "fea", "feb"]
    digits = network.network_address.exploded.replace(":", "")[: max(1, network.prefixlen // 4)]
    groups = [digits[i : i + 4].lstrip("0") or "0" for i in range(0, len(digits), 4)]
    return [":".join(groups)]


def is_internal(
    ip: ir.StringValue, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> ir.BooleanValue:
    """A boolean expression: the address is in one of the networks."""
    tests: list[ir.BooleanValue] = []
    for network in networks:
        if isinstance(network, ipaddress.IPv4Network):
            tests.extend(_ipv4_tests(ip, network))
        else:
            lowered = ip.lower()
            tests.extend(lowered.startswith(p) for p in _ipv6_prefixes(network))
    result = tests[0]
    for test in tests[1:]:
        result = result | test
    return ip.notnull() & result.fill_null(False)


def with_zones(
    table: ir.Table, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> ir.Table:
    """The table with ``source_internal``/``destination_internal`` when it has the addresses."""
    columns = {}
    if "source_ip" in table.columns:
        columns["source_internal"] = is_internal(table.source_ip, networks)
    if "destination_ip" in table.columns:
        columns["destination_internal"] = is_internal(table.destination_ip, networks)
    return table.mutate(**columns) if columns else table
