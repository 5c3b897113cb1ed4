"""Runs a simulation: plans it, streams it to disk slice by slice, writes the ground truth.

Memory is bounded by the size of one time slice, whatever the number of rows: the slice length
is chosen (from divisors of an hour, so hourly rotation falls on slice boundaries) so that a
slice holds at most ``ROWS_PER_SLICE`` rows over all logs.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from signalfire.errors import ConfigError
from signalfire.simulate.attacks import INTEL_SOURCE, AttackPlan, iso, plan_attacks
from signalfire.simulate.benign import BenignTraffic
from signalfire.simulate.internet import build_internet
from signalfire.simulate.network import build_network
from signalfire.simulate.zeek_writer import MICROS, ZeekLogSet

GENERATOR = "signalfire simulate"
SCHEMA_VERSION = 1
GROUND_TRUTH = "ground_truth.json"
NETWORK = "network.json"
INTEL_FILE = "indicators/known_bad.intel"
INTEL_CSV = "indicators/known_bad.csv"

#: Upper bound of rows (all logs) in one time slice; sets the memory used (~1 kB per row).
ROWS_PER_SLICE = 250_000
_SLICE_SECONDS = (3600, 1800, 1200, 900, 600, 300, 240, 180, 120, 60, 30, 20, 15, 10, 5, 2, 1)
MAX_HOURS = 24 * 366
MAX_CONN_ROWS = 10**10

# Independent random streams, so that e.g. scaling the benign volume never moves an attack.
_STREAM_TOPOLOGY, _STREAM_INTERNET, _STREAM_TRAITS, _STREAM_ATTACKS, _STREAM_SLICE = range(5)


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate.

    Attributes:
        seed: the seed of every random choice: the same seed gives the same bytes.
        start: start of the simulated window (timezone-aware; a Monday by default).
        hours: length of the window (at least 1).
        operators: number of operators; sectors cycle energy, water, finance, telecom, transport.
        hosts_per_operator: hosts of each operator (servers, ICS devices, workstations).
        conn_rows: if given, the benign volume is scaled so conn.log has about this many rows
            (±5 %); the attacks do not scale.
        rotate: write hourly files like Zeek's archive (``YYYY-MM-DD/conn.00:00:00-01:00:00.log``).
        gzip: compress the logs (``.log.gz``).
    """

    seed: int = 1
    start: datetime = datetime(2026, 3, 2, tzinfo=UTC)
    hours: float = 24.0
    operators: int = 4
    hosts_per_operator: int = 40
    conn_rows: int | None = None
    rotate: bool = False
    gzip: bool = False

    def validate(self) -> None:
        """Raise ``ConfigError`` (saying what to pass instead) if a value is out of range."""
        if not 0 <= self.seed < 2**63:
            raise ConfigError(f"seed must be between 0 and 2^63-1 (got {self.seed}): pass --seed N")
        if self.start.tzinfo is None:
            raise ConfigError("start must be timezone-aware: give it a tzinfo (e.g. UTC)")
        if not 1 <= self.hours <= MAX_HOURS:
            raise ConfigError(
                f"hours must be between 1 and {MAX_HOURS} (got {self.hours:g}): the attacks need "
                "at least an hour to play out; pass --hours in that range"
            )
        if self.conn_rows is not None and not 1 <= self.conn_rows <= MAX_CONN_ROWS:
            raise ConfigError(
                f"conn_rows must be between 1 and {MAX_CONN_ROWS} (got {self.conn_rows}): "
                "pass a positive --conn-rows, or leave it out for the natural volume"
            )


@dataclass(frozen=True)
class SimulationResult:
    """What a simulation wrote.

    Attributes:
        out_dir: the output directory.
        files: the Zeek log files, in writing order.
        rows: data rows per log name (``conn``, ``dns``, ...).
        ground_truth: ``ground_truth.json``.
        indicators: the Zeek intel file (``indicators/known_bad.intel``; a CSV sits beside it).
        network: ``network.json``.
        attacks: number of injected attacks (entries in the ground truth).
    """

    out_dir: Path
    files: list[Path]
    rows: dict[str, int]
    ground_truth: Path
    indicators: Path
    network: Path
    attacks: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)


def _generator(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def _to_micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * MICROS + delta.microseconds


def looks_like_output(out_dir: Path) -> bool:
    """Whether ``out_dir`` holds the output of an earlier simulation."""
    marker = out_dir / GROUND_TRUTH
    if not marker.is_file():
        return False
    try:
        document = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and document.get("generator") == GENERATOR


def prepare_output_dir(out_dir: Path, force: bool = False) -> None:
    """Make ``out_dir`` ready: create it, or clear an earlier simulation's files from it.

    Raises:
        ConfigError: ``out_dir`` is a file, or a non-empty directory that is not an earlier
            simulation's output and ``force`` is false.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"{out_dir} is a file: pass a directory to --out")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if looks_like_output(out_dir):
            _remove_previous(out_dir)
        elif not force:
            raise ConfigError(
                f"{out_dir} is not empty and does not look like a simulation output (no "
                f"{GROUND_TRUTH} written by signalfire simulate): choose a new or empty "
                "directory, or pass --force to write into it anyway"
            )
    out_dir.mkdir(parents=True, exist_ok=True)


def _remove_previous(out_dir: Path) -> None:
    # Only what the earlier run listed as its own: never a file someone else put there.
    document = json.loads((out_dir / GROUND_TRUTH).read_text(encoding="utf-8"))
    listed = [*document.get("files", []), NETWORK, INTEL_FILE, INTEL_CSV, GROUND_TRUTH]
    root = out_dir.resolve()
    for name in listed:
        path = (out_dir / str(name)).resolve()
        if root in path.parents and path.is_file():
            path.unlink()
    for sub in sorted(out_dir.iterdir()):
        if sub.is_dir() and not any(sub.iterdir()):
            shutil.rmtree(sub)


def run_simulation(
    config: SimulationConfig,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    *,
    force: bool = False,
) -> SimulationResult:
    """Simulate ``config`` and write its logs, ground truth, indicators and topology.

    Args:
        config: what to simulate.
        out_dir: where to write; created if missing. An earlier simulation's output there is
            replaced.
        progress: called as ``progress(done, total)`` after each time slice.
        force: write into a non-empty directory that is not a simulation output.

    Returns:
        What was written.

    Raises:
        ConfigError: a configuration value is invalid, ``conn_rows`` is below what the fixed
            traffic and the attacks alone produce, or ``out_dir`` cannot be used.
    """
    config.validate()
    start_us = _to_micros(config.start)
    end_us = start_us + round(config.hours * 3600 * MICROS)

    network = build_network(
        config.operators, config.hosts_per_operator, _generator(config.seed, _STREAM_TOPOLOGY)
    )
    internet = build_internet(_generator(config.seed, _STREAM_INTERNET))
    benign = BenignTraffic(network, internet, config.seed, _generator(config.seed, _STREAM_TRAITS))
    benign.window_start_us = start_us
    plan = plan_attacks(network, benign, start_us, end_us, _generator(config.seed, _STREAM_ATTACKS))
    scalable, fixed = benign.expected_conn_rows(start_us, end_us)
    if config.conn_rows is not None:
        benign.scale = _scale_for(config, scalable, fixed + plan.conn_rows)
    slice_us = _slice_length(benign.peak_rows_per_second(start_us, end_us)) * MICROS

    prepare_output_dir(out_dir, force)
    logs = ZeekLogSet(out_dir, start_us, end_us, rotate=config.rotate, compress=config.gzip)
    bounds = _slices(start_us, end_us, slice_us)
    for i, (a, b) in enumerate(bounds):
        parts = benign.generate(a, b, _generator(config.seed, _STREAM_SLICE, i)).tables
        for log, table in plan.rows_between(a, b).items():
            parts.setdefault(log, []).append(table)
        logs.write(parts, a, b)
        if progress is not None:
            progress(i + 1, len(bounds))
    logs.close()

    parameters = {
        "seed": config.seed,
        "start": iso(start_us),
        "end": iso(end_us),
        "hours": config.hours,
        "operators": config.operators,
        "hosts_per_operator": config.hosts_per_operator,
        "conn_rows_target": config.conn_rows,
        "benign_scale": round(benign.scale, 6),
        "rotate": config.rotate,
        "gzip": config.gzip,
        "slice_seconds": slice_us // MICROS,
    }
    indicators = _write_indicators(out_dir, plan)
    network_path = out_dir / NETWORK
    network_doc = {"generator": GENERATOR, "version": SCHEMA_VERSION, **network.to_document()}
    network_doc["internet"] = {
        "upstream_resolvers": sorted({ip for pair in internet.upstream_resolvers for ip in pair})
    }
    _write_json(network_path, network_doc)
    truth_path = out_dir / GROUND_TRUTH
    _write_json(
        truth_path,
        {
            "generator": GENERATOR,
            "version": SCHEMA_VERSION,
            "simulation": parameters,
            "files": [p.relative_to(out_dir).as_posix() for p in logs.files],
            "rows": logs.rows,
            "network": NETWORK,
            "indicators": {
                "zeek_intel": INTEL_FILE,
                "csv": INTEL_CSV,
                "contacted": [i.indicator for i in plan.indicators if i.contacted],
                "never_contacted": [i.indicator for i in plan.indicators if not i.contacted],
            },
            "attacks": plan.attacks,
        },
    )
    return SimulationResult(
        out_dir=out_dir,
        files=list(logs.files),
        rows=dict(logs.rows),
        ground_truth=truth_path,
        indicators=indicators,
        network=network_path,
        attacks=len(plan.attacks),
        parameters=parameters,
    )


def _scale_for(config: SimulationConfig, scalable: float, fixed: float) -> float:
    assert config.conn_rows is not None
    # Below this the result would be dominated by traffic that does not scale, and the ±5 %
    # promise could not be kept.
    minimum = int(fixed / 0.9) + 1
    if config.conn_rows < minimum:
        raise ConfigError(
            f"--conn-rows {config.conn_rows} is below the ~{int(fixed)} conn rows that the "
            "fixed traffic (NTP, ICS polling, updates, admin SSH) and the attacks alone produce "
            f"for {config.operators} operators x {config.hosts_per_operator} hosts over "
            f"{config.hours:g} h: pass --conn-rows {minimum} or more, or lower --operators, "
            "--hosts or --hours"
        )
    return (config.conn_rows - fixed) / scalable


def _slice_length(rows_per_second: float) -> int:
    for seconds in _SLICE_SECONDS:
        if rows_per_second * seconds <= ROWS_PER_SLICE:
            return seconds
    return _SLICE_SECONDS[-1]


def _slices(start_us: int, end_us: int, slice_us: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut at multiples of ``slice_us`` since the epoch."""
    first_cut = start_us - start_us % slice_us + slice_us
    bounds = [start_us, *range(first_cut, end_us, slice_us), end_us]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def _write_json(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _write_indicators(out_dir: Path, plan: AttackPlan) -> Path:
    intel = out_dir / INTEL_FILE
    intel.parent.mkdir(parents=True, exist_ok=True)
    lines = ["#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc"]
    lines += [
        f"{i.indicator}\t{i.zeek_type}\t{INTEL_SOURCE}\t{i.description}" for i in plan.indicators
    ]
    intel.write_text("\n".join(lines) + "\n", encoding="utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["indicator", "type", "source", "description"])
    for i in plan.indicators:
        writer.writerow([i.indicator, i.stix_type, INTEL_SOURCE, i.description])
    (out_dir / INTEL_CSV).write_text(buffer.getvalue(), encoding="utf-8")
    return intel
