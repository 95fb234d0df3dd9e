"""Entry point of the ``mlcost`` command.

Command groups live one per module and are imported only when used, so ``mlcost --help``
stays fast. To add a command, add a line to ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import sys

import click

from mlcost.config import redact
from mlcost.errors import MlcostError

# command name -> "module:attribute" of a click command or group.
COMMANDS: dict[str, str] = {
    "budgets": "mlcost.cli.budgets:budgets",
    "cache": "mlcost.cli.cache:cache",
    "catalog": "mlcost.cli.catalog:catalog",
    "demo": "mlcost.cli.demo:demo",
    "export": "mlcost.cli.attribution:export",
    "gpus": "mlcost.cli.gpus:gpus",
    "ingest": "mlcost.cli.ingest:ingest",
    "insights": "mlcost.cli.insights:insights",
    "plan": "mlcost.cli.plan:plan",
    "policies": "mlcost.cli.budgets:policies",
    "report": "mlcost.cli.report:report",
    "run": "mlcost.cli.run:run",
    "serve": "mlcost.cli.serve:serve",
    "showback": "mlcost.cli.attribution:showback",
    "sources": "mlcost.cli.ingest:sources",
    "spend": "mlcost.cli.spend:spend",
    "tags": "mlcost.cli.attribution:tags",
    "tokens": "mlcost.cli.serve:tokens",
    "units": "mlcost.cli.units:units",
    "watch": "mlcost.cli.watch:watch",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--warehouse",
    envvar="MLCOST_WAREHOUSE",
    default=None,
    help="Warehouse URL or DuckDB file (default: MLCOST_WAREHOUSE, mlcost.toml, XDG data dir).",
)
@click.version_option(package_name="mlcost")
@click.pass_context
def cli(ctx: click.Context, warehouse: str | None) -> None:
    """mlcost: where the ML money goes, which part is waste, and what to change."""
    ctx.ensure_object(dict)
    ctx.obj["warehouse"] = warehouse


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; an :class:`MlcostError` becomes a clear message and exit status 2."""
    try:
        cli.main(args=argv, prog_name="mlcost", standalone_mode=False)
    except MlcostError as exc:
        click.echo(f"Error: {redact(str(exc))}", err=True)  # no URL's password or token
        return 2
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
