"""STIX patterns → matchable terms; the fast path must agree with stix2-patterns."""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from signalfire.intel import patterns
from signalfire.intel.patterns import Term, fast_parse, full_parse


@pytest.mark.parametrize(
    ("pattern", "terms", "reason"),
    [
        ("[ipv4-addr:value = '198.51.100.1']", [("ip", "198.51.100.1")], None),
        ("[ ipv4-addr:value = '10.0.0.0' ]", [("ip", "10.0.0.0")], None),
        ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", [("ip", "198.51.100.0/24")], None),
        ("[ipv6-addr:value = '2001:db8::1']", [("ip", "2001:db8::1")], None),
        ("[domain-name:value = 'evil.example']", [("domain", "evil.example")], None),
        ("[url:value = 'http://x.example/a']", [("url", "http://x.example/a")], None),
        ("[email-addr:value = 'a@b.example']", [("email", "a@b.example")], None),
        ("[email-message:from_ref.value = 'a@b.example']", [("email", "a@b.example")], None),
        ("[file:hashes.'SHA-256' = 'aa']", [("sha256", "aa")], None),
        ("[file:hashes.MD5 = 'aa']", [("md5", "aa")], None),
        ("[file:hashes.md5 = 'aa']", [("md5", "aa")], None),
        ("[file:hashes.'SHA-1' = 'aa']", [("sha1", "aa")], None),
        ("[file:name = 'invoice.exe']", [("file_name", "invoice.exe")], None),
        ("[x509-certificate:serial_number = '0e:97']", [("x509_serial", "0e:97")], None),
        ("[x509-certificate:hashes.'SHA-1' = 'ab']", [("x509_sha1", "ab")], None),
        ("[network-traffic:dst_ref.value = '192.0.2.1']", [("ip", "192.0.2.1")], None),
        ("[x-signalfire-ja3:value = 'ab']", [("ja3", "ab")], None),
        (
            "[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')]",
            [("ip", "192.0.2.1"), ("ip", "192.0.2.2")],
            None,
        ),
        (
            "[domain-name:value = 'a.example' OR ipv4-addr:value = '192.0.2.3']",
            [("domain", "a.example"), ("ip", "192.0.2.3")],
            None,
        ),
        (
            "[domain-name:value = 'a.example'] OR [url:value = 'http://b.example/']",
            [("domain", "a.example"), ("url", "http://b.example/")],
            None,
        ),
        ("[domain-name:value = 'it''s']", None, "does not parse"),
        ("[domain-name:value = 'it\\'s']", [("domain", "it's")], None),
        (
            "[x509-certificate:issuer = 'CN=X' AND x509-certificate:serial_number = '01']",
            [],
            "AND of comparisons",
        ),
        ("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'x']", [], "AND of observations"),
        ("[ipv4-addr:value = '1.2.3.4'] FOLLOWEDBY [domain-name:value = 'x']", [], "FOLLOWEDBY"),
        ("[ipv4-addr:value = '1.2.3.4'] REPEATS 5 TIMES", [], "REPEATS"),
        ("[ipv4-addr:value != '1.2.3.4']", [], "operator !="),
        ("[domain-name:value LIKE '%.example']", [], "operator LIKE"),
        ("[domain-name:value MATCHES '^x']", [], "operator MATCHES"),
        ("[file:size > 10]", [], "operator >"),
        ("[file:hashes.'SSDEEP' = 'x']", [], "file:hashes.SSDEEP is not one"),
        ("[windows-registry-key:key = 'HKLM']", [], "windows-registry-key:key"),
        ("[ipv4-addr:value = 5]", [], "non-string literal"),
        (
            "[domain-name:value = 'ok.example' OR process:name = 'x.exe']",
            [("domain", "ok.example")],
            "partly evaluated",
        ),
        ("not a pattern", [], "does not parse"),
    ],
)
def test_patterns(pattern: str, terms: list[tuple[str, str]] | None, reason: str | None) -> None:
    parsed = patterns.parse(pattern)
    if terms is not None:
        assert [(t.type, t.value) for t in parsed.terms] == terms
    if reason is None:
        assert parsed.reason is None and parsed.evaluable
    else:
        assert parsed.reason is not None and reason in parsed.reason
        assert not parsed.evaluable


# -- the fast path is a strict subset of the grammar, with the same meaning ----------------------

OBJECT_PATHS = [
    "ipv4-addr:value",
    "ipv6-addr:value",
    "domain-name:value",
    "url:value",
    "email-addr:value",
    "file:hashes.'SHA-256'",
    "file:hashes.MD5",
    "file:hashes.sha1",
    "file:hashes.'SHA-512'",
    "file:hashes.'SHA-3'",
    "x509-certificate:hashes.'SHA-1'",
    "x509-certificate:hashes.SHA512",
    "file:name",
    "domain-name:resolves_to_refs[*].value",
]
LITERAL_TEXT = st.text(alphabet=st.sampled_from(list("ab1.:/-'\\ \té\n%_")), max_size=12)


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


@st.composite
def candidate_patterns(draw: st.DrawFn) -> str:
    """Patterns near the fast path's shape: valid ones, and ones broken in small ways."""
    path = draw(st.sampled_from(OBJECT_PATHS))
    text = draw(LITERAL_TEXT)
    literal = "'" + (escape(text) if draw(st.booleans()) else text) + "'"
    op = draw(st.sampled_from(["=", "=", "=", "!=", "IN", "LIKE"]))
    spaces = [draw(st.sampled_from(["", " ", "  ", "\t"])) for _ in range(4)]
    body = f"{spaces[0]}{path}{spaces[1]}{op}{spaces[2]}{literal}{spaces[3]}"
    tail = draw(st.sampled_from(["", "", " WITHIN 5 SECONDS", " OR [url:value = 'x']", "\n"]))
    return f"[{body}]{tail}"


@settings(max_examples=1500, deadline=None)
@given(candidate_patterns())
@example("[ipv4-addr:value = 'a\\'b']")
@example("[ipv4-addr:value = 'a\\\\']")
@example("[ipv4-addr:value = 'a\\']")
@example("[domain-name:value = '']")
def test_the_fast_path_agrees_with_stix2_patterns(pattern: str) -> None:
    fast = fast_parse(pattern)
    if fast is None:
        return
    full = full_parse(pattern)
    assert full.reason is None, (pattern, full.reason)
    assert full.terms == (fast,)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(OBJECT_PATHS[:9]), LITERAL_TEXT)
def test_valid_simple_patterns_take_the_fast_path(path: str, text: str) -> None:
    pattern = f"[{path} = '{escape(text)}']"
    term = fast_parse(pattern)
    assert term is not None and term.value == text
    assert full_parse(pattern).terms == (term,)


@settings(max_examples=300, deadline=None)
@given(st.lists(candidate_patterns(), min_size=1, max_size=30))
def test_the_engine_fast_path_is_the_python_one(batch: list[str]) -> None:
    """The STIX importer runs the same expressions in DuckDB (RE2) over a whole column."""
    con = duckdb.connect()
    con.register("p", pa.table({"pattern": pa.array(batch, pa.string())}))
    value_re = "^(?:" + patterns.FAST_VALUE_RE + ")$"
    hash_re = "^(?:" + patterns.FAST_HASH_RE + ")$"
    rows = con.execute(
        "SELECT regexp_full_match(pattern, $v), regexp_full_match(pattern, $h) FROM p",
        {"v": value_re, "h": hash_re},
    ).fetchall()
    for pattern, (value_hit, hash_hit) in zip(batch, rows, strict=True):
        assert value_hit == bool(re.match(patterns.FAST_VALUE_RE + r"\Z", pattern)), pattern
        assert hash_hit == bool(re.match(patterns.FAST_HASH_RE + r"\Z", pattern)), pattern


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("ipv4", "192.0.2.1"),
        ("ipv4_cidr", "192.0.2.0/24"),
        ("ipv6", "2001:db8::1"),
        ("ipv6_cidr", "2001:db8::/32"),
        ("domain", "it's.example"),
        ("url", "http://x.example/a\\b"),
        ("email", "a@b.example"),
        ("md5", "a" * 32),
        ("sha1", "a" * 40),
        ("sha256", "a" * 64),
        ("sha512", "a" * 128),
        ("file_name", "invoice.exe"),
        ("x509_serial", "0E97"),
        ("x509_md5", "ab" * 16),
        ("x509_sha1", "ab" * 20),
        ("x509_sha256", "ab" * 32),
        ("ja3", "ab"),
        ("ja3s", "ab"),
        ("ja4", "t13d1516h2_8daaf6152771_b186095e22b6"),
        ("hassh", "ab"),
        ("hassh_server", "ab"),
        ("ssh_host_key", "aa:bb"),
        ("user_agent", "Mozilla/5.0 'x'"),
        ("software", "Cobalt Strike"),
        ("user_name", "admin"),
    ],
)
def test_built_patterns_parse_back_to_the_same_term(kind: str, value: str) -> None:
    import stix2

    pattern = patterns.build(kind, value)
    parsed = full_parse(pattern)
    expected = "ip" if kind in ("ipv4", "ipv4_cidr", "ipv6", "ipv6_cidr") else kind
    assert parsed.reason is None
    assert [(t.type, t.value) for t in parsed.terms] == [(expected, value)]
    assert patterns.has_stix_form(kind)
    stix2.Indicator(pattern=pattern, pattern_type="stix", valid_from="2020-01-01T00:00:00Z")


def test_other_vocabularies_use_the_custom_object_type() -> None:
    pattern = patterns.build("misp:regkey|value", "HKLM\\x|y")
    assert pattern.startswith("[x-signalfire-other:value = ")
    assert not patterns.has_stix_form("misp:regkey|value")
    assert full_parse(pattern).terms == (Term("other", "HKLM\\x|y", "x-signalfire-other:value"),)
