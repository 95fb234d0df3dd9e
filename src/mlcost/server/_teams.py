"""What "team" means to the server: the attribution owner tag, its spellings normalized.

Bills spell the owner key several ways (``team``, ``Team``, ``team_name``) and its values too
(``ml-search``, ``search``). The server groups by every spelling of the key with
:func:`mlcost.spend` (``tag:team|Team|team_name``) and then names each row's team by
:func:`mlcost.attribution.tags.canonical_value`, the same normalization showback applies, so a
``read:team:search`` token sees every row that showback calls ``search``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlcost.config import AttributionConfig, BudgetConfig
    from mlcost.warehouse import Warehouse

TEAM = "team"
OWNER = "owner"  # attribution's owner model (allocated_costs), see mlcost.attribution.model


@dataclass(frozen=True)
class Teams:
    """The owner key's spellings and value mapping, learned from the warehouse."""

    config: AttributionConfig
    spellings: tuple[str, ...]
    values: dict[str, str]

    @property
    def dimension(self) -> str:
        """The :func:`mlcost.spend` dimension of the team: ``tag:team|Team|team_name``."""
        return "tag:" + "|".join(self.spellings)

    def name(self, raw: str | None) -> str | None:
        """The canonical team of a raw tag value (None stays None: no team)."""
        from mlcost.attribution.tags import canonical_value

        if raw is None:
            return None
        return self.values.get(raw) or canonical_value(raw, self.config.owner, self.config)

    def budget_teams(self, budget: BudgetConfig) -> frozenset[str] | None:
        """The teams a budget's scope is limited to, or None when it is not a team budget."""
        from mlcost.attribution.tags import canonical_key

        if OWNER in budget.scope:  # owners are normalized already
            return frozenset(budget.scope[OWNER])
        for dim, values in budget.scope.items():
            keys = dim[len("tag:") :].split("|") if dim.startswith("tag:") else []
            if keys and any(canonical_key(k, self.config) == self.config.owner for k in keys):
                return frozenset(n for v in values if (n := self.name(v)) is not None)
        return None


def learn_teams(wh: Warehouse, config: AttributionConfig) -> Teams:
    """The :class:`Teams` of what ``wh`` holds (cache it: it reads every distinct tag)."""
    from mlcost.attribution.tags import learn_tag_rules

    rules = learn_tag_rules(wh, config)
    owner = config.owner
    spellings = rules.keys.get(owner) or (owner,)
    return Teams(config, tuple(spellings), dict(rules.values.get(owner, {})))
