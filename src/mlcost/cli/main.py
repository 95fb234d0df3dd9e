"""Entry point of the ``mlcost`` command.

Command groups live one per module and are imported only when used, so ``mlcost --help``
stays fast. To add a command, add a line to ``COMMANDS``.

Exit status: 0 done; 1 a delivery or action failed (said on stderr), or an internal error
(its traceback goes to a log file, or to stderr with ``--debug``); 2 the user's input or
configuration (the message says what to change); 130 interrupted; ``mlcost run`` passes on
its command's status (128 + N for a command ended by signal N).

Shell completion (click's): ``eval "$(_MLCOST_COMPLETE=bash_source mlcost)"`` in ~/.bashrc
(``zsh_source`` in ~/.zshrc, ``fish_source`` for fish).
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

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
    "status": "mlcost.cli.status:status",
    "tags": "mlcost.cli.attribution:tags",
    "tokens": "mlcost.cli.serve:tokens",
    "units": "mlcost.cli.units:units",
    "watch": "mlcost.cli.watch:watch",
}


# Set by --debug while the arguments are parsed; read when an internal error escapes.
_DEBUG = {"on": False}


def _set_debug(_ctx: click.Context, _param: click.Parameter, on: bool) -> None:
    if on:
        _DEBUG["on"] = True


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
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="On an internal error, print the traceback (else it goes to a log file).",
)
@click.version_option(package_name="mlcost")
@click.pass_context
def cli(ctx: click.Context, warehouse: str | None) -> None:
    """mlcost: where the ML money goes, which part is waste, and what to change.

    Start with `mlcost demo` (a fictional organization), or `mlcost ingest focus EXPORT/`
    on your own bill; `mlcost status` says what the warehouse holds and what to run next.
    Every command has an example in its --help.
    """
    ctx.ensure_object(dict)
    ctx.obj["warehouse"] = warehouse


def error_log() -> Path:
    """Where an internal error's traceback is written: ``<data dir>/logs/error.log``."""
    from mlcost.config import data_dir

    return data_dir() / "logs" / "error.log"


def _internal_error(exc: BaseException) -> int:
    """A short message and where the traceback went (``--debug``: the traceback itself)."""
    import traceback
    from datetime import UTC, datetime

    text = "".join(traceback.format_exception(exc))
    if _DEBUG["on"] or os.environ.get("MLCOST_DEBUG"):
        click.echo(text, err=True, nl=False)
        return 1
    where = "stderr"
    try:
        log = error_log()
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a", encoding="utf-8") as fh:
            fh.write(f"--- {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC: mlcost {_argv()}\n")
            fh.write(redact(text))
        where = str(log)
    except OSError:
        click.echo(text, err=True, nl=False)
    click.echo(
        f"Internal error: {type(exc).__name__}: {redact(str(exc))}\n"
        f"This is a bug in mlcost, not in your input. The details are in {where}; "
        "run again with --debug to see them here, and please report them.",
        err=True,
    )
    return 1


def _argv() -> str:
    return redact(" ".join(sys.argv[1:]))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; an :class:`MlcostError` becomes a clear message and exit status 2, an
    internal error a short message and a log file (exit 1)."""
    _DEBUG["on"] = False
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
    except Exception as exc:
        return _internal_error(exc)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
