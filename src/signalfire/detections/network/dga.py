"""Domain generation algorithms: a client asks for many domains that do not exist, and their
names look machine-made.

A bot with a DGA (Conficker, Simda, Necurs, ...) derives dozens to thousands of candidate
domains a day and tries them until one answers, so its resolver answers NXDOMAIN for most of
them, in bursts. Benign NXDOMAINs (WPAD and ISATAP probes, search-suffix appends, stale host
names) repeat a few names under the organisation's own domains.

The "random-looking" score of a name is computed on the label left of its public suffix
(``vocyzit`` in ``vocyzit.com``; the registered domain comes from the bundled Public Suffix
List, see :mod:`signalfire.detections.network.dns_tunneling`), from its character-trigram
unlikelihood under a model of benign names, its character entropy, its longest consonant run
and a letters-and-digits mix. The trigram model is derived, when first used, from data the
package ships: the labels of the Public Suffix List's private section (names of real hosting,
cloud and software companies) and of its top-level domains (brands and generic words).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis import _

from signalfire.detections.network.dns_tunneling import dns_queries, registered_domains
from signalfire.detections.registry import detection

#: The characters of the trigram model: hostname letters, digits and the hyphen, plus "$" for
#: the end of the label ("^" marks its start but never follows anything).
MODEL_ALPHABET_SIZE = 38
_LABEL = re.compile(r"^[a-z0-9-]{3,63}$")
_CONSONANTS = "[bcdfghjklmnpqrstvwxz]"
# A label is at most 63 bytes; Zeek writes an odd byte as \xNN, four characters.
_LONGEST_LABEL = 252


@dataclass(frozen=True)
class Params:
    # Per client and UTC day: distinct registered domains that answered NXDOMAIN. Benign
    # failures repeat a few names (WPAD, stale hosts, search suffixes), a handful of domains a
    # day; DGA bots try dozens to thousands.
    min_nx_domains: int = 10
    # The burst sub-score is 1 at this many distinct failing domains in one hour, or at
    # ``day_saturation`` over the day (bots that spread their tries).
    burst_saturation: int = 30
    day_saturation: int = 100
    # How much the names' randomness moves the score: volume alone gives 0.4 of it, so a burst
    # of failing dictionary-word domains (a misconfigured client) stays low severity.
    volume_floor: float = 0.4
    # Calibration of the randomness of one label. Trigram unlikelihood (mean negative
    # log-probability per trigram, nats): 2.9 is the 90th percentile of the model's own corpus
    # (and the median of popular domain names it never saw); 3.8 the median of uniformly random
    # strings of letters and digits.
    ngram_benign: float = 2.9
    ngram_random: float = 3.8
    # Entropy per character (bits), counted only on labels of at least ``min_entropy_length``
    # characters (shorter strings cannot show theirs): 3.0 is the corpus median at that
    # length, random strings of 8-20 characters have a median of 3.4.
    entropy_low: float = 3.0
    entropy_high: float = 3.5
    min_entropy_length: int = 8
    # Longest consonant run: the corpus has a median of 2 and a 90th percentile of 3.
    consonant_run_low: int = 3
    consonant_run_high: int = 6
    # Weights of the sub-scores in the randomness (sum 1): the trigram model is the most
    # robust; the others catch what it misses (hex-like or consonant-heavy strings).
    ngram_weight: float = 0.55
    entropy_weight: float = 0.15
    consonant_weight: float = 0.15
    digit_weight: float = 0.15
    # Labels shorter than this cannot be judged (``msn``, ``x``): randomness is scaled down by
    # length / min_judged_length. DGAs use longer labels so their tries rarely collide.
    min_judged_length: int = 6
    # A name counts as random-looking from this randomness (evidence: random_domains).
    random_name: float = 0.5
    # Add-k smoothing of the trigram model: unseen trigrams cost log(k / (context + k * 38)).
    smoothing: float = 0.5
    # Severity steps on the score.
    medium_score: float = 0.5
    high_score: float = 0.75
    # Not real unicast DNS: NetBIOS name service, mDNS and LLMNR land in Zeek's dns.log too.
    excluded_ports: tuple[int, ...] = (137, 5353, 5355)


@cache
def benign_label_corpus() -> tuple[str, ...]:
    """Labels of benign names from the bundled Public Suffix List: every label of its private
    section (companies' real domain names) and its one-label ICANN rules (TLDs: brands and
    generic words). Its multi-label ICANN rules are left out: they are mostly place names of
    a few countries, whose syllables would make pronounceable DGAs look benign."""
    text = resources.files("signalfire.data").joinpath("public_suffix_list.dat").read_text("utf-8")
    labels: set[str] = set()
    private = False
    for line in text.splitlines():
        if "===BEGIN PRIVATE DOMAINS===" in line:
            private = True
        words = line.split()
        if not words or words[0].startswith("//"):
            continue
        parts = words[0].lower().lstrip("!*.").split(".")
        if not private and len(parts) > 1:
            continue
        labels.update(p for p in parts if _LABEL.match(p) and not p.startswith("xn--"))
    return tuple(sorted(labels))


@cache
def trigram_model(smoothing: float) -> tuple[pa.Table, pa.Table]:
    """(trigram -> log-probability, context -> log-probability of an unseen trigram), add-k
    smoothed conditional probabilities P(c3 | c1 c2) over labels padded as ^label$."""
    trigrams: Counter[str] = Counter()
    contexts: Counter[str] = Counter()
    for label in benign_label_corpus():
        padded = f"^{label}$"
        for i in range(len(padded) - 2):
            trigrams[padded[i : i + 3]] += 1
            contexts[padded[i : i + 2]] += 1
    denominator = {c: n + smoothing * MODEL_ALPHABET_SIZE for c, n in contexts.items()}
    seen = sorted(trigrams)
    model = pa.table(
        {
            "sf_trigram": seen,
            "sf_logp": [math.log((trigrams[t] + smoothing) / denominator[t[:2]]) for t in seen],
        }
    )
    known = sorted(contexts)
    unseen = pa.table(
        {
            "sf_context": known,
            "sf_unseen_logp": [math.log(smoothing / denominator[c]) for c in known],
        }
    )
    return model, unseen


def _clip(value: ir.FloatingValue) -> ir.FloatingValue:
    return ibis.greatest(ibis.least(value, 1.0), 0.0)


def _ramp(value: ir.NumericValue, low: float, high: float) -> ir.FloatingValue:
    return _clip((value.cast("float64") - low) / (high - low))


def label_randomness(
    labels: ir.Table, params: Params = Params(), column: str = "label"
) -> ir.Table:
    """Distinct labels with their randomness in [0, 1] and its parts: ``ngram_nll`` (mean
    negative log-probability of the label's character trigrams under the benign model),
    ``entropy`` (bits per character), ``consonant_run`` (longest, up to 7) and ``digit_mix``
    (letters and digits interleaved at least twice)."""
    model_arrow, unseen_arrow = trigram_model(params.smoothing)
    model = ibis.memtable(model_arrow)
    unseen = ibis.memtable(unseen_arrow)
    positions = ibis.memtable(pa.table({"sf_pos": pa.array(range(_LONGEST_LABEL + 2), pa.int64())}))
    base = labels.filter(labels[column].notnull(), labels[column] != "")
    padded = base.select(sf_label=base[column], sf_padded="^" + base[column] + "$")
    # One row per trigram of each label (a label of n characters padded to n + 2 has n).
    grams = padded.join(positions, positions.sf_pos < padded.sf_padded.length() - 2)
    grams = grams.select(
        "sf_label",
        sf_trigram=grams.sf_padded.substr(grams.sf_pos, 3),
        sf_context=grams.sf_padded.substr(grams.sf_pos, 2),
        # Position i of the label is position i + 1 of the padded label.
        sf_char=grams.sf_padded.substr(grams.sf_pos + 1, 1),
    ).view()
    # Entropy from the same rows: one per character of the label.
    chars = grams.group_by(["sf_label", "sf_char"]).aggregate(sf_count=_.count())
    chars = chars.mutate(sf_count=chars.sf_count.cast("float64"))
    chars = chars.group_by("sf_label").aggregate(
        sf_n=chars.sf_count.sum(), sf_clogc=(chars.sf_count * chars.sf_count.log2()).sum()
    )
    entropy = chars.select(
        sf_entropy_label="sf_label", entropy=chars.sf_n.log2() - chars.sf_clogc / chars.sf_n
    )
    grams = grams.left_join(model, "sf_trigram").select("sf_label", "sf_context", "sf_logp")
    grams = grams.left_join(unseen, "sf_context").select("sf_label", "sf_logp", "sf_unseen_logp")
    logp = ibis.coalesce(grams.sf_logp, grams.sf_unseen_logp, -math.log(MODEL_ALPHABET_SIZE))
    grams = grams.mutate(sf_lp=logp)
    nll = grams.group_by("sf_label").aggregate(ngram_nll=-grams.sf_lp.mean())

    run = sum(
        (
            base[column].re_search(_CONSONANTS + "{" + str(k) + "}").cast("int64")
            for k in range(2, 8)
        ),
        base[column].re_search(_CONSONANTS).cast("int64"),
    )
    digit_mix = base[column].re_search("[a-z][0-9]+[a-z]+[0-9]") | base[column].re_search(
        "[0-9][a-z]+[0-9]+[a-z]"
    )
    staged = base.mutate(consonant_run=run, digit_mix=digit_mix, sf_length=base[column].length())
    joined = staged.join(nll, staged[column] == nll.sf_label)
    joined = joined.join(entropy, joined[column] == entropy.sf_entropy_label)
    entropy_part = ibis.cases(
        (
            joined.sf_length >= params.min_entropy_length,
            _ramp(joined.entropy, params.entropy_low, params.entropy_high),
        ),
        else_=0.0,
    )
    randomness = (
        params.ngram_weight * _ramp(joined.ngram_nll, params.ngram_benign, params.ngram_random)
        + params.entropy_weight * entropy_part
        + params.consonant_weight
        * _ramp(joined.consonant_run, params.consonant_run_low, params.consonant_run_high)
        + params.digit_weight * joined.digit_mix.cast("float64")
    )
    judged = ibis.least(joined.sf_length.cast("float64") / params.min_judged_length, 1.0)
    return joined.select(
        *labels.columns,
        "ngram_nll",
        "entropy",
        "consonant_run",
        "digit_mix",
        randomness=_clip(randomness) * judged,
    )


def _is_nxdomain(dns: ir.Table) -> ir.BooleanValue:
    by_name = dns.dns_response_code_name.fill_null("").upper() == "NXDOMAIN"
    return by_name | (dns.dns_response_code == 3).fill_null(False)


@detection(
    id="network.dga",
    title="Domain generation algorithm (bursts of failing, random-looking domains)",
    attack=("T1568.002",),
    inputs=("dns",),
    severity="medium",
)
def dga(dns: ir.Table, params: Params = Params()) -> ir.Table:
    """One alert per client and UTC day when at least ``min_nx_domains`` distinct registered
    domains it asked for answered NXDOMAIN.

    Registered domains come from the bundled Public Suffix List (one-label names such as
    ``wpad`` or Chrome's random intranet probes have none and are not counted). Each domain's
    label left of the public suffix gets a randomness in [0, 1] from its character-trigram
    unlikelihood under a model of benign names derived from the bundled list (weight 0.55),
    its entropy (0.15), its longest consonant run (0.15) and interleaved letters and digits
    (0.15), scaled down for labels under 6 characters. The score is
    ``burst * (0.4 + 0.6 * mean randomness of the failing domains)``, where the burst is 1 at
    30 failing domains in one hour or 100 in the day. Severity: high from 0.75, medium from
    0.5, else low. The evidence gives the counts per day and in the peak hour, the mean
    randomness, how many of all the client's domains look random, and example domains.
    """
    asked = dns_queries(dns, params.excluded_ports)
    asked = asked.mutate(is_nx=_is_nxdomain(asked))
    # The failures decide who is a candidate; they are a small share of DNS, so everything
    # else is computed only for the candidates' days.
    failed = asked.filter(asked.is_nx).mutate(hour=asked.timestamp.truncate("h"))
    failed_names = failed.group_by(["source_ip", "hour", "name"]).aggregate(
        nx_answers=failed.count(),
        first_seen=failed.timestamp.min(),
        last_seen=failed.timestamp.max(),
        server=failed.destination_ip.max(),
        port=failed.destination_port.max(),
    )
    domains = registered_domains(failed_names.select("name").distinct())
    failed_names = failed_names.join(domains, "name").filter(_.registered_domain.notnull())
    failed_hours = failed_names.group_by(["source_ip", "hour", "registered_domain"]).aggregate(
        nx_answers=failed_names.nx_answers.sum(),
        first_seen=failed_names.first_seen.min(),
        last_seen=failed_names.last_seen.max(),
        server=failed_names.server.max(),
        port=failed_names.port.max(),
    )
    failed_hours = failed_hours.mutate(day=failed_hours.hour.truncate("D"))
    peak = (
        failed_hours.group_by(["source_ip", "day", "hour"])
        .aggregate(nx_domains=_.count())
        .group_by(["source_ip", "day"])
        .aggregate(peak_hour_nx_domains=_.nx_domains.max())
    )
    failing = failed_hours.group_by(["source_ip", "day", "registered_domain"]).aggregate(
        nx_answers=failed_hours.nx_answers.sum(),
        first_seen=failed_hours.first_seen.min(),
        last_seen=failed_hours.last_seen.max(),
        server=failed_hours.server.max(),
        port=failed_hours.port.max(),
    )
    failing = failing.mutate(label=failing.registered_domain.re_extract(r"^[^.]+", 0))
    failing = failing.join(label_randomness(failing.select("label").distinct(), params), "label")
    is_random = failing.randomness >= params.random_name
    clients = failing.group_by(["source_ip", "day"]).aggregate(
        nx_answers=failing.nx_answers.sum(),
        nx_domains=failing.count(),
        random_nx_domains=is_random.cast("int64").sum(),
        mean_nx_randomness=failing.randomness.mean(),
        first_seen=failing.first_seen.min(),
        last_seen=failing.last_seen.max(),
        server=failing.server.max(),
        port=failing.port.max(),
        example_nx_domain=failing.registered_domain.max(where=is_random),
        first_nx_domain=failing.registered_domain.min(),
    )
    clients = clients.filter(clients.nx_domains >= params.min_nx_domains)

    # Context for the analyst: everything the candidates asked that day.
    day_of = asked.timestamp.truncate("D")
    candidates = clients.select(sf_ip="source_ip", sf_day="day")
    context = asked.mutate(day=day_of).join(
        candidates, [_.source_ip == candidates.sf_ip, _.day == candidates.sf_day]
    )
    context_names = context.group_by(["source_ip", "day", "name"]).aggregate(
        queries=context.count()
    )
    context_names = context_names.join(
        registered_domains(context_names.select("name").distinct()), "name"
    ).filter(_.registered_domain.notnull())
    asked_domains = context_names.group_by(["source_ip", "day", "registered_domain"]).aggregate(
        queries=_.queries.sum()
    )
    asked_domains = asked_domains.mutate(
        label=asked_domains.registered_domain.re_extract(r"^[^.]+", 0)
    )
    asked_domains = asked_domains.join(
        label_randomness(asked_domains.select("label").distinct(), params), "label"
    )
    context_counts = asked_domains.group_by(["source_ip", "day"]).aggregate(
        queries=asked_domains.queries.sum(),
        domains=asked_domains.count(),
        random_domains=(asked_domains.randomness >= params.random_name).cast("int64").sum(),
    )
    clients = clients.join(context_counts, ["source_ip", "day"])
    clients = clients.join(peak, ["source_ip", "day"])
    burst = ibis.greatest(
        _ramp(clients.peak_hour_nx_domains, 0.0, float(params.burst_saturation)),
        _ramp(clients.nx_domains, 0.0, float(params.day_saturation)),
    )
    names_part = params.volume_floor + (1.0 - params.volume_floor) * clients.mean_nx_randomness
    clients = clients.mutate(burst=burst, score=_clip(burst * names_part))
    severity = ibis.cases(
        (clients.score >= params.high_score, "high"),
        (clients.score >= params.medium_score, "medium"),
        else_="low",
    )
    return clients.select(
        entity=clients.source_ip,
        window_start=clients.day,
        first_seen=clients.first_seen,
        last_seen=clients.last_seen,
        source_ip=clients.source_ip,
        destination_ip=clients.server,
        destination_port=clients.port,
        destination_domain=ibis.null("string"),
        score=clients.score,
        severity=severity,
        evidence=ibis.struct(
            {
                "nx_domains": clients.nx_domains,
                "peak_hour_nx_domains": clients.peak_hour_nx_domains,
                "nx_answers": clients.nx_answers,
                "burst_score": clients.burst,
                "mean_nx_randomness": clients.mean_nx_randomness,
                "random_nx_domains": clients.random_nx_domains,
                "random_domains": clients.random_domains,
                "domains": clients.domains,
                "queries": clients.queries,
                "example_nx_domain": ibis.coalesce(
                    clients.example_nx_domain, clients.first_nx_domain
                ),
            }
        ),
    )
