"""Confidence decay of indicators: MISP's polynomial model, in Python and as an engine expression.

MISP scores an attribute as ``score(t) = base × (1 − (t / τ)^(1/δ))``, where ``t`` is the time
since the indicator was last asserted (its last sighting or modification), ``τ`` the lifetime
and ``δ`` the decay speed (δ = 1 is linear; δ > 1 drops fast at first, then slowly; δ < 1 holds
the score up, then drops). Below a threshold the indicator is *expired* and stops alerting; an
indicator whose ``valid_until`` has passed, or that was revoked, is expired whatever its score.

One deliberate difference from MISP: for a time *before* the reference (an event older than
the intelligence, the usual case when hunting back through stored logs with new intelligence)
MISP scores 0; we score the base confidence, because the infrastructure an indicator names was
typically in use before it was reported, and retro-hunting is the point of keeping logs.

The lifetime depends on the indicator type (an IP address is re-assigned within weeks, a file
hash names the same file forever). Every parameter is a setting (``signalfire.settings``):
``SIGNALFIRE_INTEL_DECAY_LIFETIMES``, ``..._DECAY_SPEED``, ``..._DECAY_THRESHOLD``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from signalfire import settings
from signalfire.errors import ConfigError

if TYPE_CHECKING:
    import ibis.expr.types as ir

DAY_SECONDS = 86_400.0

#: Lifetime τ in days per indicator type. Addresses move quickly (cloud and dynamic hosting
#: re-assign them within weeks), names and URLs more slowly, file and certificate hashes
#: identify the same bytes for ever (they decay only because the campaign ends). ``default``
#: is MISP's "NIDS simple" model's 120 days.
DEFAULT_LIFETIMES: dict[str, float] = {
    "ipv4": 30,
    "ipv6": 30,
    "ipv4_cidr": 90,
    "ipv6_cidr": 90,
    "domain": 90,
    "url": 60,
    "email": 180,
    "md5": 365,
    "sha1": 365,
    "sha256": 365,
    "sha512": 365,
    "x509_serial": 365,
    "x509_md5": 365,
    "x509_sha1": 365,
    "x509_sha256": 365,
    "ja3": 180,
    "ja3s": 180,
    "ja4": 180,
    "hassh": 180,
    "hassh_server": 180,
    "default": 120,
}


@dataclass(frozen=True)
class DecayModel:
    """MISP's polynomial decay model with a lifetime per indicator type.

    Attributes:
        lifetimes: τ in days per type; ``default`` applies to the other types.
        speed: δ, the decay speed (MISP's "NIDS simple" model uses 2).
        threshold: score below which an indicator is expired (MISP's default, 30).
    """

    lifetimes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_LIFETIMES))
    speed: float = 2.0
    threshold: float = 30.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ConfigError(f"decay speed must be more than 0 (got {self.speed})")
        if "default" not in self.lifetimes:
            raise ConfigError("decay lifetimes need a 'default' entry")

    @classmethod
    def from_settings(cls, environ: Mapping[str, str] | None = None) -> DecayModel:
        """The model the settings (``SIGNALFIRE_INTEL_DECAY_*``) describe."""
        return cls(
            lifetimes={**DEFAULT_LIFETIMES, **settings.get("intel_decay_lifetimes", environ)},
            speed=float(settings.get("intel_decay_speed", environ)),
            threshold=float(settings.get("intel_decay_threshold", environ)),
        )

    def lifetime_days(self, indicator_type: str) -> float:
        """τ in days for an indicator type."""
        return float(self.lifetimes.get(indicator_type, self.lifetimes["default"]))

    def score(self, base: float, elapsed_seconds: float, indicator_type: str) -> float:
        """The decayed confidence ``elapsed_seconds`` after the reference time.

        Equals ``base`` at (and before) the reference, falls monotonically and is 0 from τ on.
        """
        tau = self.lifetime_days(indicator_type) * DAY_SECONDS
        t = max(elapsed_seconds, 0.0)
        if t >= tau:
            return 0.0
        return max(base * (1.0 - float((t / tau) ** (1.0 / self.speed))), 0.0)

    def current_confidence(
        self, base: float, reference: datetime | None, at: datetime, indicator_type: str
    ) -> float:
        """The confidence at ``at`` of an indicator last asserted at ``reference``.

        Both datetimes must be alike (both naive UTC, as the store keeps them, or both aware).
        Without a reference time the confidence does not decay.
        """
        if reference is None:
            return float(base)
        return self.score(float(base), (at - reference).total_seconds(), indicator_type)

    def is_expired(
        self,
        base: float,
        reference: datetime | None,
        at: datetime,
        indicator_type: str,
        valid_until: datetime | None = None,
        revoked: bool = False,
    ) -> bool:
        """Whether the indicator no longer alerts at ``at``."""
        if revoked or (valid_until is not None and valid_until <= at):
            return True
        return self.current_confidence(base, reference, at, indicator_type) < self.threshold

    # -- engine side ---------------------------------------------------------------------

    def _tau_seconds_expr(self, indicator_type: ir.StringValue) -> ir.FloatingValue:
        import ibis

        default = self.lifetime_days("default") * DAY_SECONDS
        branches = [
            (indicator_type == name, float(days) * DAY_SECONDS)
            for name, days in sorted(self.lifetimes.items())
            if name != "default"
        ]
        if not branches:
            return ibis.literal(default)
        return ibis.cases(*branches, else_=default)

    def confidence_expr(
        self,
        indicators: ir.Table,
        at: ir.TimestampValue | datetime | None = None,
    ) -> ir.FloatingValue:
        """An Ibis expression of each indicator's confidence at ``at``.

        ``at`` may be a column (the event's timestamp, in a join) or a literal; default now.
        Uses the ``type``, ``confidence`` and ``decay_from`` columns of the indicators table.
        Runs on every Ibis backend (only arithmetic, ``epoch_seconds`` and ``cases``).
        """
        import ibis

        when = _as_timestamp(at)
        base = indicators.confidence.cast("float64")
        tau = self._tau_seconds_expr(indicators.type)
        elapsed = when.epoch_seconds().cast("float64") - indicators.decay_from.epoch_seconds().cast(
            "float64"
        )
        ratio = ibis.greatest(elapsed, 0.0) / tau
        decayed = base * (1.0 - ibis.least(ratio, 1.0) ** (1.0 / self.speed))
        return indicators.decay_from.isnull().ifelse(base, ibis.greatest(decayed, 0.0))

    def expired_expr(
        self,
        indicators: ir.Table,
        at: ir.TimestampValue | datetime | None = None,
    ) -> ir.BooleanValue:
        """An Ibis expression: the indicator is expired (or revoked) at ``at``."""
        when = _as_timestamp(at)
        past_validity = indicators.valid_until.notnull() & (indicators.valid_until <= when)
        low = self.confidence_expr(indicators, at) < self.threshold
        return indicators.revoked.fill_null(False) | past_validity.fill_null(False) | low

    def confidence_sql(self, at_sql: str = "now()::TIMESTAMP", alias: str = "") -> str:
        """The same as ``confidence_expr``, as DuckDB SQL over the indicators table's columns.

        Args:
            at_sql: an SQL expression of the time to score at (e.g. an event's ``timestamp``).
            alias: a table alias to qualify the indicator columns with (``i`` gives ``i.type``).
        """
        p = f"{alias}." if alias else ""
        tau_cases = " ".join(
            f"WHEN '{name}' THEN {float(days) * DAY_SECONDS!r}"
            for name, days in sorted(self.lifetimes.items())
            if name != "default" and "'" not in name
        )
        default = self.lifetime_days("default") * DAY_SECONDS
        tau = f"(CASE {p}type {tau_cases} ELSE {default!r} END)" if tau_cases else repr(default)
        elapsed = f"greatest(epoch({at_sql}) - epoch({p}decay_from), 0)"
        return (
            f"(CASE WHEN {p}decay_from IS NULL THEN {p}confidence::DOUBLE ELSE "
            f"greatest({p}confidence * (1 - pow(least({elapsed} / {tau}, 1.0), "
            f"{1.0 / self.speed!r})), 0) END)"
        )


def _as_timestamp(at: ir.TimestampValue | datetime | None) -> ir.TimestampValue:
    import ibis

    if at is None:
        return ibis.now()
    if isinstance(at, datetime):
        if at.tzinfo is not None:
            from datetime import UTC

            at = at.astimezone(UTC).replace(tzinfo=None)
        return ibis.timestamp(at)
    return at
