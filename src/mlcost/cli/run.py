"""``mlcost run -- CMD``: run any command under the tracker (cost, GPU use, budget guard)."""

from __future__ import annotations

import sys

import click


def _tags(values: tuple[str, ...]) -> dict[str, str]:
    tags = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--tag")
        tags[key] = value
    return tags


@click.command(
    context_settings={"ignore_unknown_options": True},
    epilog="Example: mlcost run --max-cost 50 --tag team=vision -- python train.py "
    "(exits 143 when the budget's SIGTERM stopped it)",
)
@click.option("--name", default=None, help="Run name (default: the command's name).")
@click.option("--tag", "tags", multiple=True, help="KEY=VALUE, repeatable.")
@click.option("--instance", default=None, help="Instance type (default: from cloud metadata).")
@click.option("--region", default=None, help="Region of the instance, for its price.")
@click.option(
    "--purchase",
    type=click.Choice(["on-demand", "spot", "reserved"]),
    default=None,
    help="How the instance is bought, for its price (default: on-demand).",
)
@click.option("--hourly-price", type=float, default=None, help="USD per hour, over the catalog.")
@click.option("--max-cost", type=float, default=None, help="Budget in USD: SIGTERM at 100%.")
@click.option("--max-hours", type=float, default=None, help="Budget in hours: SIGTERM at 100%.")
@click.option(
    "--grace", type=float, default=30.0, show_default=True, help="Seconds from SIGTERM to SIGKILL."
)
@click.option("--interval", type=float, default=5.0, show_default=True, help="Sample seconds.")
@click.option("--spool", default=None, help="Spool folder (default: MLCOST_SPOOL, XDG data dir).")
@click.option("--server", default=None, help="Post records to this URL (MLCOST_SERVER).")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def run(
    name: str | None,
    tags: tuple[str, ...],
    instance: str | None,
    region: str | None,
    purchase: str | None,
    hourly_price: float | None,
    max_cost: float | None,
    max_hours: float | None,
    grace: float,
    interval: float,
    spool: str | None,
    server: str | None,
    command: tuple[str, ...],
) -> None:
    """Run COMMAND under the tracker: mlcost run --max-cost 50 -- python train.py ...

    Records wall time, GPU-hours, peak memory and cost to the spool (or --server); exits with
    the command's own status, 128 + N when a signal N ended it (143: SIGTERM, as when the
    budget stopped it).
    """
    from mlcost.runtime._command import run_command

    try:
        code, tracked = run_command(
            command,
            grace_seconds=grace,
            run=name or command[0].rsplit("/", 1)[-1],
            tags=_tags(tags),
            instance=instance,
            region=region,
            purchase=purchase,
            hourly_price=hourly_price,
            max_cost=max_cost,
            max_hours=max_hours,
            interval=interval,
            spool=spool,
            server=server,
        )
    except FileNotFoundError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"mlcost: {tracked.summary()}", err=True)
    if code:
        sys.exit(exit_status(code))


def exit_status(code: int) -> int:
    """The command's status as a shell reports it: a command ended by signal N (Popen's
    ``-N``) exits 128 + N, e.g. 143 when its budget's SIGTERM stopped it (not -15 & 255 =
    241).

    >>> exit_status(-15), exit_status(-9), exit_status(3)
    (143, 137, 3)
    """
    return 128 - code if code < 0 else code
