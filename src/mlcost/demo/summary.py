"""The first numbers a FinOps engineer wants from the demo bill, read from the FOCUS files.

This reads the generated CSVs directly and is the stand-in until the warehouse ingest is
wired into ``mlcost demo``; team tags are normalized with the ground truth's map.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

UNTAGGED = "(untagged)"


@dataclass(frozen=True)
class DemoSummary:
    """EffectiveCost in USD: total, by team, by provider, and the share with no team tag."""

    total_usd: float
    by_team: list[tuple[str, float]]  # largest first; UNTAGGED collects rows with no team
    by_provider: list[tuple[str, float]]
    untagged_usd: float

    @property
    def untagged_share(self) -> float:
        return self.untagged_usd / self.total_usd if self.total_usd else 0.0


def summarize(out: str | Path) -> DemoSummary:
    """Spend by team and provider of a generated demo folder.

    >>> import tempfile
    >>> from mlcost.demo import generate_demo
    >>> folder = generate_demo(tempfile.mkdtemp(), days=1, scale=0.2).out
    >>> 0 < summarize(folder).untagged_share < 1
    True
    """
    root = Path(out)
    truth = json.loads((root / "ground_truth.json").read_text(encoding="utf-8"))
    keys = truth["tag_normalization"]["keys"]
    values = truth["tag_normalization"]["values"]
    teams: dict[str, float] = defaultdict(float)
    providers: dict[str, float] = defaultdict(float)
    for path in sorted(root.glob("billing/*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                cost = float(row["EffectiveCost"])
                providers[row.get("ServiceProviderName") or row["ProviderName"]] += cost
                tags = json.loads(row["Tags"]) if row["Tags"] else {}
                team = next((str(v) for k, v in tags.items() if k in keys), None)
                teams[values.get(team, team) if team else UNTAGGED] += cost
    return DemoSummary(
        total_usd=sum(providers.values()),
        by_team=sorted(teams.items(), key=lambda kv: -kv[1]),
        by_provider=sorted(providers.items(), key=lambda kv: -kv[1]),
        untagged_usd=teams.get(UNTAGGED, 0.0),
    )
