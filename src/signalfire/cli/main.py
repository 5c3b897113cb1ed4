"""Entry point of the ``signalfire`` command: global options, command registry, error handling.

Errors are printed as one line that says what to do and mapped to documented exit codes
(``signalfire.cli.exit_codes``); ``--debug`` adds the traceback.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

import click

from signalfire import __version__, settings
from signalfire.cli import exit_codes


@dataclass
class GlobalOptions:
    """Options given before the command name, shared by every command."""

    db: Path
    debug: bool


@click.group(
    name="signalfire",
    help="Cyber situational awareness for critical information infrastructure.",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--db",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Store file (default: $SIGNALFIRE_DB or ./signalfire.duckdb).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@click.version_option(__version__, prog_name="signalfire")
@click.pass_context
def cli(ctx: click.Context, db: Path | None, debug: bool) -> None:
    ctx.obj = GlobalOptions(db=db if db is not None else settings.get("db"), debug=debug)


def global_options(ctx: click.Context) -> GlobalOptions:
    """The global options of the running command."""
    obj = ctx.find_root().obj
    assert isinstance(obj, GlobalOptions)
    return obj


def _register() -> None:
    # Imported here: command modules import `global_options` from this module.
    from signalfire.cli import attack, demo, detect, ingest, intel, simulate, status, taxii

    for module in (ingest, status, detect, simulate, demo, attack, taxii, intel):
        module.register(cli)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return a documented exit code instead of raising."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # Without standalone mode, click returns the code a command gave to ctx.exit().
        returned = cli.main(args=args, prog_name="signalfire", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("signalfire: aborted", err=True)
        return exit_codes.OTHER
    except click.ClickException as exc:
        exc.show()
        return exit_codes.USAGE
    except KeyboardInterrupt:
        click.echo("signalfire: interrupted; every file fully ingested is kept", err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one place every error becomes an exit code
        code = exit_codes.for_error(exc)
        if debug:
            traceback.print_exc()
        if code == exit_codes.INTERNAL:
            click.echo(
                f"signalfire: internal error: {type(exc).__name__}: {exc} "
                "(this is a bug: rerun with --debug and report the traceback)",
                err=True,
            )
        else:
            click.echo(f"signalfire: {exc}", err=True)
        return code
    return returned if isinstance(returned, int) else exit_codes.OK


def run() -> None:
    """Console-script wrapper."""
    sys.exit(main())
