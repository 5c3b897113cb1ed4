"""Score alerts against a simulation's ground truth: which injected attacks were found, and how
many of the alerts above a severity are explained by an injected attack (precision)."""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")


def _endpoints(attack: dict[str, Any]) -> tuple[set[str], set[str], list[Any]]:
    sources = {attack.get("source_ip")}
    targets = {
        attack.get("destination_ip"),
        attack.get("destination_domain"),
        attack.get("upstream_destination_ip"),
        attack.get("relay_ip"),
    }
    # A proxy or resolver relays the attack: its own leg (relay -> C2) is the same attack.
    for relay in ("relay_ip",):
        if attack.get(relay):
            sources.add(attack[relay])
    if attack.get("upstream_destination_ip"):
        sources.add(attack.get("destination_ip"))
    networks = []
    for value in list(targets):
        if isinstance(value, str) and "/" in value:
            networks.append(ipaddress.ip_network(value, strict=False))
    return {s for s in sources if s}, {t for t in targets if t}, networks


def matches(alert: dict[str, Any], attack: dict[str, Any]) -> bool:
    """The alert is about this attack: an expected detection and the attack's endpoints."""
    detections = {attack["expected_detection"], *attack.get("secondary_detections", [])}
    if alert["detection"] not in detections:
        return False
    sources, targets, networks = _endpoints(attack)
    if alert.get("source_ip") not in sources:
        return False
    dest_ip, dest_domain = alert.get("destination_ip"), alert.get("destination_domain")
    if dest_ip in targets or dest_domain in targets:
        return True
    if dest_domain and any(dest_domain.endswith("." + t) for t in targets if isinstance(t, str)):
        return True
    if dest_ip and networks:
        try:
            address = ipaddress.ip_address(dest_ip)
        except ValueError:
            return False
        return any(address in n for n in networks)
    # Sweeps have no single destination: the source and the detection are the match.
    return dest_ip is None and dest_domain is None and bool(networks)


@dataclass
class Score:
    """Recall per attack and precision per detection."""

    found: dict[str, list[str]] = field(default_factory=dict)  # attack id -> alert ids
    missed: list[str] = field(default_factory=list)
    true_positives: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    false_positives: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    @property
    def recall(self) -> float:
        total = len(self.found) + len(self.missed)
        return len(self.found) / total if total else 1.0

    @property
    def precision(self) -> float:
        tp = sum(self.true_positives.values())
        fp = sum(len(v) for v in self.false_positives.values())
        return tp / (tp + fp) if tp + fp else 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "recall": self.recall,
            "precision": self.precision,
            "found": sorted(self.found),
            "missed": self.missed,
            "true_positives": dict(self.true_positives),
            "false_positives": {k: len(v) for k, v in self.false_positives.items()},
        }


def score(
    alerts: list[dict[str, Any]], ground_truth: dict[str, Any], *, above: str = "medium"
) -> Score:
    """Recall: an attack is found when an alert of its expected detection matches it (any
    severity). Precision: among alerts more severe than ``above``, the share that match an
    attack."""
    result = Score()
    attacks = ground_truth["attacks"]
    for attack in attacks:
        hits = [
            a["id"]
            for a in alerts
            if a["detection"] == attack["expected_detection"] and matches(a, attack)
        ]
        if hits:
            result.found[attack["id"]] = hits
        else:
            result.missed.append(attack["id"])
    floor = SEVERITY_ORDER.index(above)
    for alert in alerts:
        if SEVERITY_ORDER.index(alert["severity"]) <= floor:
            continue
        if any(matches(alert, attack) for attack in attacks):
            result.true_positives[alert["detection"]] += 1
        else:
            result.false_positives[alert["detection"]].append(alert)
    return result
