"""Tags made usable: key aliases, value normalization, inheritance, and the tag policy.

Real bills spell one fact many ways (``team``, ``Team``, ``team_name``; ``search``,
``ml-search``, ``Search``). :func:`learn_tag_rules` looks at the distinct keys and values the
warehouse holds (a few hundred, not the rows) and maps each spelling to a canonical one:

Keys, first rule that applies:

1. ``[attribution.aliases]`` of ``mlcost.toml`` (compared case-insensitively);
2. the key case-folded, with ``-`` as ``_`` and a ``_name`` / ``name`` suffix dropped
   (``Team`` → ``team``, ``team_name`` → ``team``, ``ModelName`` → ``model``), if that is a
   key the configuration knows (the owner key, the required keys, the allowed keys);
   ``environment`` → ``env``.

Values of a canonical key, first rule that applies:

1. ``[attribution.values.<key>]`` (case-insensitive);
2. the allowed value equal to it case-folded (``Search`` → ``search``), or equal ignoring
   everything but letters and digits (``dataeng`` → ``data-eng``);
3. the allowed value that is its tail after a prefix (``ml-search`` → ``search``,
   ``cv-vision`` → ``vision``);
4. the one allowed value it is a prefix of, word by word (``llm`` → ``llm-platform``);
5. otherwise the value case-folded (and reported by the audit if the key has allowed values).

The mapping is then applied to every row as an Ibis expression (a ``CASE`` over the spellings).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from mlcost.config import AttributionConfig

if TYPE_CHECKING:
    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = [
    "AuditRow",
    "OwnerKey",
    "TagAudit",
    "TagRules",
    "audit_tags",
    "canonical_key",
    "canonical_value",
    "learn_tag_rules",
    "owner_keys",
    "suggest_config",
]

_KEY_SYNONYMS = {"environment": "env", "stage": "env"}
_WORDS = re.compile(r"[^0-9a-z]+")


def canonical_key(raw: str, config: AttributionConfig) -> str | None:
    """The canonical key a raw tag key stands for, or None if it is none we know."""
    aliases = {k.casefold(): v for k, v in config.aliases.items()}
    folded = raw.casefold()
    if folded in aliases:
        return aliases[folded]
    known = {config.owner, *config.required, *config.allowed, *config.values, *aliases.values()}
    key = folded.replace("-", "_")
    for suffix in ("_name", "name"):
        if key.endswith(suffix) and key[: -len(suffix)].rstrip("_") in known:
            key = key[: -len(suffix)].rstrip("_")
    key = _KEY_SYNONYMS.get(key, key)
    return key if key in known else None


def canonical_value(raw: str, key: str, config: AttributionConfig) -> str:
    """The canonical spelling of a value of ``key`` (see the module docstring)."""
    aliases = {k.casefold(): v for k, v in config.values.get(key, {}).items()}
    folded = raw.strip().casefold()
    if folded in aliases:
        return aliases[folded]
    allowed = config.allowed.get(key, ())
    by_fold = {a.casefold(): a for a in allowed}
    if folded in by_fold:
        return by_fold[folded]
    squeeze = {_WORDS.sub("", a.casefold()): a for a in allowed}
    if _WORDS.sub("", folded) in squeeze:
        return squeeze[_WORDS.sub("", folded)]
    words = [w for w in _WORDS.split(folded) if w]
    for i in range(1, len(words)):
        tail = "".join(words[i:])
        if tail in squeeze:
            return squeeze[tail]
    starts = [
        a for a in allowed if [w for w in _WORDS.split(a.casefold()) if w][: len(words)] == words
    ]
    if words and len(starts) == 1:
        return starts[0]
    return folded


@dataclass(frozen=True)
class TagRules:
    """Raw spellings per canonical key, and each key's value mapping (learned from data)."""

    config: AttributionConfig
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def canonical_keys(self) -> tuple[str, ...]:
        wanted = [self.config.owner, *self.config.required]
        return tuple(dict.fromkeys(wanted))

    def value(self, tags: ir.Value, key: str) -> ir.Value:
        """The canonical value of ``key`` in a tags map column (NULL when absent)."""
        import ibis

        spellings = self.keys.get(key, ())
        if not spellings:
            return ibis.null().cast("string")
        raw = ibis.coalesce(*[tags.get(k) for k in spellings]) if len(spellings) > 1 else None
        raw = tags.get(spellings[0]) if raw is None else raw
        mapping = {k: v for k, v in self.values.get(key, {}).items() if k != v}
        normalized = raw.substitute(mapping) if mapping else raw
        return normalized.nullif("")


def _distinct(expr: ir.Table, column: str) -> list[str]:
    rows = expr.select(column).distinct().to_pyarrow().column(column).to_pylist()
    return [r for r in rows if r is not None]


def _spelling_order(key: str) -> Callable[[str], tuple[bool, bool, str]]:
    return lambda raw: (raw != key, raw.casefold() != key, raw)


def learn_tag_rules(
    warehouse: Warehouse, config: AttributionConfig, *, tables: Iterable[ir.Table] = ()
) -> TagRules:
    """Map every key and value spelling found in the bill and the workloads (set-level)."""
    sources: list[tuple[ir.Table, str]] = [(warehouse.table("cost_line_items"), "Tags")]
    sources.append((warehouse.table("workloads"), "tags"))
    sources += [(t, "Tags") for t in tables]
    raw_keys: set[str] = set()
    for t, col in sources:
        raw_keys.update(_distinct(t.select(k=t[col].keys().unnest()), "k"))
    found: dict[str, list[str]] = {}
    for raw in sorted(raw_keys):
        canonical = canonical_key(raw, config)
        if canonical is not None:
            found.setdefault(canonical, []).append(raw)
    # Exact canonical spelling first: it wins when a row carries two spellings.
    ordered = {k: tuple(sorted(v, key=_spelling_order(k))) for k, v in found.items()}
    values: dict[str, dict[str, str]] = {}
    for key, spellings in ordered.items():
        seen: set[str] = set()
        for t, col in sources:
            for raw in spellings:
                seen.update(_distinct(t.select(v=t[col].get(raw)), "v"))
        values[key] = {v: canonical_value(v, key, config) for v in sorted(seen)}
    return TagRules(config=config, keys=ordered, values=values)


# -- the tag policy ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    """Spend of one resource (or charges without one) that breaks the tag policy."""

    account: str | None
    resource: str | None
    status: str  # "untagged": none of the required keys; "non-compliant": some missing/invalid
    missing: tuple[str, ...]
    invalid: tuple[str, ...]  # "key=value" pairs outside the allowed values
    cost: Decimal
    share: float
    resource_name: str | None = None  # ResourceName as billed


@dataclass(frozen=True)
class TagAudit:
    """Untagged and non-compliant spend, worst first, in ``currency`` (``metric``).

    ``owner_missing`` is the spend whose own tags carry no owner key (after aliases, before
    inheritance): the figure to compare with a bill's "untagged share".
    """

    currency: str
    metric: str
    total: Decimal
    untagged: Decimal
    non_compliant: Decimal
    owner_missing: Decimal
    rows: tuple[AuditRow, ...]
    # The bill's tag keys, the likeliest ownership key first (see owner_keys).
    owner_keys: tuple[OwnerKey, ...] = ()

    @property
    def untagged_share(self) -> float:
        return float(self.untagged / self.total) if self.total else 0.0

    @property
    def non_compliant_share(self) -> float:
        return float(self.non_compliant / self.total) if self.total else 0.0

    @property
    def owner_missing_share(self) -> float:
        return float(self.owner_missing / self.total) if self.total else 0.0


def audit_tags(
    warehouse: Warehouse,
    config: AttributionConfig,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    metric: str = "EffectiveCost",
    rules: TagRules | None = None,
) -> TagAudit:
    """Spend by account and resource that misses a required tag or has a value not allowed.

    >>> from mlcost import open_warehouse
    >>> from mlcost.config import AttributionConfig
    >>> audit_tags(open_warehouse("duckdb://:memory:"), AttributionConfig()).rows
    ()
    """
    import ibis

    rules = rules or learn_tag_rules(warehouse, config)
    t = _countable(warehouse, start, end, metric)
    required = list(dict.fromkeys(config.required))
    none = ibis.literal(None, type="string")
    tags = {k: rules.value(t.Tags, k) for k in dict.fromkeys([*required, config.owner])}
    missing = [ibis.ifelse(tags[k].isnull(), k, none) for k in required]
    invalid = []
    for key in required:
        allowed = config.allowed.get(key)
        if allowed:
            bad = tags[key].notnull() & ~tags[key].isin(list(allowed))
            invalid.append(ibis.ifelse(bad, ibis.literal(key + "=") + tags[key], none))
    rows = t.mutate(
        account=ibis.coalesce(t.SubAccountId, t.BillingAccountId),
        missing=ibis.array([*missing, none]).filter(lambda x: x.notnull()),
        invalid=ibis.array([*invalid, none]).filter(lambda x: x.notnull()),
        owner_missing=tags[config.owner].isnull(),
    )
    total_q = rows.group_by("BillingCurrency").aggregate(
        total=rows[metric].sum(),
        owner_missing=rows[metric].sum(where=rows.owner_missing),
    )
    bad_rows = rows.filter((rows.missing.length() > 0) | (rows.invalid.length() > 0))
    grouped = bad_rows.group_by(
        ["account", "ResourceId", "missing", "invalid", "BillingCurrency"]
    ).aggregate(cost=bad_rows[metric].sum(), name=bad_rows.ResourceName.max())
    grouped = grouped.order_by([grouped.cost.abs().desc(), grouped.ResourceId])
    totals = total_q.to_pyarrow().to_pylist()
    currency = _one_currency(r["BillingCurrency"] for r in totals)
    total = sum((Decimal(r["total"] or 0) for r in totals), Decimal(0))
    out: list[AuditRow] = []
    untagged = non_compliant = Decimal(0)
    for r in grouped.to_pyarrow().to_pylist():
        miss = tuple(r["missing"] or ())
        cost = Decimal(r["cost"] or 0)
        status = "untagged" if len(miss) == len(required) else "non-compliant"
        if status == "untagged":
            untagged += cost
        else:
            non_compliant += cost
        out.append(
            AuditRow(
                account=r["account"],
                resource=r["ResourceId"],
                status=status,
                missing=miss,
                invalid=tuple(r["invalid"] or ()),
                cost=cost,
                share=float(cost / total) if total else 0.0,
                resource_name=r["name"],
            )
        )
    return TagAudit(
        currency=currency,
        metric=metric,
        total=total,
        untagged=untagged,
        non_compliant=non_compliant,
        owner_missing=sum((Decimal(r["owner_missing"] or 0) for r in totals), Decimal(0)),
        rows=tuple(out),
        owner_keys=owner_keys(warehouse, start=start, end=end, metric=metric),
    )


def _countable(
    warehouse: Warehouse, start: datetime | None, end: datetime | None, metric: str
) -> ir.Table:
    """The line items of ``[start, end)`` whose ``metric`` adds up (no commitment twice)."""
    from mlcost.spending import countable_rows

    t = warehouse.table("cost_line_items")
    if start is not None:
        t = t.filter(t.ChargePeriodStart >= start)
    if end is not None:
        t = t.filter(t.ChargePeriodStart < end)
    return countable_rows(t, metric)


def _one_currency(currencies: Iterable[str | None]) -> str:
    found = sorted({c for c in currencies if c})
    if len(found) > 1:
        from mlcost.errors import MissingCurrency

        raise MissingCurrency(
            f"the bill has several billing currencies ({', '.join(found)}); attribution adds "
            "money in one currency",
            fix="Load one currency per warehouse, or filter by BillingCurrency first.",
        )
    return found[0] if found else "USD"


# -- which keys carry ownership ------------------------------------------------------------

# Keys whose names mean "who pays", squeezed to letters and digits; they win ties over keys
# that describe the resource (environment, application).
OWNERSHIP_NAMES = (
    "team",
    "owner",
    "businessunit",
    "costcenter",
    "costcentre",
    "department",
    "project",
)


def key_family(raw: str) -> str:
    """The spelling-free name of a raw tag key: a ``user:`` / ``ms:`` prefix dropped,
    case-folded, words joined by ``_``, a ``_name`` suffix dropped (``Team``, ``team_name``,
    ``user:Team`` → ``team``; ``CostCenter`` → ``costcenter``; ``Cost department`` →
    ``cost_department``). Synonyms stay apart (``env`` and ``environment`` are two keys: a
    bill that uses both is two tag policies, and merging them would outweigh a real tie)."""
    name = raw.rsplit(":", 1)[-1].strip()
    words = [w for w in _WORDS.split(name.casefold()) if w]
    if len(words) > 1 and words[-1] == "name":
        words = words[:-1]
    key = "_".join(words) or raw.casefold()
    if key.endswith("name") and key[:-4] in _OWNERSHIP_SQUEEZED:
        key = key[:-4]
    return key


_OWNERSHIP_SQUEEZED = frozenset(OWNERSHIP_NAMES)


def means_ownership(family: str) -> bool:
    """Whether a key family's name says who owns the cost (``team``, ``cost_center``,
    ``business_unit``, ``owning_team``, ``cost_department``)."""
    squeezed = _WORDS.sub("", family.casefold())
    return any(squeezed == n or squeezed.endswith(n) for n in OWNERSHIP_NAMES)


@dataclass(frozen=True)
class OwnerKey:
    """A tag key family and the absolute cost of the rows that carry it (any spelling)."""

    key: str
    spellings: tuple[str, ...]
    coverage: Decimal  # sum of |metric| of the rows with a non-empty value
    share: float  # of the bill's sum of |metric|
    ownership: bool  # the name means ownership
    values: tuple[str, ...]  # the likeliest key only: its values, most covered first (<= 50)
    distinct_values: int = 0


def owner_keys(
    warehouse: Warehouse,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    metric: str = "EffectiveCost",
) -> tuple[OwnerKey, ...]:
    """Tag key families of the bill, the likeliest ownership key first.

    Order: coverage of absolute cost (to 0.1 % of the bill: closer is a tie), then keys whose
    names mean ownership before keys that describe the resource, then coverage, then name.
    Absolute cost, so credits and refunds count as much as charges.
    """
    import ibis

    t = _countable(warehouse, start, end, metric)
    raw = sorted(_distinct(t.select(k=t.Tags.keys().unnest()), "k"))
    families: dict[str, list[str]] = {}
    for k in raw:
        families.setdefault(key_family(k), []).append(k)
    if not families:
        return ()
    money = t[metric].abs()
    names = list(families)

    def carried(spellings: Sequence[str]) -> ir.Value:
        value = ibis.coalesce(*[t.Tags.get(s).nullif("") for s in spellings])
        return value.strip().nullif("").notnull()

    agg = t.aggregate(
        total=money.sum(),
        **{f"f{i}": money.sum(where=carried(families[n])) for i, n in enumerate(names)},
    )
    row = agg.to_pyarrow().to_pylist()[0]
    total = Decimal(row["total"] or 0)
    found = []
    for i, n in enumerate(names):
        cover = Decimal(row[f"f{i}"] or 0)
        share = float(cover / total) if total else 0.0
        found.append((n, cover, share))
    found.sort(key=lambda f: (-round(f[2], 3), not means_ownership(f[0]), -f[1], f[0]))
    # The values of the likeliest key, to start [attribution.allowed] from.
    first = families[found[0][0]]
    value = ibis.coalesce(*[t.Tags.get(s).nullif("") for s in first]).strip().nullif("")
    v = t.mutate(v=value, a=money).filter(ibis._.v.notnull())
    per = v.group_by("v").aggregate(c=v.a.sum())
    values = tuple(
        per.order_by([ibis.desc("c"), "v"]).limit(50).to_pyarrow().column("v").to_pylist()
    )
    count = int(per.count().execute())
    return tuple(
        OwnerKey(
            n,
            tuple(families[n]),
            cover,
            share,
            means_ownership(n),
            values if i == 0 else (),
            count if i == 0 else 0,
        )
        for i, (n, cover, share) in enumerate(found)
    )


def suggest_config(keys: Sequence[OwnerKey], *, required: int = 4) -> str:
    """The ``[attribution]`` block for a bill new to mlcost, from :func:`owner_keys`."""
    if not keys:
        return "# No tags in this bill: nothing to suggest.\n"
    owner = keys[0]
    picked = [owner, *[k for k in keys[1:] if k.share > 0][: required - 1]]
    # mlcost's canonical names: environment/stage are env.
    name = {k.key: _KEY_SYNONYMS.get(k.key, k.key) for k in picked}
    lines = [
        f"# {owner.key}: carried by {owner.share:.1%} of the bill's absolute cost"
        f" ({', '.join(owner.spellings)})",
        "[attribution]",
        f'owner = "{name[owner.key]}"',
        "required = [" + ", ".join(f'"{name[k.key]}"' for k in picked) + "]",
    ]
    config = AttributionConfig(owner=name[owner.key], required=tuple(name.values()))
    aliases = {
        s: name[k.key]
        for k in picked
        for s in k.spellings
        if canonical_key(s, config) != name[k.key]
    }
    if aliases:
        lines += ["", "[attribution.aliases]"]
        lines += [f'"{s}" = "{k}"' for s, k in sorted(aliases.items())]
    if owner.values:
        shown = f"{len(owner.values)} of {owner.distinct_values}"
        lines += ["", f"[attribution.allowed]  # {shown} values, most cost first: keep the owners"]
        lines.append(f"{name[owner.key]} = [" + ", ".join(f'"{v}"' for v in owner.values) + "]")
    return "\n".join(lines) + "\n"
