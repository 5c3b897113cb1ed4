"""The engine-side address and name arithmetic of the matching, checked against Python's
ipaddress on generated addresses (the expressions run on DuckDB here; the cross-engine test
runs them on Spark)."""

from __future__ import annotations

import ipaddress

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.intel.observables import (
    ipv4_number,
    ipv6_prefix_key,
    parent_domains,
    with_ipv6_hex,
)

_con = ibis.duckdb.connect()


def _column(values: list[str], build: object) -> list[object]:
    t = ibis.memtable({"v": values})
    out = build(t)  # type: ignore[operator]
    return list(_con.execute(out)["out"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.ip_addresses(v=6), min_size=1, max_size=30))
def test_ipv6_hex_is_the_exploded_address(addresses: list[ipaddress.IPv6Address]) -> None:
    texts = [str(a) for a in addresses]  # compressed, as Zeek writes them
    got = _column(texts, lambda t: with_ipv6_hex(t, "v", "out"))
    assert got == [a.exploded.replace(":", "") for a in addresses]


def test_ipv6_hex_refuses_what_is_not_a_plain_ipv6_address() -> None:
    got = _column(
        ["10.0.0.1", "example.com", "1:2:3", "::ffff:10.0.0.1", ""],
        lambda t: with_ipv6_hex(t, "v", "out"),
    )
    assert all(g is None or g != g for g in got)  # null (NaN in pandas)


@settings(max_examples=40, deadline=None)
@given(st.ip_addresses(v=6), st.ip_addresses(v=6), st.integers(min_value=1, max_value=128))
def test_ipv6_prefix_keys_agree_exactly_when_inside_the_network(
    address: ipaddress.IPv6Address, other: ipaddress.IPv6Address, length: int
) -> None:
    network = ipaddress.IPv6Network(f"{other}/{length}", strict=False)

    def key(t: ibis.Table) -> ibis.Table:
        t = with_ipv6_hex(t, "v", "hex32")
        return t.select(out=ipv6_prefix_key(t.hex32, ibis.literal(length)))

    inside, net = _column([str(address), str(network.network_address)], key)
    assert (inside == net) == (address in network)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.ip_addresses(v=4), min_size=1, max_size=30))
def test_ipv4_number(addresses: list[ipaddress.IPv4Address]) -> None:
    got = _column([str(a) for a in addresses], lambda t: t.select(out=ipv4_number(t.v)))
    assert got == [int(a) for a in addresses]


def test_parent_domains() -> None:
    got = _column(
        ["a.b.evil.com", "evil.com", "localhost", "x.co.uk"],
        lambda t: t.select(out=parent_domains(t.v)),
    )
    assert [list(g) for g in got] == [
        ["a.b.evil.com", "b.evil.com", "evil.com"],
        ["evil.com"],
        ["localhost"],
        ["x.co.uk", "co.uk"],
    ]
