"""``signalfire demo``: simulate a small critical-infrastructure network, ingest it, show it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import click

from signalfire import runner
from signalfire.cli import output
from signalfire.cli.detect import print_alerts
from signalfire.cli.ingest import print_summary
from signalfire.cli.main import global_options
from signalfire.cli.status import print_status
from signalfire.intel.indicators import IndicatorStore
from signalfire.simulate.scoring import score
from signalfire.store import Store
from signalfire.store.alerts import list_alerts
from signalfire.store.status import describe


@click.command("demo")
@click.option(
    "--dir",
    "workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("signalfire-demo"),
    show_default=True,
    help="Where the simulated logs and the demo store are written.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Simulation seed.")
@click.option("--hours", type=float, default=24.0, show_default=True, help="Simulated hours.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def demo_command(ctx: click.Context, workdir: Path, seed: int, hours: float, as_json: bool) -> None:
    """Simulate a small network with injected attacks, ingest it, run the detections and show
    what they found against the simulator's ground truth.

    The store is DIR/signalfire.duckdb unless --db is given; explore it afterwards with
    `signalfire --db DIR/signalfire.duckdb status`.
    """
    from signalfire.simulate import SimulationConfig, run_simulation

    opts = global_options(ctx)
    explicit_db = ctx.find_root().params.get("db") is not None
    db = opts.db if explicit_db else workdir / "signalfire.duckdb"
    logs = workdir / "logs"
    if logs.exists():
        shutil.rmtree(logs)
    logs.mkdir(parents=True)
    config = SimulationConfig(seed=seed, hours=hours, operators=3, hosts_per_operator=25)
    if not as_json:
        output.stderr.print(f"Simulating {hours:g} h of a {config.operators}-operator network ...")
    result = run_simulation(config, logs)
    truth = json.loads(result.ground_truth.read_text())
    with Store.open(db) as store, output.byte_progress(not as_json, "ingest") as progress:
        # Only the logs: the ground truth, topology and indicators beside them are not telemetry.
        summary = runner.ingest(store, result.files, progress=progress)
        # The simulated threat feed, imported as an operator imports theirs.
        feed = IndicatorStore(store).import_paths([logs / truth["indicators"]["zeek_intel"]])
        detected = runner.detect(store)
        alerts = list_alerts(store.con)
        info = describe(store)
    scored = score(alerts, truth)
    if as_json:
        output.print_json(
            {
                "logs": str(logs),
                "ground_truth": str(result.ground_truth),
                "ingest": summary.to_json(),
                "intel_import": feed.to_json(),
                "detect": detected.to_json(),
                "ground_truth_score": scored.to_json(),
                "status": info,
            }
        )
        return
    print_summary(summary)
    output.stdout.print()
    print_status(info)
    output.stdout.print("\n[bold]Alerts[/], most severe first:")
    print_alerts(alerts, limit=15)
    found = len(scored.found)
    total = found + len(scored.missed)
    true_pos = sum(scored.true_positives.values())
    above_medium = true_pos + sum(len(v) for v in scored.false_positives.values())
    output.stdout.print(
        f"\nThe simulator injected {total} attacks ({result.ground_truth}): the detections found "
        f"{found}; {true_pos} of the {above_medium} alerts above medium severity are injected "
        "attacks."
    )
    if scored.missed:
        output.stdout.print(f"Not found: {', '.join(scored.missed)}")
    output.stdout.print(
        f"Explore: signalfire --db {db} alerts | signalfire --db {db} analyze {logs}"
    )


def register(cli: click.Group) -> None:
    """Add ``demo`` to the CLI."""
    cli.add_command(demo_command)
