"""``[attribution]``: tag aliases and values, the tag policy, account owners, shared-cost rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlcost.config._validate import _string_map, _strings, _table
from mlcost.errors import ConfigError

DEFAULT_REQUIRED_TAGS = ("project", "team", "model", "env")
SHARED_METHODS = ("proportional", "even", "fixed")
SHARED_BASES = ("direct", "gpu_hours")


@dataclass(frozen=True)
class SharedRule:
    """Spread the charges that ``match`` selects over owners.

    ``match`` maps a dimension (a FOCUS column or ``tag:<key>``) to the values it may take;
    ``unowned`` also takes whatever ended with no owner. ``method``: ``proportional`` (to each
    owner's direct cost, or GPU-hours with ``basis = "gpu_hours"``), ``even``, or ``fixed``
    (``weights`` per owner, normalized to 1). ``owners`` limits the targets (default: every
    owner with direct cost in the window).
    """

    name: str
    method: str
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unowned: bool = False
    basis: str = "direct"
    weights: Mapping[str, float] = field(default_factory=dict)
    owners: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttributionConfig:
    """How tags become owners, what the tag policy requires, and how shared costs spread.

    ``aliases``: tag key spelling -> canonical key (compared case-insensitively, added to the
    built-in heuristics). ``values``: per canonical key, value spelling -> canonical value.
    ``allowed``: per key, the values the policy accepts (also the targets of value heuristics).
    ``accounts``: default tags of every resource in a (sub-)account, by account id.
    """

    owner: str = "team"
    required: tuple[str, ...] = DEFAULT_REQUIRED_TAGS
    aliases: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    allowed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    accounts: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    shared: tuple[SharedRule, ...] = ()


def _shared_rule(value: object, where: str, n: int) -> SharedRule:
    name = f"attribution.shared[{n}]"
    known = frozenset({"name", "method", "match", "unowned", "basis", "weights", "owners"})
    t = _table(value, where, name, known)
    method = t.get("method")
    if method not in SHARED_METHODS:
        raise ConfigError(
            f"{where}: {name}.method is {method!r}; choose one of {', '.join(SHARED_METHODS)}."
        )
    basis = t.get("basis", "direct")
    if basis not in SHARED_BASES:
        raise ConfigError(
            f"{where}: {name}.basis is {basis!r}; choose one of {', '.join(SHARED_BASES)}."
        )
    match = {
        str(k): _strings(v, where, f"{name}.match.{k}")
        for k, v in _table(t.get("match", {}), where, f"{name}.match", None).items()
    }
    unowned = t.get("unowned", False)
    if not isinstance(unowned, bool):
        raise ConfigError(f"{where}: {name}.unowned must be true or false.")
    if not match and not unowned:
        raise ConfigError(
            f'{where}: {name} matches nothing: give match = {{ ServiceName = "..." }} '
            "(any FOCUS column or tag:<key>) or unowned = true."
        )
    weights: dict[str, float] = {}
    for k, v in _table(t.get("weights", {}), where, f"{name}.weights", None).items():
        if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
            raise ConfigError(f"{where}: {name}.weights.{k} must be a number >= 0, got {v!r}.")
        weights[str(k)] = float(v)
    if method == "fixed" and not sum(weights.values()) > 0:
        raise ConfigError(
            f'{where}: {name} uses method = "fixed" but has no positive weights; '
            "add weights = { search = 2, vision = 1 }."
        )
    return SharedRule(
        name=str(t.get("name") or f"rule-{n}"),
        method=str(method),
        match=match,
        unowned=unowned,
        basis=str(basis),
        weights=weights,
        owners=_strings(t.get("owners", []), where, f"{name}.owners"),
    )


def parse_attribution(raw: object, *, where: str = "attribution") -> AttributionConfig:
    """Validate an ``[attribution]`` table (as ``tomllib`` reads it); errors name ``where``.

    >>> parse_attribution({"aliases": {"team_name": "team"}}).aliases
    {'team_name': 'team'}
    """
    known = frozenset({"owner", "required", "aliases", "values", "allowed", "accounts", "shared"})
    t = _table(raw, where, "attribution", known)
    owner = t.get("owner", "team")
    if not isinstance(owner, str) or not owner:
        raise ConfigError(f'{where}: attribution.owner must be a tag key such as "team".')
    shared = t.get("shared", [])
    if not isinstance(shared, list):
        raise ConfigError(f"{where}: write shared rules as [[attribution.shared]] tables.")
    values = _table(t.get("values", {}), where, "attribution.values", None)
    allowed = _table(t.get("allowed", {}), where, "attribution.allowed", None)
    accounts = _table(t.get("accounts", {}), where, "attribution.accounts", None)
    return AttributionConfig(
        owner=owner,
        required=_strings(t.get("required", list(DEFAULT_REQUIRED_TAGS)), where, "required"),
        aliases=_string_map(t.get("aliases", {}), where, "attribution.aliases"),
        values={
            str(k): _string_map(v, where, f"attribution.values.{k}") for k, v in values.items()
        },
        allowed={
            str(k): _strings(v, where, f"attribution.allowed.{k}") for k, v in allowed.items()
        },
        accounts={
            str(k): _string_map(v, where, f"attribution.accounts.{k}") for k, v in accounts.items()
        },
        shared=tuple(_shared_rule(r, where, n) for n, r in enumerate(shared)),
    )
