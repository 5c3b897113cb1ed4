"""Evaluation of the DNS detections (network.dns_tunneling, network.dga) on real and simulated
data; the figures are written up in docs/evaluation/network.dns_tunneling.md and
docs/evaluation/network.dga.md.

* The registered domain, computed in the engine from the bundled Public Suffix List, agrees
  with the list's own conformance cases.
* The per-name tunnel score, through the detection's own expression on DuckDB, separates the
  labelled names of ``../shared/data/dns-tunnel/validate.csv``; asked by one client, they raise
  exactly one alert per tunnel domain.
* The Simda-infected host of ``zeek/stratosphere/005-zeek-scenario-malicious`` is flagged by
  network.dga, and nothing else is.
* On the simulated day the injected tunnel is found (client and relaying resolver), and no
  other dns_tunneling or dga alert reaches medium.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import ibis
import numpy as np

from signalfire.detections.network.dns_tunneling import (
    Params,
    dns_tunneling,
    name_scores,
    query_name,
    registered_domains,
)
from signalfire.simulate.scoring import SEVERITY_ORDER, matches
from signalfire.store import Store
from signalfire.store.alerts import list_alerts

# The Public Suffix List's conformance cases (publicsuffix.org test file, public domain):
# name -> registered domain (None: the name is a public suffix or is malformed).
PSL_CASES: list[tuple[str, str | None]] = [
    ("COM", None),
    ("example.COM", "example.com"),
    ("WwW.example.COM", "example.com"),
    (".com", None),
    (".example", None),
    (".example.com", None),
    (".example.example", None),
    ("example", None),
    ("example.example", "example.example"),
    ("b.example.example", "example.example"),
    ("a.b.example.example", "example.example"),
    ("biz", None),
    ("domain.biz", "domain.biz"),
    ("b.domain.biz", "domain.biz"),
    ("a.b.domain.biz", "domain.biz"),
    ("com", None),
    ("example.com", "example.com"),
    ("b.example.com", "example.com"),
    ("a.b.example.com", "example.com"),
    ("uk.com", None),
    ("example.uk.com", "example.uk.com"),
    ("b.example.uk.com", "example.uk.com"),
    ("a.b.example.uk.com", "example.uk.com"),
    ("test.ac", "test.ac"),
    ("mm", None),
    ("c.mm", None),
    ("b.c.mm", "b.c.mm"),
    ("a.b.c.mm", "b.c.mm"),
    ("jp", None),
    ("test.jp", "test.jp"),
    ("www.test.jp", "test.jp"),
    ("ac.jp", None),
    ("test.ac.jp", "test.ac.jp"),
    ("www.test.ac.jp", "test.ac.jp"),
    ("kyoto.jp", None),
    ("test.kyoto.jp", "test.kyoto.jp"),
    ("ide.kyoto.jp", None),
    ("b.ide.kyoto.jp", "b.ide.kyoto.jp"),
    ("a.b.ide.kyoto.jp", "b.ide.kyoto.jp"),
    ("c.kobe.jp", None),
    ("b.c.kobe.jp", "b.c.kobe.jp"),
    ("a.b.c.kobe.jp", "b.c.kobe.jp"),
    ("city.kobe.jp", "city.kobe.jp"),
    ("www.city.kobe.jp", "city.kobe.jp"),
    ("ck", None),
    ("test.ck", None),
    ("b.test.ck", "b.test.ck"),
    ("a.b.test.ck", "b.test.ck"),
    ("www.ck", "www.ck"),
    ("www.www.ck", "www.ck"),
    ("us", None),
    ("test.us", "test.us"),
    ("www.test.us", "test.us"),
    ("ak.us", None),
    ("test.ak.us", "test.ak.us"),
    ("www.test.ak.us", "test.ak.us"),
    ("k12.ak.us", None),
    ("test.k12.ak.us", "test.k12.ak.us"),
    ("www.test.k12.ak.us", "test.k12.ak.us"),
    ("食狮.com.cn", "食狮.com.cn"),
    ("食狮.公司.cn", "食狮.公司.cn"),
    ("www.食狮.公司.cn", "食狮.公司.cn"),
    ("shishi.公司.cn", "shishi.公司.cn"),
    ("公司.cn", None),
    ("食狮.中国", "食狮.中国"),
    ("www.食狮.中国", "食狮.中国"),
    ("shishi.中国", "shishi.中国"),
    ("中国", None),
    ("xn--85x722f.com.cn", "xn--85x722f.com.cn"),
    ("xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("www.xn--85x722f.xn--55qx5d.cn", "xn--85x722f.xn--55qx5d.cn"),
    ("shishi.xn--55qx5d.cn", "shishi.xn--55qx5d.cn"),
    ("xn--55qx5d.cn", None),
    ("xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"),
    ("www.xn--85x722f.xn--fiqs8s", "xn--85x722f.xn--fiqs8s"),
    ("shishi.xn--fiqs8s", "shishi.xn--fiqs8s"),
    ("xn--fiqs8s", None),
    # Beyond the list's file: what DNS logs hold.
    ("x.duckdns.org.", "x.duckdns.org"),
    ("A.B.Example.CO.UK", "example.co.uk"),
    ("4.3.2.1.in-addr.arpa", "1.in-addr.arpa"),
    ("wpad", None),
    ("data..hidemyself.org", "hidemyself.org"),
]

SIMDA = "zeek/stratosphere/005-zeek-scenario-malicious"
# The infected host: its HTTP goes to the DGA domains; it asks for them over IPv4 and IPv6.
SIMDA_HOST = ("192.168.1.116", "fd77:48a1:c0bb:0:b96c:506d:6c7f:e8be")

# Floors on the validate split (measured: ROC-AUC 1.000, precision 1.000, recall 0.743; the
# recall is bounded by the tools' short keep-alive and poll queries, which carry no data and
# are caught only through the per-domain volume, see the evaluation document).
MIN_AUC = 0.99
MIN_PRECISION = 0.99
MIN_RECALL = 0.70


def roc_auc(labels: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float:
    """Mann-Whitney ROC-AUC with ties counted half."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    _, inverse = np.unique(scores, return_inverse=True)
    ranks = (np.bincount(inverse, ranks) / np.bincount(inverse))[inverse]
    positives = int(labels.sum())
    negatives = len(labels) - positives
    return float(
        (ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    )


def _labelled(path: Path) -> tuple[list[str], np.ndarray[Any, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = [(int(label), name) for label, name in csv.reader(handle)]
    return [name for _, name in rows], np.array([label for label, _ in rows])


def _name_scores(names: list[str]) -> np.ndarray[Any, Any]:
    """The detection's per-name score of each name, computed on DuckDB."""
    table = ibis.memtable({"query": names})
    table = table.select(query=table.query, name=query_name(table.query))
    scored = table.join(name_scores(table.select("name").distinct()), "name")
    result = ibis.duckdb.connect().execute(scored.select("query", "name_score"))
    by_name = dict(zip(result["query"], result["name_score"], strict=True))
    return np.array([by_name[n] for n in names])


def test_registered_domain_follows_the_public_suffix_list() -> None:
    names = ibis.memtable({"query": [name for name, _ in PSL_CASES]})
    names = names.select(query=names.query, name=query_name(names.query))
    result = ibis.duckdb.connect().execute(registered_domains(names))
    got = {
        q: (None if r is None or r != r else r)
        for q, r in zip(result["query"], result["registered_domain"], strict=True)
    }
    wrong = {n: (got[n], want) for n, want in PSL_CASES if got[n] != (want and want.lower())}
    assert not wrong


def test_tunnel_name_score_on_labelled_names(shared_data: Path) -> None:
    names, labels = _labelled(shared_data / "dns-tunnel" / "validate.csv")
    scores = _name_scores(names)
    predicted = scores >= Params().data_name_score
    true_positives = int((predicted & (labels == 1)).sum())
    precision = true_positives / int(predicted.sum())
    recall = true_positives / int((labels == 1).sum())
    auc = roc_auc(labels, scores)
    assert auc >= MIN_AUC, auc
    assert precision >= MIN_PRECISION, precision
    assert recall >= MIN_RECALL, recall


def test_labelled_names_asked_by_one_client_alert_once_per_tunnel_domain(
    shared_data: Path,
) -> None:
    """How name scores become alerts: every validate name asked once by one client in one
    day; the tunnels' registered domains alert, the 1,000 benign domains (one name each) do
    not."""
    names, labels = _labelled(shared_data / "dns-tunnel" / "validate.csv")
    n = len(names)
    dns = ibis.memtable(
        {
            "timestamp": [datetime(2026, 3, 2, 12, 0, 0)] * n,
            "source_ip": ["10.0.0.5"] * n,
            "destination_ip": ["10.0.0.53"] * n,
            "destination_port": [53] * n,
            "dns_question_name": names,
            "dns_question_type": [1] * n,
            "dns_question_type_name": ["A"] * n,
        }
    )
    alerts = ibis.duckdb.connect().execute(dns_tunneling(dns))
    # The three tunnels' registered domains are all of the form x.org.
    tunnels = {
        ".".join(name.lower().rstrip(".").split(".")[-2:])
        for name, label in zip(names, labels, strict=True)
        if label == 1
    }
    assert (
        set(alerts["destination_domain"])
        == tunnels
        == {
            "hidemyself.org",
            "tuns.org",
            "example.org",
        }
    )


def test_simda_host_is_flagged_by_dga(shared_store: Any) -> None:
    store = shared_store(SIMDA, only=["network.dga", "network.dns_tunneling"])
    alerts = list_alerts(store.con)
    dga = {a["source_ip"]: a for a in alerts if a["detection"] == "network.dga"}
    assert set(dga) == set(SIMDA_HOST), sorted(dga)
    # The IPv6 side asked for most of the domains: a burst of 113 failing ones in minutes.
    assert dga[SIMDA_HOST[1]]["severity"] in ("medium", "high", "critical")
    assert dga[SIMDA_HOST[1]]["evidence"]["nx_domains"] >= 100
    assert not [a for a in alerts if a["detection"] == "network.dns_tunneling"]


def test_simulated_tunnel_found_and_no_other_dns_alert(
    simulated: tuple[Path, dict[str, Any]],
) -> None:
    db, truth = simulated
    tunnel = next(a for a in truth["attacks"] if a["kind"] == "dns_tunnel")
    with Store.open(db, read_only=True) as store:
        alerts = list_alerts(store.con, detection=["network.dns_tunneling", "network.dga"])
    found = [a for a in alerts if matches(a, tunnel)]
    assert {a["source_ip"] for a in found} == {tunnel["source_ip"], tunnel["relay_ip"]}
    assert all(a["detection"] == "network.dns_tunneling" for a in found)
    assert all(a["severity"] == "high" for a in found)
    others = [a for a in alerts if not matches(a, tunnel)]
    medium = SEVERITY_ORDER.index("medium")
    assert not [a for a in others if SEVERITY_ORDER.index(a["severity"]) >= medium], others
