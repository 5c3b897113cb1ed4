"""DNS tunnelling: many unique, long, high-entropy names under one registered domain.

A DNS tunnel (iodine, dns2tcp, dnscat2, Cobalt Strike's DNS beacon) carries data in the labels
to the left of a domain its operator controls, so a client queries hundreds of names that were
never asked before, each holding tens of bytes of encoded data, often as TXT, NULL or CNAME
queries whose answers carry the way back.

This module also holds what the other DNS detections share: the query name as the engine sees
it, its **registered domain** under the Public Suffix List (bundled in
``signalfire/data/public_suffix_list.dat``, MPL-2.0, see ``public_suffix_list.LICENSE``; never
downloaded) computed in the engine by joining the name's label suffixes to a table of the
list's rules, and the **information content** of a string (its length times its character
entropy), computed column-wise without exploding characters into rows.
"""

from __future__ import annotations

import encodings.idna
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from signalfire.detections.registry import detection

#: Characters counted one by one for the entropy; everything else counts as one "other" class.
#: Letters and digits of hostnames, the hyphen and underscore, base64's + / =, and the
#: backslash of Zeek's \\xNN escapes of raw bytes.
ENTROPY_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_+/=\\"

#: Question types that carry data in their answers (numeric and name forms; Zeek writes ANY
#: as "*").
DATA_QUERY_TYPES = (16, 10, 5, 15, 255)
DATA_QUERY_TYPE_NAMES = ("TXT", "NULL", "CNAME", "MX", "ANY", "*")


@dataclass(frozen=True)
class Params:
    # A name whose subdomain holds this many bits (length x character entropy) scores 0.5; each
    # further multiple halves the remaining doubt. 192 bits are about 50 random hex or 42
    # random base32 characters, less than one data chunk of common tunnels (Cobalt Strike's DNS
    # beacon, dnscat2, iodine, dns2tcp). Tuned on the train split: recall on tunnel names is
    # flat from 64 to 256 bits while the share of benign names above 0.5 (real Zeek logs and
    # the simulator) falls from 7 % to 0.45 % at 192 (docs/evaluation/network.dns_tunneling.md).
    name_half_bits: float = 192.0
    # Names scoring at least this count as data-carrying ("data names" in the evidence).
    data_name_score: float = 0.5
    # Per client, registered domain and day. A tunnel moving even a few kilobytes needs dozens
    # of unique names; a browser rarely asks for more than a handful under one domain.
    min_unique_names: int = 20
    min_data_names: int = 10
    # The volume sub-score reaches 1 at this many unique names (log scale): ~300 queries of
    # ~100 bytes are 30 KB, already a meaningful exfiltration.
    unique_names_saturation: int = 300
    # Weights of the two content sub-scores (they sum to 1; the volume multiplies them): the
    # names themselves weigh most; the share of TXT/NULL/CNAME/MX/ANY queries adds the rest.
    name_weight: float = 0.65
    type_weight: float = 0.35
    # Severity steps on the score: a high score needs volume, payload-like names and data types.
    medium_score: float = 0.5
    high_score: float = 0.75
    # Not real unicast DNS: NetBIOS name service, mDNS and LLMNR land in Zeek's dns.log too.
    excluded_ports: tuple[int, ...] = (137, 5353, 5355)
    # Reverse lookups (in-addr.arpa, ip6.arpa) have many unique, long, digit-rich names by
    # design and cannot be registered by an attacker.
    excluded_suffixes: tuple[str, ...] = ("arpa",)


# --------------------------------------------------------------------------------------------
# Shared by the DNS detections
# --------------------------------------------------------------------------------------------


def query_name(query: ir.StringValue) -> ir.StringValue:
    """The query name as compared: lower case (resolvers may randomise case, DNS 0x20) and
    without the root's trailing dot."""
    name = query.lower()
    return ibis.cases((name.endswith("."), name.substr(0, name.length() - 1)), else_=name)


def _punycode(name: str) -> str | None:
    try:
        return ".".join(
            encodings.idna.ToASCII(label).decode("ascii") if not label.isascii() else label
            for label in name.split(".")
        )
    except UnicodeError:
        return None


@cache
def public_suffix_rules() -> tuple[pa.Table, int]:
    """The bundled Public Suffix List as a join table, and the most labels a rule key has.

    Each rule becomes a key (the rule without ``!`` or ``*.``) and how many labels the public
    suffix has relative to a matching suffix of the name: 0 for a normal rule, +1 for a
    wildcard (``*.ck`` makes ``x.ck`` public), -1 for an exception (``!www.ck`` makes ``ck``
    the suffix of ``www.ck``), which wins over every other rule. Internationalised rules are
    also keyed in punycode, which is how names appear on the wire and in Zeek's logs.
    """
    text = resources.files("signalfire.data").joinpath("public_suffix_list.dat").read_text("utf-8")
    rules: dict[tuple[str, bool], int] = {}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("//"):
            continue
        rule = words[0].lower()
        exception = rule.startswith("!")
        if exception:
            key, delta = rule[1:], -1
        elif rule.startswith("*."):
            key, delta = rule[2:], 1
        else:
            key, delta = rule, 0
        for variant in {key, _punycode(key)}:
            if variant:
                previous = rules.get((variant, exception))
                rules[(variant, exception)] = delta if previous is None else max(previous, delta)
    keys = sorted(rules)
    table = pa.table(
        {
            "psl_key": [k for k, _ in keys],
            "psl_exception": [e for _, e in keys],
            "psl_delta": pa.array([rules[k] for k in keys], pa.int32()),
        }
    )
    return table, max(k.count(".") + 1 for k, _ in keys)


def _last_labels(name: ir.StringValue, k: int) -> ir.StringValue:
    """The name's last ``k`` labels, or NULL when it has fewer (regex: split() is a regex on
    Spark and a literal on DuckDB)."""
    pattern = r"[^.]+$" if k == 1 else r"[^.]+(\.[^.]+){" + str(k - 1) + "}$"
    suffix = name.re_extract(pattern, 0)
    return ibis.cases((suffix.length() > 0, suffix), else_=ibis.null("string"))


def registered_domains(names: ir.Table, column: str = "name") -> ir.Table:
    """``names`` with ``registered_domain`` (the public suffix plus one label, NULL when the
    name is itself a public suffix or malformed) and ``subdomain`` (what is left of it, '' if
    nothing). Give it distinct names: the work is per row.

    Names under a TLD the list does not know (``.internal``, ``.example``, ``.lan``) follow the
    list's default rule: the last label is the public suffix.
    """
    rules_arrow, longest = public_suffix_rules()
    rules = ibis.memtable(rules_arrow)
    name = names[column]
    # Suffixes up to the longest rule key are looked up; two more labels cover a wildcard's
    # extra label and the registered domain's own label.
    suffixes = {f"sf_s{k}": _last_labels(name, k) for k in range(1, longest + 3)}
    wide = names.mutate(**suffixes)
    candidates = ibis.union(
        *[
            wide.select(sf_name=wide[column], sf_k=ibis.literal(k), sf_key=wide[f"sf_s{k}"])
            for k in range(1, longest + 1)
        ],
        distinct=False,
    )
    candidates = candidates.filter(candidates.sf_key.notnull())
    matched = candidates.join(rules, candidates.sf_key == rules.psl_key)
    prevailing = matched.group_by("sf_name").aggregate(
        sf_exception=(matched.sf_k - 1).max(where=matched.psl_exception),
        sf_normal=(matched.sf_k + matched.psl_delta).max(where=~matched.psl_exception),
    )
    joined = wide.left_join(prevailing, wide[column] == prevailing.sf_name)
    joined = joined.mutate(sf_public=ibis.coalesce(joined.sf_exception, joined.sf_normal, 1))
    public = joined.sf_public
    registered = ibis.cases(
        # A leading dot is an empty label: not a domain name.
        (joined[column].startswith("."), ibis.null("string")),
        *[(public == k - 1, joined[f"sf_s{k}"]) for k in range(2, longest + 3)],
        else_=ibis.null("string"),
    )
    with_domain = joined.mutate(registered_domain=registered)
    full = with_domain[column]
    reg = with_domain.registered_domain
    subdomain = ibis.cases(
        (reg.isnull(), ibis.null("string")),
        (full.length() > reg.length() + 1, full.substr(0, full.length() - reg.length() - 1)),
        else_="",
    )
    return with_domain.mutate(subdomain=subdomain).select(
        *names.columns, "registered_domain", "subdomain"
    )


def _count_log_count(count: ir.NumericValue) -> ir.FloatingValue:
    """c * log2(c), 0 for c = 0."""
    as_float = count.cast("float64")
    return ibis.cases((as_float > 0, as_float * as_float.log2()), else_=0.0)


def with_information_bits(table: ir.Table, column: str, out: str) -> ir.Table:
    """``table`` with ``out``: the length of ``column`` (dots not counted) times the Shannon
    entropy of its characters, in bits; about how many bits the string could carry if its
    characters were drawn as they appear. NULL counts as ''.

    Each character of ``ENTROPY_ALPHABET`` is counted by what replacing it removes, so the
    engine evaluates it column-wise with no row per character; other characters form one
    class. Built in stages so the engine gets columns, not one expression repeated 40 times.
    """
    text = table[column].fill_null("")
    counts = {
        f"sf_c{i}": text.length() - text.replace(ch, "").length()
        for i, ch in enumerate(ENTROPY_ALPHABET)
    }
    staged = table.mutate(sf_n=text.replace(".", "").length(), **counts)
    known = [staged[name] for name in counts]
    staged = staged.mutate(sf_other=staged.sf_n - sum(known[1:], known[0]))
    logs = [_count_log_count(staged[name]) for name in counts]
    bits = (
        _count_log_count(staged.sf_n) - sum(logs[1:], logs[0]) - _count_log_count(staged.sf_other)
    )
    staged = staged.mutate(sf_bits=bits)
    value = ibis.cases((staged.sf_n > 0, ibis.greatest(staged.sf_bits, 0.0)), else_=0.0)
    return staged.mutate(**{out: value}).select(*table.columns, out)


def name_scores(names: ir.Table, params: Params = Params(), column: str = "name") -> ir.Table:
    """The per-name tunnel score of distinct names: ``registered_domain``, ``subdomain``,
    ``subdomain_length``, ``subdomain_bits`` and ``name_score`` = 1 - 2^(-bits / half_bits),
    in [0, 1): how much data the part left of the registered domain seems to carry.

    This is the score evaluated on the labelled names in docs/evaluation; the detection
    averages it over the names a client asks under one registered domain.
    """
    split = registered_domains(names, column)
    split = split.mutate(subdomain_length=split.subdomain.fill_null("").length())
    with_bits = with_information_bits(split, "subdomain", "subdomain_bits")
    bits = with_bits.subdomain_bits
    score = 1.0 - (-(bits / params.name_half_bits) * math.log(2.0)).exp()
    return with_bits.mutate(name_score=ibis.cases((bits > 0, score), else_=0.0))


def dns_queries(dns: ir.Table, excluded_ports: tuple[int, ...]) -> ir.Table:
    """The DNS questions worth judging: a client, a name, not NetBIOS/mDNS/LLMNR, with
    ``name`` normalised by :func:`query_name` and ``day`` (UTC)."""
    asked = dns.filter(
        dns.dns_question_name.notnull(),
        dns.dns_question_name != "",
        dns.source_ip.notnull(),
        ~dns.destination_port.fill_null(53).isin(list(excluded_ports)),
    )
    return asked.mutate(name=query_name(asked.dns_question_name), day=asked.timestamp.truncate("D"))


def _excluded(domain: ir.StringValue, suffixes: tuple[str, ...]) -> ir.BooleanValue:
    tests = [(domain == s) | domain.endswith("." + s) for s in suffixes]
    result: ir.BooleanValue = ibis.literal(False)
    for test in tests:
        result = result | test
    return result


@detection(
    id="network.dns_tunneling",
    title="DNS tunnelling (data carried in query names)",
    attack=("T1071.004", "T1572", "T1048"),
    inputs=("dns",),
    severity="medium",
)
def dns_tunneling(dns: ir.Table, params: Params = Params()) -> ir.Table:
    """One alert per client, registered domain and UTC day when the client asked at least
    ``min_unique_names`` distinct names under the domain and at least ``min_data_names`` of
    them look data-carrying.

    The registered domain comes from the bundled Public Suffix List (``x.co.uk`` and
    ``x.duckdns.org`` are registered domains; unknown TLDs such as ``.internal`` use the last
    label). Each distinct name gets a score from the information its subdomain part holds
    (length times character entropy): 1 - 2^(-bits/192), 0.5 at 192 bits. The alert's score
    is ``volume * (0.65 * mean name score + 0.35 * share of TXT/NULL/CNAME/MX/ANY queries)``,
    where the volume grows with log(unique names) and reaches 1 at 300. Severity: high from
    0.75, medium from 0.5, else low. A resolver relaying a client's tunnel is alerted on as a
    client too (its upstream queries are the same names). Known benign look-alikes (anti-virus
    and DNSBL reputation lookups, some CDN load balancers) are left to the allowlist policy.
    The evidence gives the counts, the mean name score, the subdomain lengths and entropy, the
    share and counts per data-carrying type, and an example name.
    """
    asked = dns_queries(dns, params.excluded_ports)
    qtype_name = asked.dns_question_type_name.fill_null("").upper()
    is_data_type = asked.dns_question_type.isin(list(DATA_QUERY_TYPES)).fill_null(
        False
    ) | qtype_name.isin(list(DATA_QUERY_TYPE_NAMES))
    asked = asked.mutate(
        is_data_type=is_data_type.cast("int64"),
        is_txt=(qtype_name == "TXT").cast("int64"),
        is_null=(qtype_name == "NULL").cast("int64"),
        is_cname=(qtype_name == "CNAME").cast("int64"),
    )
    per_name = asked.group_by(["source_ip", "day", "name"]).aggregate(
        queries=asked.count(),
        data_type_queries=asked.is_data_type.sum(),
        txt_queries=asked.is_txt.sum(),
        null_queries=asked.is_null.sum(),
        cname_queries=asked.is_cname.sum(),
        first_seen=asked.timestamp.min(),
        last_seen=asked.timestamp.max(),
        server=asked.destination_ip.max(),
        port=asked.destination_port.max(),
    )
    scored = name_scores(per_name.select("name").distinct(), params)
    named = per_name.join(scored, "name")
    named = named.filter(
        named.registered_domain.notnull(),
        ~_excluded(named.registered_domain, params.excluded_suffixes),
    )
    is_data_name = (named.name_score >= params.data_name_score).cast("int64")
    entropy = ibis.cases(
        (named.subdomain_length > 0, named.subdomain_bits / named.subdomain_length),
        else_=ibis.null("float64"),
    )
    named = named.mutate(is_data_name=is_data_name, entropy=entropy)
    pairs = named.group_by(["source_ip", "day", "registered_domain"]).aggregate(
        queries=named.queries.sum(),
        unique_names=named.count(),
        data_names=named.is_data_name.sum(),
        mean_name_score=named.name_score.mean(),
        mean_subdomain_length=named.subdomain_length.mean(),
        max_subdomain_length=named.subdomain_length.max(),
        mean_entropy_bits_per_char=named.entropy.mean(),
        data_type_queries=named.data_type_queries.sum(),
        txt_queries=named.txt_queries.sum(),
        null_queries=named.null_queries.sum(),
        cname_queries=named.cname_queries.sum(),
        first_seen=named.first_seen.min(),
        last_seen=named.last_seen.max(),
        server=named.server.max(),
        port=named.port.max(),
        example_name=named.name.max(where=named.is_data_name == 1),
    )
    pairs = pairs.filter(
        pairs.unique_names >= params.min_unique_names,
        pairs.data_names >= params.min_data_names,
    )
    volume = ibis.least(
        pairs.unique_names.cast("float64").ln() / math.log(params.unique_names_saturation), 1.0
    )
    type_share = pairs.data_type_queries.cast("float64") / pairs.queries.cast("float64")
    score = volume * (params.name_weight * pairs.mean_name_score + params.type_weight * type_share)
    pairs = pairs.mutate(score=ibis.greatest(ibis.least(score, 1.0), 0.0), type_share=type_share)
    severity = ibis.cases(
        (pairs.score >= params.high_score, "high"),
        (pairs.score >= params.medium_score, "medium"),
        else_="low",
    )
    return pairs.select(
        entity=pairs.source_ip + "|" + pairs.registered_domain,
        window_start=pairs.day,
        first_seen=pairs.first_seen,
        last_seen=pairs.last_seen,
        source_ip=pairs.source_ip,
        destination_ip=pairs.server,
        destination_port=pairs.port,
        destination_domain=pairs.registered_domain,
        score=pairs.score,
        severity=severity,
        evidence=ibis.struct(
            {
                "registered_domain": pairs.registered_domain,
                "queries": pairs.queries,
                "unique_names": pairs.unique_names,
                "data_names": pairs.data_names,
                "mean_name_score": pairs.mean_name_score,
                "volume_score": volume,
                "data_type_share": pairs.type_share,
                "txt_queries": pairs.txt_queries,
                "null_queries": pairs.null_queries,
                "cname_queries": pairs.cname_queries,
                "mean_subdomain_length": pairs.mean_subdomain_length,
                "max_subdomain_length": pairs.max_subdomain_length,
                "mean_entropy_bits_per_char": pairs.mean_entropy_bits_per_char,
                "example_name": pairs.example_name,
            }
        ),
    )
