"""STIX patterns → the exact values the engine can join on.

A STIX indicator's pattern is evaluable here when it says "this value" or "any of these values":
comparisons with ``=``, ``IN`` or ``ISSUBSET`` (address ranges) on object paths we map to an
indicator type, joined by ``OR`` (inside one observation or between observations). Such a
pattern becomes one term per value. Anything else — ``AND`` (two facts about one object, or two
observations), ``FOLLOWEDBY``, ``WITHIN``/``REPEATS``/``START`` qualifiers, ``!=``, ``LIKE``,
``MATCHES``, ``NOT``, ``EXISTS``, paths we do not map — cannot be matched on one value: the
pattern is kept with the reason, never dropped.

Parsing uses ``stix2patterns`` (its ANTLR grammar and a listener that records the structure).
Most patterns in real feeds are the one-comparison shape ``[ipv4-addr:value = '1.2.3.4']``;
those take a fast path, a strict regular expression that accepts only a subset of the grammar's
language (plain spaces, one ``=`` comparison, a string literal with the grammar's two escapes)
and yields the same term as the full parser would — a property test checks this against
``stix2patterns``. The full parse costs ~0.5 ms; the fast path ~1 µs, which is what makes
importing hundreds of thousands of indicators a second possible. Full parses are cached by
pattern text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: (object type, object path) → indicator type. ``ip`` is resolved to ipv4/ipv6/…_cidr from the
#: value when it is normalized.
PATH_TYPES: dict[tuple[str, tuple[str, ...]], str] = {
    ("ipv4-addr", ("value",)): "ip",
    ("ipv6-addr", ("value",)): "ip",
    ("domain-name", ("value",)): "domain",
    ("url", ("value",)): "url",
    ("email-addr", ("value",)): "email",
    ("email-message", ("from_ref", "value")): "email",
    ("email-message", ("sender_ref", "value")): "email",
    ("file", ("name",)): "file_name",
    ("x509-certificate", ("serial_number",)): "x509_serial",
    ("network-traffic", ("src_ref", "value")): "ip",
    ("network-traffic", ("dst_ref", "value")): "ip",
    ("network-traffic", ("extensions", "http-request-ext", "request_header", "User-Agent")): (
        "user_agent"
    ),
    ("software", ("name",)): "software",
    ("user-account", ("account_login",)): "user_name",
}

#: Hash names as STIX writes them (and as feeds spell them) → our hash types.
FILE_HASHES = {"md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha512": "sha512"}
X509_HASHES = {"md5": "x509_md5", "sha1": "x509_sha1", "sha256": "x509_sha256"}

#: Our types that STIX has no observable for: exported as ``[x-signalfire-<type>:value = ...]``
#: (a custom object type, which STIX patterns allow) and read back from it.
CUSTOM_OBJECT_PREFIX = "x-signalfire-"
CUSTOM_TYPES = ("ja3", "ja3s", "ja4", "hassh", "hassh_server", "ssh_host_key", "other")

_OPERATORS = {"=", "IN", "ISSUBSET"}


def hash_key(name: str) -> str:
    """'SHA-256', 'sha256', 'SHA256' → 'sha256'."""
    return name.replace("-", "").replace("_", "").lower()


def path_type(object_type: str, path: tuple[str | int, ...]) -> str | None:
    """The indicator type of a pattern's object path, or None if we do not match on it."""
    if len(path) == 2 and path[0] == "hashes" and isinstance(path[1], str):
        table = {"file": FILE_HASHES, "x509-certificate": X509_HASHES}.get(object_type)
        return None if table is None else table.get(hash_key(path[1]))
    if (
        object_type.startswith(CUSTOM_OBJECT_PREFIX)
        and path == ("value",)
        and object_type[len(CUSTOM_OBJECT_PREFIX) :].replace("-", "_") in CUSTOM_TYPES
    ):
        return object_type[len(CUSTOM_OBJECT_PREFIX) :].replace("-", "_")
    if not all(isinstance(p, str) for p in path):
        return None
    return PATH_TYPES.get((object_type, tuple(str(p) for p in path)))


@dataclass(frozen=True)
class Term:
    """One value a pattern matches: ``type`` (ours, or ``ip``), the literal, and its path."""

    type: str
    value: str
    path: str


@dataclass(frozen=True)
class ParsedPattern:
    """What a pattern means for matching.

    Attributes:
        terms: the values it matches (any of them), empty if it cannot be evaluated.
        reason: why (part of) the pattern cannot be evaluated; None if all of it can.
    """

    terms: tuple[Term, ...]
    reason: str | None = None

    @property
    def evaluable(self) -> bool:
        return bool(self.terms) and self.reason is None


# -- fast path ---------------------------------------------------------------------------------

_STRING = r"'((?:[^'\\]|\\['\\])*)'"
#: The fast path's two shapes, without anchors: Python (here) and DuckDB's RE2 (the STIX
#: importer runs them over a whole column) read them alike; a test checks they agree.
FAST_VALUE_RE = (
    r"\[ *(ipv4-addr|ipv6-addr|domain-name|url|email-addr):value *= *" + _STRING + r" *\]"
)
FAST_HASH_RE = (
    r"\[ *(file|x509-certificate):hashes\.(?:'(MD5|SHA-1|SHA-256|SHA-512)'|"
    r"(MD5|SHA1|SHA256|SHA512|md5|sha1|sha256|sha512)) *= *" + _STRING + r" *\]"
)
_FAST_VALUE = re.compile(FAST_VALUE_RE + r"\Z")
_FAST_HASH = re.compile(FAST_HASH_RE + r"\Z")
_FAST_TYPES = {
    "ipv4-addr": "ip",
    "ipv6-addr": "ip",
    "domain-name": "domain",
    "url": "url",
    "email-addr": "email",
}


def unescape(literal: str) -> str:
    """The text of a STIX string literal's body (the grammar has two escapes: \\' and \\\\)."""
    if "\\" not in literal:
        return literal
    return re.sub(r"\\(['\\])", r"\1", literal)


def fast_parse(pattern: str) -> Term | None:
    """The one term of a ``[type:value = '...']`` pattern, or None if it has another shape."""
    m = _FAST_VALUE.match(pattern)
    if m is not None:
        object_type = m.group(1)
        return Term(_FAST_TYPES[object_type], unescape(m.group(2)), f"{object_type}:value")
    m = _FAST_HASH.match(pattern)
    if m is not None:
        object_type, quoted, bare, literal = m.groups()
        name = quoted or bare
        table = FILE_HASHES if object_type == "file" else X509_HASHES
        indicator_type = table.get(hash_key(name))
        if indicator_type is None:
            return None
        return Term(indicator_type, unescape(literal), f"{object_type}:hashes.{name}")
    return None


# -- full parse --------------------------------------------------------------------------------


@dataclass
class _Comparison:
    object_type: str
    path: tuple[str | int, ...]
    operator: str
    values: list[str] = field(default_factory=list)
    literal_kinds: list[str] = field(default_factory=list)


def _listener_class() -> type:
    from stix2patterns.inspector import INDEX_STAR, _string_literal_to_string
    from stix2patterns.v21.grammars.STIXPatternListener import STIXPatternListener

    class StructureListener(STIXPatternListener):  # type: ignore[misc]
        """Records the comparisons and every construct that makes a pattern unevaluable."""

        def __init__(self) -> None:
            self.comparisons: list[_Comparison] = []
            self.blockers: list[str] = []
            self._obj_type = ""
            self._path: list[str | int] = []

        def _literal(self, ctx: Any) -> tuple[str, str]:
            token = ctx.getText()
            if token.startswith("'"):
                return _string_literal_to_string(ctx), "string"
            return token, "other"

        def _add(self, operator: str, literals: list[Any]) -> None:
            comparison = _Comparison(self._obj_type, tuple(self._path), operator)
            for lit in literals:
                text, kind = self._literal(lit)
                comparison.values.append(text)
                comparison.literal_kinds.append(kind)
            self.comparisons.append(comparison)

        def exitObservationExpressions(self, ctx: Any) -> None:
            if ctx.FOLLOWEDBY():
                self.blockers.append("FOLLOWEDBY (a sequence of observations)")

        def exitObservationExpressionAnd(self, ctx: Any) -> None:
            if ctx.AND():
                self.blockers.append("AND of observations")

        def exitComparisonExpressionAnd(self, ctx: Any) -> None:
            if ctx.AND():
                self.blockers.append("AND of comparisons (several facts about one object)")

        def exitStartStopQualifier(self, ctx: Any) -> None:
            self.blockers.append("START/STOP qualifier")

        def exitWithinQualifier(self, ctx: Any) -> None:
            self.blockers.append("WITHIN qualifier")

        def exitRepeatedQualifier(self, ctx: Any) -> None:
            self.blockers.append("REPEATS qualifier")

        def exitPropTestEqual(self, ctx: Any) -> None:
            op = ("NOT " if ctx.NOT() else "") + (ctx.EQ() or ctx.NEQ()).getText()
            self._add(op, [ctx.primitiveLiteral()])

        def exitPropTestOrder(self, ctx: Any) -> None:
            op = ("NOT " if ctx.NOT() else "") + (
                ctx.GT() or ctx.LT() or ctx.GE() or ctx.LE()
            ).getText()
            self._add(op, [ctx.orderableLiteral()])

        def exitPropTestSet(self, ctx: Any) -> None:
            self._add(("NOT " if ctx.NOT() else "") + "IN", ctx.setLiteral().primitiveLiteral())

        def exitPropTestLike(self, ctx: Any) -> None:
            self._add(("NOT " if ctx.NOT() else "") + "LIKE", [])

        def exitPropTestRegex(self, ctx: Any) -> None:
            self._add(("NOT " if ctx.NOT() else "") + "MATCHES", [])

        def exitPropTestIsSubset(self, ctx: Any) -> None:
            op = ("NOT " if ctx.NOT() else "") + "ISSUBSET"
            self._add(op, [ctx.StringLiteral()])

        def exitPropTestIsSuperset(self, ctx: Any) -> None:
            self._add(("NOT " if ctx.NOT() else "") + "ISSUPERSET", [])

        def exitPropTestExists(self, ctx: Any) -> None:
            self.blockers.append("EXISTS")

        def exitObjectType(self, ctx: Any) -> None:
            self._obj_type = ctx.getText()

        def exitFirstPathComponent(self, ctx: Any) -> None:
            if ctx.StringLiteral():
                self._path = [_string_literal_to_string(ctx.StringLiteral())]
            else:
                self._path = [ctx.getText()]

        def exitKeyPathStep(self, ctx: Any) -> None:
            if ctx.IdentifierWithoutHyphen():
                self._path.append(ctx.IdentifierWithoutHyphen().getText())
            else:
                self._path.append(_string_literal_to_string(ctx.StringLiteral()))

        def exitIndexPathStep(self, ctx: Any) -> None:
            self._path.append("*" if ctx.ASTERISK() else int(ctx.IntPosLiteral().getText()))

    _ = INDEX_STAR  # the inspector's marker; we record '*' instead
    return StructureListener


_LISTENER: type | None = None


def _describe_path(c: _Comparison) -> str:
    steps = "".join(f"[{p}]" if isinstance(p, int) or p == "*" else f".{p}" for p in c.path[1:])
    return f"{c.object_type}:{c.path[0] if c.path else ''}{steps}"


@lru_cache(maxsize=65_536)
def full_parse(pattern: str) -> ParsedPattern:
    """Parse any pattern with ``stix2patterns``; never raises (a bad pattern gives a reason)."""
    global _LISTENER
    from stix2patterns.exceptions import ParseException
    from stix2patterns.v21.pattern import Pattern

    try:
        compiled = Pattern(pattern)
    except ParseException as exc:
        return ParsedPattern((), f"pattern does not parse: {exc}")
    if _LISTENER is None:
        _LISTENER = _listener_class()
    listener = _LISTENER()
    compiled.walk(listener)
    if listener.blockers:
        unique = list(dict.fromkeys(listener.blockers))
        return ParsedPattern((), "cannot be matched on one value: " + ", ".join(unique))
    terms: list[Term] = []
    problems: list[str] = []
    for c in listener.comparisons:
        where = _describe_path(c)
        indicator_type = path_type(c.object_type, c.path)
        if c.operator not in _OPERATORS:
            problems.append(f"operator {c.operator} on {where}")
        elif indicator_type is None:
            problems.append(f"object path {where} is not one signalfire matches")
        elif c.operator == "ISSUBSET" and indicator_type != "ip":
            problems.append(f"ISSUBSET on {where}")
        elif any(kind != "string" for kind in c.literal_kinds):
            problems.append(f"non-string literal on {where}")
        else:
            terms.extend(Term(indicator_type, v, where) for v in c.values)
    if problems:
        prefix = "partly evaluated; not matched: " if terms else "cannot be evaluated: "
        return ParsedPattern(tuple(terms), prefix + "; ".join(dict.fromkeys(problems)))
    if not terms:
        return ParsedPattern((), "no comparison signalfire can match")
    return ParsedPattern(tuple(dict.fromkeys(terms)))


def parse(pattern: str) -> ParsedPattern:
    """What ``pattern`` matches: the fast path when it applies, else the full (cached) parse."""
    term = fast_parse(pattern)
    if term is not None:
        return ParsedPattern((term,))
    return full_parse(pattern)


# -- building patterns (export) --------------------------------------------------------------


def quote(value: str) -> str:
    """A STIX string literal for ``value``."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_BUILD_PATHS: dict[str, str] = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "md5": "file:hashes.MD5",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
    "sha512": "file:hashes.'SHA-512'",
    "file_name": "file:name",
    "x509_serial": "x509-certificate:serial_number",
    "x509_md5": "x509-certificate:hashes.MD5",
    "x509_sha1": "x509-certificate:hashes.'SHA-1'",
    "x509_sha256": "x509-certificate:hashes.'SHA-256'",
    "user_agent": "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'",
    "software": "software:name",
    "user_name": "user-account:account_login",
}


def has_stix_form(indicator_type: str) -> bool:
    """Whether ``build`` writes a pattern that ``parse`` maps back to this type by itself."""
    return (
        indicator_type in _BUILD_PATHS
        or indicator_type in ("ipv4_cidr", "ipv6_cidr")
        or (indicator_type in CUSTOM_TYPES and indicator_type != "other")
    )


def build(indicator_type: str, value: str) -> str:
    """The STIX pattern of one indicator of ours (the inverse of ``parse`` for its term).

    Types STIX has no observable for use a custom object type (``x-signalfire-ja3:value``);
    types from other vocabularies (``misp:regkey|value``) use ``x-signalfire-other:value``.
    """
    if indicator_type == "ipv4_cidr":
        return f"[ipv4-addr:value ISSUBSET {quote(value)}]"
    if indicator_type == "ipv6_cidr":
        return f"[ipv6-addr:value ISSUBSET {quote(value)}]"
    path = _BUILD_PATHS.get(indicator_type)
    if path is None:
        name = indicator_type if indicator_type in CUSTOM_TYPES else "other"
        path = f"{CUSTOM_OBJECT_PREFIX}{name.replace('_', '-')}:value"
    return f"[{path} = {quote(value)}]"
