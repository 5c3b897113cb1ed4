"""The internal-network test in the engine agrees with Python's ipaddress."""

from __future__ import annotations

import ipaddress

import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from signalfire.detections.network_zones import is_internal, parse_networks

NETWORKS = parse_networks(
    [
        "10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7,198.51.100.128/25,203.0.113.7/32,"
        "100.64.0.0/10,2001:db8:ab00::/40"
    ]
)


def _truth(text: str | None) -> bool:
    try:
        address = ipaddress.ip_address(text or "")
    except ValueError:
        return False
    return any(address in n for n in NETWORKS if n.version == address.version)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.ip_addresses().map(str)
        | st.sampled_from(["172.31.0.9", "100.127.1.1", "198.51.100.200", "fd12::1", "x", ""]),
        min_size=1,
        max_size=40,
    )
)
def test_is_internal_matches_ipaddress(addresses: list[str]) -> None:
    table = ibis.memtable({"ip": addresses})
    got = ibis.duckdb.connect().execute(table.mutate(i=is_internal(table.ip, NETWORKS)))["i"]
    assert got.tolist() == [_truth(a) for a in addresses]
