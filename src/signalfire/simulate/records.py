"""Builders of Zeek records, shared by the benign traffic and the injected attacks.

Each builder takes column arrays (one value per row) and derives the fields a real Zeek would
fill consistently: packet counts and IP bytes from payload bytes, ``local_orig`` /
``local_resp`` from the addresses, the fixed DNS flags, and so on. Everything is vectorised.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from signalfire.simulate.zeek_writer import build_table

# NumPy arrays are typed loosely: their dtypes change through arithmetic in ways mypy can't follow.
Arr = np.ndarray[Any, Any]
IntArray = np.ndarray[Any, Any]
FloatArray = np.ndarray[Any, Any]
BoolArray = np.ndarray[Any, Any]

_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
_BYTE_TO_BASE62 = _BASE62[np.arange(256) % 62]


def new_ids(rng: np.random.Generator, n: int, prefix: str = "C", length: int = 17) -> pa.Array:
    """Random Zeek-style identifiers: ``C`` + 17 base62 characters for connection uids.

    Zeek draws its uids from a random 96-bit number; 17 base62 characters carry 101 bits, so
    collisions among 10^8 rows are out of reach (about 10^-14).
    """
    width = 1 + length
    buf = np.empty((n, width), dtype=np.uint8)
    buf[:, 0] = ord(prefix)
    # Random bytes folded onto base62 (a slight bias towards the first 8 characters is
    # harmless for identifiers) is several times faster than drawing bounded integers.
    raw = np.frombuffer(rng.bytes(n * length), dtype=np.uint8).reshape(n, length)
    buf[:, 1:] = _BYTE_TO_BASE62[raw]
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), n, [None, pa.py_buffer(buf)])
    return fixed.cast(pa.binary()).cast(pa.string())


def ids_from_keys(keys: np.ndarray[Any, np.dtype[np.uint64]], prefix: str = "C") -> pa.Array:
    """Deterministic uids from 64-bit keys (a hash), for records generated in several pieces.

    An ICS polling session lasts longer than a time slice; every slice must name it with the
    same uid without remembering it, so the uid is a hash of (seed, pair, session number).
    """
    n = len(keys)
    h1 = _splitmix64(keys)
    h2 = _splitmix64(h1 ^ np.uint64(0x9E3779B97F4A7C15))
    buf = np.empty((n, 18), dtype=np.uint8)
    buf[:, 0] = ord(prefix)
    for i, h in enumerate((h1, h2)):
        for j in range(8 if i == 0 else 9):
            h, digit = np.divmod(h, np.uint64(62))
            buf[:, 1 + i * 8 + j] = _BASE62[digit.astype(np.intp)]
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(18), n, [None, pa.py_buffer(buf)])
    return fixed.cast(pa.binary()).cast(pa.string())


def _splitmix64(x: np.ndarray[Any, np.dtype[np.uint64]]) -> np.ndarray[Any, np.dtype[np.uint64]]:
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_keys(*parts: IntArray | int) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """Mix integers (arrays broadcast) into one 64-bit key per row."""
    key = np.zeros(1, dtype=np.uint64)
    for part in parts:
        key = _splitmix64(key ^ np.asarray(part).astype(np.uint64))
    return key


def ephemeral_ports(rng: np.random.Generator, n: int) -> IntArray:
    """Client source ports from the IANA dynamic range, as Windows and modern Linux use."""
    return rng.integers(49152, 65536, size=n, dtype=np.int64)


def lognormal_int(
    rng: np.random.Generator, n: int, median: float, sigma: float, low: int, high: int
) -> IntArray:
    """Heavy-tailed integers: a log-normal around ``median`` clipped to ``[low, high]``."""
    values = rng.lognormal(np.log(median), sigma, size=n)
    return np.clip(values, low, high).astype(np.int64)


# Connection states, as integer codes so that choosing them stays vectorised.
CONN_STATES: tuple[str, ...] = ("SF", "RSTO", "RSTR", "S0", "REJ", "S1", "SH", "OTH")
SF, RSTO, RSTR, S0, REJ, S1, SH, OTH = range(len(CONN_STATES))

# The TCP ``history`` strings Zeek writes for each state, with their weights.
_TCP_HISTORY: dict[int, tuple[tuple[str, float], ...]] = {
    SF: (("ShADadFf", 0.72), ("ShADadfF", 0.18), ("ShADdaFf", 0.10)),
    RSTO: (("ShADadR", 0.8), ("ShR", 0.2)),
    RSTR: (("ShADadr", 1.0),),
    S0: (("S", 1.0),),
    REJ: (("Sr", 1.0),),
    S1: (("ShAD", 1.0),),
    SH: (("ShAF", 1.0),),
    OTH: (("C", 1.0),),
}
_HISTORY_TEXT = pa.array([h for opts in _TCP_HISTORY.values() for h, _ in opts])
_HISTORY_FIRST = np.cumsum([0] + [len(o) for o in _TCP_HISTORY.values()])[:-1]


def tcp_history(rng: np.random.Generator, states: IntArray) -> pa.Array:
    """A plausible TCP ``history`` for each connection state code."""
    index = np.zeros(len(states), dtype=np.int64)
    for pos, (state, options) in enumerate(_TCP_HISTORY.items()):
        mask = states == state
        count = int(mask.sum())
        if count:
            weights = np.array([w for _, w in options])
            index[mask] = _HISTORY_FIRST[pos] + rng.choice(len(options), count, p=weights)
    return take(_HISTORY_TEXT, index)


_STATE_TEXT = pa.array(CONN_STATES)


def state_names(states: IntArray) -> pa.Array:
    """The ``conn_state`` text of state codes."""
    return take(_STATE_TEXT, states)


def conn_table(
    rng: np.random.Generator,
    *,
    ts: IntArray,
    uid: pa.Array,
    orig_h: pa.Array,
    orig_p: IntArray,
    resp_h: pa.Array,
    resp_p: IntArray,
    proto: str,
    service: str | pa.Array | None,
    duration: IntArray,
    orig_bytes: IntArray,
    resp_bytes: IntArray,
    state: IntArray,
    local_orig: BoolArray | bool,
    local_resp: BoolArray | bool,
    history: str | pa.Array | None = None,
    orig_pkts: IntArray | None = None,
    resp_pkts: IntArray | None = None,
) -> pa.Table:
    """Conn rows of one transport protocol, with Zeek's derived fields filled in.

    Packet counts and IP bytes follow from the payload; ``history`` (if not given) from the
    state. ``duration`` is in microseconds; a negative value means unset, as Zeek writes for a
    connection of which it saw a single packet.
    """
    n = len(ts)
    failed = (state == S0) | (state == REJ)
    if proto == "udp":
        if orig_pkts is None:
            orig_pkts = 1 + orig_bytes // 1400
        if resp_pkts is None:
            resp_pkts = np.where(resp_bytes > 0, 1 + resp_bytes // 1400, 0)
        header = 28
        if history is None:
            history = take(pa.array(["Dd", "D"]), (resp_bytes == 0).astype(np.int64))
    else:
        # Handshake and teardown packets plus one data packet per ~1.4 kB (MSS).
        if orig_pkts is None:
            orig_pkts = np.where(
                failed,
                np.where(state == S0, 1 + (duration > 0), 1),
                3 + (orig_bytes + 1399) // 1400,
            )
        if resp_pkts is None:
            resp_pkts = np.where(
                failed, (state == REJ).astype(np.int64), 2 + (resp_bytes + 1399) // 1400
            )
        header = 52 if proto == "tcp" else 0
        if history is None:
            history = tcp_history(rng, state)
    columns: dict[str, Any] = {
        "ts": ts,
        "uid": uid,
        "id.orig_h": orig_h,
        "id.orig_p": orig_p,
        "id.resp_h": resp_h,
        "id.resp_p": resp_p,
        "proto": proto,
        "service": service,
        "duration": pa.array(duration, pa.int64(), mask=duration < 0),
        "orig_bytes": orig_bytes,
        "resp_bytes": resp_bytes,
        "conn_state": state_names(state),
        "local_orig": local_orig,
        "local_resp": local_resp,
        "missed_bytes": 0,
        "history": history,
        "orig_pkts": orig_pkts,
        "orig_ip_bytes": orig_bytes + header * orig_pkts,
        "resp_pkts": resp_pkts,
        "resp_ip_bytes": resp_bytes + header * resp_pkts,
    }
    return build_table("conn", n, columns)


QTYPE_NAMES = {
    1: "A",
    2: "NS",
    5: "CNAME",
    10: "NULL",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    65: "HTTPS",
}
RCODE_NAMES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}


def dns_table(
    *,
    ts: IntArray,
    uid: pa.Array,
    orig_h: pa.Array,
    orig_p: IntArray,
    resp_h: pa.Array,
    trans_id: IntArray,
    rtt: IntArray,
    query: pa.Array,
    qtype: IntArray,
    rcode: IntArray,
    answers: pa.Array,
    ttls: pa.Array,
    aa: BoolArray | bool = False,
) -> pa.Table:
    """DNS rows over UDP port 53 with the flags a recursive resolver sets (RD, RA)."""
    n = len(ts)
    qtype_names = _names(qtype, QTYPE_NAMES)
    rcode_names = _names(rcode, RCODE_NAMES)
    return build_table(
        "dns",
        n,
        {
            "ts": ts,
            "uid": uid,
            "id.orig_h": orig_h,
            "id.orig_p": orig_p,
            "id.resp_h": resp_h,
            "id.resp_p": 53,
            "proto": "udp",
            "trans_id": trans_id,
            "rtt": rtt,
            "query": query,
            "qclass": 1,
            "qclass_name": "C_INTERNET",
            "qtype": qtype,
            "qtype_name": qtype_names,
            "rcode": rcode,
            "rcode_name": rcode_names,
            "AA": aa if isinstance(aa, bool) else np.asarray(aa),
            "TC": False,
            "RD": True,
            "RA": True,
            "Z": 0,
            "answers": answers,
            "TTLs": ttls,
            "rejected": False,
        },
    )


def _names(codes: IntArray, table: dict[int, str]) -> pa.Array:
    keys = np.array(sorted(table), dtype=np.int64)
    names = pa.array([table[int(k)] for k in keys])
    index = np.minimum(np.searchsorted(keys, codes), len(keys) - 1)
    if not np.array_equal(keys[index], codes):
        raise ValueError(f"codes without a name: {sorted(set(codes.tolist()) - set(table))}")
    return pc.take(names, pa.array(index.astype(np.int32)))


def text_where(condition: Arr, value: str | pa.Array) -> pa.Array:
    """``value`` where ``condition`` holds, unset (null, written ``-``) elsewhere."""
    return pc.if_else(
        pa.array(np.asarray(condition, dtype=bool)), value, pa.scalar(None, pa.string())
    )


def take(values: pa.Array, index: np.ndarray[Any, Any]) -> pa.Array:
    """``values[index]`` for an Arrow array and a NumPy index (the vectorised lookup)."""
    return pc.take(values, pa.array(np.asarray(index, dtype=np.int32)))
