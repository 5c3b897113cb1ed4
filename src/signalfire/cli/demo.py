"""``signalfire demo``: simulate a small critical-infrastructure network, ingest it, show it."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from signalfire import runner
from signalfire.cli import output
from signalfire.cli.ingest import print_summary
from signalfire.cli.main import global_options
from signalfire.cli.status import print_status
from signalfire.store import Store
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
@click.option("--hours", type=float, default=6.0, show_default=True, help="Simulated hours.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.pass_context
def demo_command(ctx: click.Context, workdir: Path, seed: int, hours: float, as_json: bool) -> None:
    """Simulate a small network with injected attacks, ingest it and show what was stored.

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
    with Store.open(db) as store, output.byte_progress(not as_json, "ingest") as progress:
        # Only the logs: the ground truth, topology and indicators beside them are not telemetry.
        summary = runner.ingest(store, result.files, progress=progress)
        info = describe(store)
    if as_json:
        output.print_json(
            {
                "logs": str(logs),
                "ground_truth": str(result.ground_truth),
                "ingest": summary.to_json(),
                "status": info,
            }
        )
        return
    print_summary(summary)
    output.stdout.print()
    print_status(info)
    output.stdout.print(
        f"\nInjected attacks are listed in {result.ground_truth}; detections arrive with the "
        "next release. Explore the store: "
        f"signalfire --db {db} status"
    )


def register(cli: click.Group) -> None:
    """Add ``demo`` to the CLI."""
    cli.add_command(demo_command)
