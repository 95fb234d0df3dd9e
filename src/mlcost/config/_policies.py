"""``[policies.<name>]``: guardrails, their actions, scopes, grace and working hours; and
``[owners.<name>]``: where an owner's notices go and the owner's working hours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from mlcost.config._validate import _number, _strings, _table
from mlcost.errors import ConfigError

POLICY_KINDS = ("idle", "budget", "required-tags", "max-duration", "max-gpus")
DEFAULT_PROTECT_TAG = "mlcost:protect"
DEFAULT_KEEP_TAG = "mlcost:keep-until"
# Tag keys and values that say a resource is production (issue 21): out of idle shutdown
# (and every other policy) unless a policy names a production value in ``environments``.
DEFAULT_ENV_TAGS = ("env", "environment")
DEFAULT_PRODUCTION = ("prod", "production")


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingHours:
    """Week days (0 = Monday) and a local time span, end exclusive: ``Mon-Fri 08:00-19:00``."""

    days: frozenset[int]
    start: time
    end: time

    def __contains__(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end


@dataclass(frozen=True)
class PolicyConfig:
    """A guardrail. ``kind = "idle"``: GPU utilization at most ``max_utilization`` (0..1) for
    ``minutes`` minutes. ``kind = "budget"``: once ``budget`` reaches 100% of actual spend, its
    scope's GPU resources whose ``env`` tag is one of ``envs`` (billed on the latest day).
    ``kind = "required-tags"``: GPU resources still billed on the latest day, first billed
    ``hours`` or more before it, that lack one of ``tags``. ``kind = "max-duration"``: running
    workloads older than ``max_hours[kind]`` hours (``workloads.kind``; ``"*"`` for any).
    ``kind = "max-gpus"``: per owner (``owner``, a dimension such as ``tag:team``), GPUs billed
    in the latest hour above ``max_gpus[owner]`` (``"*"`` for any); the newest resources over
    the cap are the violations. ``working_hours`` (idle only): while the evaluation moment is
    inside one of these spans in ``timezone``, idle resources are left alone.
    The ``action`` runs through ``executor`` (``"auto"``: the one for each resource's type,
    see ``policies.executors.executor_for``); resources whose tag ``protect_tag`` is ``true``
    are never acted on; one whose tag ``keep_tag`` (``mlcost:keep-until=YYYY-MM-DD``) is a
    day not yet past is kept until then.

    Notice, grace, act (Cloud Custodian's mark-for-op): the first violation marks the
    resource with a deadline ``grace`` later and tells its owner (``[owners.<name>]
    channels``, else this policy's ``channels``); the action runs only if the violation still
    holds at the deadline on the latest data. ``grace = 0`` (the default) acts at once.

    Scopes: ``environments`` (values of the tags ``env_tags``; empty: any), ``owners`` and
    ``resource_types`` (glob on the billed ``x_InstanceType`` or ``ResourceType``, or the
    workload kind); a resource whose env is one of ``production`` is out of the policy unless
    ``environments`` names that value."""

    name: str
    kind: str
    action: str = "stop"
    executor: str = "auto"  # auto: the executor for each resource's type
    max_utilization: float = 0.05
    minutes: int = 60
    protect_tag: str = DEFAULT_PROTECT_TAG
    region: str = "us-east-1"
    endpoint_url: str = ""
    budget: str = ""
    envs: tuple[str, ...] = ("dev", "staging")
    tags: tuple[str, ...] = ("team",)
    hours: int = 24
    max_hours: Mapping[str, float] = field(default_factory=dict)
    max_gpus: Mapping[str, float] = field(default_factory=dict)
    owner: str = "owner"
    working_hours: tuple[WorkingHours, ...] = ()  # idle: act only outside these
    timezone: str = "UTC"
    grace: timedelta = timedelta(0)
    channels: tuple[str, ...] = ()  # notices for owners who name none
    environments: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = ()
    env_tags: tuple[str, ...] = DEFAULT_ENV_TAGS
    production: tuple[str, ...] = DEFAULT_PRODUCTION
    keep_tag: str = DEFAULT_KEEP_TAG


@dataclass(frozen=True)
class OwnerConfig:
    """``[owners.<name>]``: where the owner's notices go and, for policies with working
    hours, the owner's own ``working_hours`` in its ``timezone`` (in place of the policy's)."""

    name: str
    channels: tuple[str, ...] = ()
    working_hours: tuple[WorkingHours, ...] = ()
    timezone: str = ""


def parse_duration(text: str) -> timedelta:
    """``"24h"``, ``"30m"``, ``"2d"``, ``"90s"``, ``"1w"``, ``"0"`` -> timedelta; ValueError if not.

    >>> parse_duration("36h")
    datetime.timedelta(days=1, seconds=43200)
    """
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if match is None or (not match.group(2) and float(match.group(1)) != 0):
        raise ValueError(text)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "seconds"}
    return timedelta(**{unit[match.group(2)]: float(match.group(1))})


def parse_owners(raw: object, *, where: str = "owners") -> dict[str, OwnerConfig]:
    """Validate ``[owners.<name>]`` tables; errors name ``where``."""
    known = frozenset({"channels", "working_hours", "timezone"})
    out = {}
    for name, value in _table(raw, where, "owners", None).items():
        label = f"owners.{name}"
        t = _table(value, where, label, known)
        hours = _hours(t, where, label) if ("working_hours" in t or "timezone" in t) else {}
        out[str(name)] = OwnerConfig(
            name=str(name),
            channels=_strings(t.get("channels", []), where, f"{label}.channels"),
            **hours,
        )
    return out


def parse_policies(raw: object, *, where: str = "policies") -> tuple[PolicyConfig, ...]:
    """Validate ``[policies.<name>]`` tables; errors name ``where``."""
    known = frozenset(
        {
            "kind",
            "action",
            "executor",
            "max_utilization",
            "minutes",
            "protect_tag",
            "region",
            "endpoint_url",
            "budget",
            "envs",
            "tags",
            "hours",
            "max_hours",
            "max_gpus",
            "owner",
            "working_hours",
            "timezone",
            "grace",
            "channels",
            "environments",
            "owners",
            "resource_types",
            "env_tags",
            "production",
            "keep_tag",
        }
    )
    out = []
    for name, value in _table(raw, where, "policies", None).items():
        label = f"policies.{name}"
        t = _table(value, where, label, known)
        kind = t.get("kind")
        if kind not in POLICY_KINDS:
            raise ConfigError(
                f"{where}: {label}.kind is {kind!r}; supported now: {', '.join(POLICY_KINDS)}."
            )
        if kind == "max-gpus" and not t.get("max_gpus"):
            raise ConfigError(
                f'{where}: {label} (max-gpus) needs max_gpus = {{ vision = 16, "*" = 8 }}.'
            )
        if kind == "max-duration" and not t.get("max_hours"):
            raise ConfigError(
                f"{where}: {label} (max-duration) needs max_hours = {{ training = 72, "
                '"*" = 24 }} (hours per workload kind).'
            )
        if kind == "budget" and not isinstance(t.get("budget"), str):
            raise ConfigError(f'{where}: {label} (budget) needs budget = "<a [budgets.*] name>".')
        out.append(
            PolicyConfig(
                name=str(name),
                kind=str(kind),
                budget=str(t.get("budget", "")),
                envs=_strings(t.get("envs", ["dev", "staging"]), where, f"{label}.envs"),
                tags=_strings(t.get("tags", ["team"]), where, f"{label}.tags"),
                hours=int(_number(t.get("hours", 24), where, f"{label}.hours")),
                owner=str(t.get("owner", "owner")),
                max_gpus={
                    str(k): _number(v, where, f"{label}.max_gpus.{k}")
                    for k, v in _table(
                        t.get("max_gpus", {}), where, f"{label}.max_gpus", None
                    ).items()
                },
                max_hours={
                    str(k): _number(v, where, f"{label}.max_hours.{k}")
                    for k, v in _table(
                        t.get("max_hours", {}), where, f"{label}.max_hours", None
                    ).items()
                },
                action=str(t.get("action", "stop")),
                executor=str(t.get("executor", "auto")),
                max_utilization=_number(
                    t.get("max_utilization", 0.05), where, f"{label}.max_utilization"
                ),
                minutes=int(_number(t.get("minutes", 60), where, f"{label}.minutes", low=1)),
                protect_tag=str(t.get("protect_tag", DEFAULT_PROTECT_TAG)),
                region=str(t.get("region", "us-east-1")),
                endpoint_url=str(t.get("endpoint_url", "")),
                **_policy_hours(t, where, label),
                **_scopes(t, where, label),
            )
        )
    return tuple(out)


def _day(text: str) -> int:
    if text[:3].lower() not in _DAYS:
        raise ValueError(text)
    return _DAYS.index(text[:3].lower())


def parse_working_hours(text: str) -> tuple[WorkingHours, ...]:
    """``"Mon-Fri 08:00-19:00, Sat 10:00-14:00"`` -> spans; ValueError if malformed.

    >>> parse_working_hours("Mon-Fri 08:00-19:00")[0].days == frozenset(range(5))
    True
    """
    out = []
    for part in text.split(","):
        days, _, hours = part.strip().partition(" ")
        first, _, last = days.partition("-")
        a, b = _day(first), _day(last or first)
        start, _, end = hours.strip().partition("-")
        span = WorkingHours(
            frozenset(range(a, b + 1) if a <= b else (*range(a, 7), *range(b + 1))),
            time.fromisoformat(start.strip()),
            time.fromisoformat(end.strip()),
        )
        if span.end <= span.start:
            raise ValueError(part)
        out.append(span)
    return tuple(out)


def _scopes(t: Mapping[str, Any], where: str, label: str) -> dict[str, Any]:
    """A policy's grace, notice channels and scopes, validated."""
    out: dict[str, Any] = {}
    if "grace" in t:
        try:
            out["grace"] = parse_duration(str(t["grace"]))
        except ValueError:
            raise ConfigError(
                f"{where}: {label}.grace is {t['grace']!r}; write a duration such as "
                '"24h", "30m" or "2d" ("0": act at once).'
            ) from None
    for key in ("channels", "environments", "owners", "resource_types", "env_tags", "production"):
        if key in t:
            out[key] = tuple(
                v.lower() if key == "production" else v
                for v in _strings(t[key], where, f"{label}.{key}")
            )
    if "keep_tag" in t:
        out["keep_tag"] = str(t["keep_tag"])
    return out


def _policy_hours(t: Mapping[str, Any], where: str, label: str) -> dict[str, Any]:
    """A policy's ``working_hours`` and ``timezone`` (idle only), validated."""
    if "working_hours" not in t and "timezone" not in t:
        return {}
    if t.get("kind") != "idle":
        raise ConfigError(f'{where}: {label}: working_hours applies to kind = "idle" only.')
    return _hours(t, where, label)


def _hours(t: Mapping[str, Any], where: str, label: str) -> dict[str, Any]:
    """``working_hours`` and ``timezone`` of a policy or an owner, validated (an owner may
    give only its time zone: the policy's hours are then read in it)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    owner = label.startswith("owners.")
    try:
        if owner and "working_hours" not in t:
            spans: tuple[WorkingHours, ...] = ()
        else:
            spans = parse_working_hours(str(t.get("working_hours", "")))
    except ValueError as exc:
        raise ConfigError(
            f"{where}: {label}.working_hours is {t.get('working_hours')!r}; write days and "
            'hours such as "Mon-Fri 08:00-19:00" (several: separate with commas).'
        ) from exc
    tz = str(t.get("timezone", "UTC"))
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f'{where}: {label}.timezone {tz!r} is not an IANA zone such as "Europe/Berlin".'
        ) from exc
    return {"working_hours": spans, "timezone": tz}
