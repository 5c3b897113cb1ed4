"""`signalfire simulate`: write simulated Zeek logs with injected attacks and their ground truth."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from signalfire.errors import ConfigError
from signalfire.simulate import SimulationConfig, SimulationResult, run_simulation

# Below this many slices a run takes a second or two: a progress bar would only flicker.
_PROGRESS_MIN_SLICES = 8


def _positive(name: str, value: float | None) -> None:
    if value is not None and value <= 0:
        raise ConfigError(f"{name} must be greater than 0 (got {value:g}): pass a positive value")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    console = Console(stderr=True)
    if not enabled or not console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("slices"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("simulate", total=None)

        def report(done: int, total: int) -> None:
            if total >= _PROGRESS_MIN_SLICES:
                bar.update(task, completed=done, total=total)

        yield report


def _summary(result: SimulationResult) -> None:
    console = Console()
    console.print(f"Simulation written to {result.out_dir}")
    table = Table(show_edge=False)
    table.add_column("log")
    table.add_column("rows", justify="right")
    for name, rows in result.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(f"{len(result.files)} log files, {result.attacks} injected attacks")
    console.print(f"ground truth: {result.ground_truth}")
    console.print(f"indicators:   {result.indicators}")
    console.print(f"network:      {result.network}")


def register(cli: click.Group) -> None:
    """Add this module's commands to the CLI."""

    @cli.command(name="simulate")
    @click.option(
        "--out",
        "out",
        type=click.Path(path_type=Path, file_okay=False),
        required=True,
        help="Directory to write the logs, ground truth, indicators and network into.",
    )
    @click.option("--seed", type=int, default=1, show_default=True, help="Random seed.")
    @click.option(
        "--hours", type=float, default=24.0, show_default=True, help="Simulated hours (>= 1)."
    )
    @click.option(
        "--operators",
        type=int,
        default=4,
        show_default=True,
        help="Operators (sectors cycle energy, water, finance, telecom, transport).",
    )
    @click.option(
        "--hosts", type=int, default=40, show_default=True, help="Hosts per operator (20-4000)."
    )
    @click.option(
        "--conn-rows",
        type=int,
        default=None,
        help="Scale benign traffic so conn.log has about this many rows (±5 %).",
    )
    @click.option("--rotate", is_flag=True, help="Hourly files like Zeek's log archive.")
    @click.option("--gzip", "gzip_", is_flag=True, help="Compress the logs (.log.gz).")
    @click.option("--force", is_flag=True, help="Write into a non-empty directory anyway.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
    def simulate(
        out: Path,
        seed: int,
        hours: float,
        operators: int,
        hosts: int,
        conn_rows: int | None,
        rotate: bool,
        gzip_: bool,
        force: bool,
        as_json: bool,
    ) -> None:
        """Write simulated Zeek logs of critical-infrastructure networks with injected attacks.

        The same seed gives the same bytes. Besides the logs, OUT gets ground_truth.json (what
        was injected, where and when), indicators/known_bad.intel (+ .csv) and network.json.
        """
        _positive("--hours", hours)
        _positive("--operators", operators)
        _positive("--hosts", hosts)
        _positive("--conn-rows", conn_rows)
        config = SimulationConfig(
            seed=seed,
            hours=hours,
            operators=operators,
            hosts_per_operator=hosts,
            conn_rows=conn_rows,
            rotate=rotate,
            gzip=gzip_,
        )
        with _progress(not as_json) as report:
            result = run_simulation(config, out, report, force=force)
        if as_json:
            document = {
                "out": str(result.out_dir),
                "files": len(result.files),
                "rows": result.rows,
                "ground_truth": str(result.ground_truth),
                "indicators": str(result.indicators),
                "network": str(result.network),
                "attacks": result.attacks,
            }
            sys.stdout.write(json.dumps(document) + "\n")
        else:
            _summary(result)
