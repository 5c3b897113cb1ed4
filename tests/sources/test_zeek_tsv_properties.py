"""Property tests of the Zeek TSV reader: any field order, any mix of unset/empty/escaped values
and unknown columns round-trip to the values a Zeek writer meant."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sources.helpers import parse_bytes
from tests.sources.zeek_samples import zeek_tsv

# (zeek field, zeek type, column, strategy of python values; None = unset)
_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r"),
    max_size=12,
)
FIELDS = {
    "uid": ("string", "uid", _TEXT),
    "id.orig_h": ("addr", "source_ip", st.ip_addresses().map(str)),
    "id.orig_p": ("port", "source_port", st.integers(0, 65535)),
    "orig_bytes": ("count", "source_bytes", st.integers(0, 2**62)),
    "duration": (
        "interval",
        "event_duration",
        st.floats(0, 1e6, allow_nan=False).map(lambda f: round(f, 6)),
    ),
    "local_orig": ("bool", "source_local", st.booleans()),
    "tunnel_parents": (
        "set[string]",
        "tunnel_parents",
        st.lists(st.from_regex(r"C[A-Za-z0-9]{1,8}", fullmatch=True), max_size=3),
    ),
}


def _extra(row: dict[str, object]) -> dict[str, object]:
    """The row's `extra` JSON as a dict ({} when NULL)."""
    return json.loads(row["extra"]) if row["extra"] is not None else {}  # type: ignore[arg-type]


def _escape(text: str, sep: str = "\t") -> str:
    """What Zeek's ASCII writer does to a string value."""
    if text == "":
        return "(empty)"
    out = []
    for ch in text:
        code = ord(ch)
        if ch == "\\" or ch == sep or code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code > 0x7F:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
        else:
            out.append(ch)
    rendered = "".join(out)
    return "\\x2d" if rendered == "-" else rendered


def _render(zeek_type: str, value: object) -> str:
    if value is None:
        return "-"
    if zeek_type == "bool":
        return "T" if value else "F"
    if zeek_type == "interval":
        return f"{value:.6f}"
    if zeek_type.startswith("set"):
        assert isinstance(value, list)
        return ",".join(value) if value else "(empty)"
    if zeek_type == "string":
        return _escape(str(value))
    return str(value)


@st.composite
def records(draw: st.DrawFn) -> tuple[list[str], list[dict[str, object]], list[str]]:
    names = draw(st.permutations(list(FIELDS)))
    extras = draw(st.lists(st.from_regex(r"x_[a-z]{1,6}", fullmatch=True), unique=True, max_size=2))
    n = draw(st.integers(1, 20))
    rows = []
    for _ in range(n):
        row: dict[str, object] = {"ts": draw(st.integers(0, 2_000_000_000_000_000))}
        for name in names:
            row[name] = draw(st.none() | FIELDS[name][2])
        for extra in extras:
            row[extra] = draw(st.none() | st.from_regex(r"[a-z0-9]{1,5}", fullmatch=True))
        rows.append(row)
    return names, rows, extras


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records())
def test_tsv_reader_recovers_every_value(
    case: tuple[list[str], list[dict[str, object]], list[str]],
) -> None:
    names, rows, extras = case
    fields = ["ts", *names, *extras]
    types = ["time", *(FIELDS[n][0] for n in names), *("string" for _ in extras)]
    lines = []
    for row in rows:
        micros = int(row["ts"])  # type: ignore[call-overload]
        ts = f"{micros // 1_000_000}.{micros % 1_000_000:06d}"
        lines.append(
            [
                ts,
                *(_render(FIELDS[n][0], row[n]) for n in names),
                *(_render("string", row[e]) for e in extras),
            ]
        )
    _, tables, rejects = parse_bytes(zeek_tsv("conn", fields, types, lines))
    assert rejects.num_rows == 0, rejects.to_pylist()
    got = tables["conn"].to_pylist()
    assert len(got) == len(rows)
    for row, out in zip(rows, got, strict=True):
        micros = int(row["ts"])  # type: ignore[call-overload]
        assert out["timestamp"] == datetime(1970, 1, 1) + timedelta(microseconds=micros)
        for name in names:
            column = FIELDS[name][1]
            assert out[column] == row[name], (name, row[name], out[column])
        assert _extra(out) == {e: row[e] for e in extras if row[e] is not None}
