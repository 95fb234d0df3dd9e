"""One round of ``mlcost watch``: ingest the configured sources, evaluate budgets, alert on new
high-value insights, deliver pending alerts, enforce policies. See docs/budgets.md.

Every step is one or more warehouse transactions and every alert is recorded (once, by key)
before any delivery, so a round killed at any moment is repeated by the next one without
losing or repeating an alert: loads are skipped by content hash, recorded alerts are not
recorded again, and a delivery cut short is still pending.

A step whose store the warehouse cannot write (alerts, findings, the audit: see each store's
capabilities, docs/engines.md) is skipped before it starts, with a one-line reason in
:attr:`RoundReport.skipped`; loading the sources runs on every engine.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlcost.config import Settings, SourceConfig
from mlcost.errors import ConfigError, MlcostError

if TYPE_CHECKING:
    from mlcost.insights import Finding
    from mlcost.notify import DeliveryReport
    from mlcost.policies import Decision
    from mlcost.warehouse import Warehouse

__all__ = ["RoundReport", "ingest_configured", "insight_findings", "run_round"]


@dataclass
class RoundReport:
    """What one round did."""

    loaded: list[str] = field(default_factory=list)  # "<source>: <n> new load(s)"
    unchanged: list[str] = field(default_factory=list)  # sources with nothing new
    source_errors: list[str] = field(default_factory=list)
    budget_alerts: list[str] = field(default_factory=list)  # keys recorded this round
    insight_alerts: list[str] = field(default_factory=list)
    findings: int = 0
    delivery: DeliveryReport | None = None
    decisions: list[Decision] = field(default_factory=list)
    # step ("budgets", "insights", "alerts", "policies") -> why it did not run on this engine
    skipped: dict[str, str] = field(default_factory=dict)
    # bill URLs: deliveries not loaded because files are missing; how fresh each source is
    incomplete: list[str] = field(default_factory=list)
    freshness: list[str] = field(default_factory=list)
    stale_alerts: list[str] = field(default_factory=list)  # keys recorded this round


def _ingest_one(wh: Warehouse, source: SourceConfig) -> list[Any]:
    from mlcost.sources import get_source, ingest_auto
    from mlcost.sources.remote import BILL_SOURCES, ingest_remote, is_remote

    urls = [p for p in source.paths if is_remote(p)]
    files = [p for p in source.paths if not is_remote(p)]
    if urls and source.kind not in BILL_SOURCES:
        raise ConfigError(
            f"{source.where}: [watch.sources.{source.name}] reads a bill URL: set kind to one "
            f"of {', '.join(BILL_SOURCES)} (it is {source.kind!r})."
        )
    if source.kind == "auto":
        return ingest_auto(wh, files)
    module = get_source(source.kind)
    try:
        fetched: list[Any] = [ingest_remote(wh, u, source.kind, **source.options) for u in urls]
        return fetched + ([module.ingest(wh, files, **source.options)] if files else [])
    except TypeError as exc:
        raise ConfigError(
            f"{source.where}: [watch.sources.{source.name}] options {dict(source.options)} "
            f"do not fit the {source.kind} source ({exc}); see mlcost ingest {source.kind} --help."
        ) from exc


def ingest_configured(
    wh: Warehouse, settings: Settings, report: RoundReport, say: Callable[[str], None]
) -> None:
    """Load each ``[watch.sources.*]``; a source that fails is reported, the others load."""
    for source in settings.watch.sources:
        say(f"ingesting {source.name} ({source.kind}) ...")
        try:
            results = _ingest_one(wh, source)
        except ConfigError:
            raise
        except MlcostError as exc:
            report.source_errors.append(f"{source.name}: {exc}")
            say(f"source error: {source.name}: {exc}")
            continue
        for r in results:
            for line in getattr(r, "incomplete", ()):
                report.incomplete.append(f"{source.name}: {line}")
                say(f"incomplete delivery: {report.incomplete[-1]}")
        new = sum(not getattr(r, "already_loaded", False) for r in results)
        if new:
            report.loaded.append(f"{source.name}: {new} new load(s)")
            say(report.loaded[-1])
        else:
            report.unchanged.append(source.name)


def insight_findings(findings: list[Finding], currency: str) -> list[dict[str, Any]]:
    """Findings as :func:`mlcost.notify.insight_alerts` takes them (one currency)."""
    return [
        {
            "id": f.id,
            "title": f"{f.kind.replace('_', ' ')} on {f.resource_id or f.owner or 'unknown'}",
            "impact": float(f.monthly_saving.expected),
            "currency": f.monthly_saving.currency,
            "kind": f.kind,
            "resource_id": f.resource_id,
            "owner": f.owner,
            "action": f.action,
            "confidence": f.confidence,
        }
        for f in findings
        if f.monthly_saving.currency == currency
    ]


def run_round(
    wh: Warehouse | Callable[[], AbstractContextManager[Warehouse]],
    settings: Settings,
    *,
    execute: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> RoundReport:
    """One round: sources, budgets, insights, deliveries, policies (dry-run unless told).

    ``wh`` is an open warehouse, or a function that opens one (a context manager): given a
    function, the round opens the warehouse for its steps and closes it while alerts are
    delivered, so other processes can write meanwhile (issue 22). A step the warehouse
    cannot store is skipped, with its reason in ``skipped``.
    """
    from mlcost.notify import AlertStore, deliver_released
    from mlcost.policies import AuditStore
    from mlcost.warehouse import Warehouse

    open_wh = (lambda: nullcontext(wh)) if isinstance(wh, Warehouse) else wh
    report = RoundReport()
    with open_wh() as opened:
        no_alerts = AlertStore.unavailable(opened)
        _record(opened, settings, report, no_alerts, say)
    if no_alerts:
        report.skipped["alerts"] = no_alerts
    else:
        report.delivery = deliver_released(open_wh, settings.channels)
    if settings.policies:
        with open_wh() as opened:
            no_audit = AuditStore.unavailable(opened)
            if no_audit:
                report.skipped["policies"] = no_audit
            else:
                from mlcost.policies import enforce

                report.decisions = enforce(
                    opened,
                    settings.policies,
                    execute=execute,
                    budgets=settings.budgets,
                    attribution=settings.attribution,
                    owners=settings.owners,
                    channels=settings.channels,
                )
    return report


def _record(
    wh: Warehouse,
    settings: Settings,
    report: RoundReport,
    no_alerts: str | None,
    say: Callable[[str], None],
) -> None:
    """The round's steps before delivery: sources, then budget and insight alerts recorded."""
    from mlcost.insights import FindingStore
    from mlcost.notify import insight_alerts, record_alerts

    ingest_configured(wh, settings, report, say)
    channels = settings.channels
    _freshness(wh, settings, report, no_alerts, say)
    if settings.budgets:
        if no_alerts:
            report.skipped["budgets"] = no_alerts
        else:
            from mlcost.budgets import alerts_for, statuses

            found = statuses(wh, settings.budgets, attribution=settings.attribution)
            report.budget_alerts = record_alerts(wh, alerts_for(found), channels)
    w = settings.watch
    if w.insight_min_impact is not None:
        no_insights = FindingStore.unavailable(wh) or no_alerts
        if no_insights:
            report.skipped["insights"] = no_insights
        else:
            from mlcost.insights import run_insights, save_findings

            findings = run_insights(wh, settings.attribution, kinds=w.insight_kinds or None)
            save_findings(wh, findings)
            report.findings = len(findings)
            alerts = insight_alerts(
                insight_findings(findings, w.insight_currency),
                min_impact=w.insight_min_impact,
                channels=w.insight_channels,
            )
            report.insight_alerts = record_alerts(wh, alerts, channels)


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _freshness(
    wh: Warehouse,
    settings: Settings,
    report: RoundReport,
    no_alerts: str | None,
    say: Callable[[str], None],
) -> None:
    """How fresh each bill URL is; a source older than its ``stale_after`` alerts once."""
    from datetime import UTC, datetime, timedelta

    from mlcost.notify import record_alerts
    from mlcost.sources.remote import DeliveryStore, freshness, is_remote, parse_url, stale_alert

    now = datetime.now(UTC).replace(tzinfo=None)
    for source in settings.watch.sources:
        urls = [p for p in source.paths if is_remote(p)]
        if not urls or DeliveryStore.unavailable(wh):
            continue
        for url in urls:
            fresh = freshness(wh, parse_url(url).label)
            if fresh is None:
                report.freshness.append(f"{source.name}: no delivery loaded yet from {url}")
                say(f"freshness: {report.freshness[-1]}")
                continue
            report.freshness.append(fresh.line(source.name))
            say(f"freshness: {report.freshness[-1]}")
            if source.stale_after is None:
                continue
            if no_alerts:
                report.skipped["stale alerts"] = no_alerts
                continue
            age = timedelta(
                seconds=float(source.stale_after[:-1]) * _AGE_UNITS[source.stale_after[-1]]
            )
            alert = stale_alert(
                fresh, name=source.name, stale_after=age, now=now, channels=source.channels
            )
            if alert is not None:
                new = record_alerts(wh, [alert], settings.channels)
                report.stale_alerts += new
                if new:
                    say(f"stale source: {alert['message']}")
