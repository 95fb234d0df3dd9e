"""The fictional organization: teams, accounts and every GPU host it runs in the window.

A :class:`Host` is one billed GPU instance with the hours it ran and the shape of its GPU use
(its ``profile``). Everything else (bill, telemetry, scheduler records, ground truth) is
derived from the hosts, so the outputs agree with each other by construction.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mlcost.demo._prices import SKUS, Sku

START = datetime(2026, 5, 1, tzinfo=UTC)
WORK_START_H, WORK_END_H = 8, 19  # notebooks are used 08:00-19:00 UTC on weekdays

TEAMS = ("search", "recommendations", "llm-platform", "vision", "data-eng", "speech")

# How tags really arrive: the same fact under several keys and spellings.
TEAM_KEY_VARIANTS = {
    "aws": ("team", "team", "Team"),
    "gcp": ("team", "team_name"),
    "azure": ("team", "team_name", "Team"),
}
TEAM_VALUE_VARIANTS = {
    "search": ("search", "ml-search", "Search"),
    "recommendations": ("recommendations", "recsys"),
    "llm-platform": ("llm-platform", "LLM-Platform", "llm"),
    "vision": ("vision", "cv-vision"),
    "data-eng": ("data-eng", "dataeng"),
    "speech": ("speech", "asr"),
}


@dataclass(frozen=True)
class Account:
    provider: str
    billing_account_id: str
    billing_account_name: str
    sub_account_id: str
    sub_account_name: str


@dataclass(frozen=True)
class Host:
    """One GPU instance billed by the hour in ``[start_h, end_h)`` hours after START."""

    name: str
    resource_id: str
    sku: Sku
    account: Account
    zone: str
    purchase: str  # on-demand | spot | reserved
    kind: str  # training | fine-tuning | sweep | inference | batch | notebook | data
    profile: str  # shape of GPU use, see _telemetry.utilization
    team: str | None  # the true owner (None for nobody's)
    tags: dict[str, str]
    start_h: int
    end_h: int
    telemetry: str  # "nvidia-smi" (VMs, Slurm) or "dcgm" (Kubernetes nodes)
    gpu_uuids: tuple[str, ...]
    down: tuple[tuple[int, int], ...] = ()  # hours not running inside [start, end)
    busy: tuple[tuple[float, float], ...] = ()  # hours with a job (Slurm nodes, forgotten)
    project: str = ""
    model: str = ""
    cluster: str = ""  # Kubernetes or Slurm cluster
    commitment_id: str = ""
    work_hours: float = 0.0  # runaway job: hours the job should have taken
    idle_gpus: tuple[int, ...] = ()  # GPU indices no process ever uses (0 %, no memory)

    def hours(self) -> list[int]:
        """Billed hours, in order."""
        out = []
        for h in range(self.start_h, self.end_h):
            if not any(a <= h < b for a, b in self.down):
                out.append(h)
        return out


@dataclass
class Org:
    seed: int
    days: int
    scale: float
    accounts: dict[str, Account]
    hosts: list[Host] = field(default_factory=list)
    teams: tuple[str, ...] = ()
    commitments: list[dict[str, object]] = field(default_factory=list)
    planted: dict[str, list[str]] = field(default_factory=dict)  # waste kind -> host names

    @property
    def hours(self) -> int:
        return self.days * 24


def ts(hour: float) -> datetime:
    return START + timedelta(hours=hour)


class _Builder:
    def __init__(self, seed: int, days: int, scale: float) -> None:
        self.rng = random.Random(f"mlcost-demo/{seed}")
        self.seed = seed
        self.days = days
        self.scale = scale
        self.H = days * 24
        self.names: set[str] = set()
        rng = self.rng
        self.accounts = {
            "aws": Account(
                "aws",
                f"{rng.randrange(10**11, 10**12)}",
                "Acme ML Payer",
                f"{rng.randrange(10**11, 10**12)}",
                "ml-workloads",
            ),
            "gcp": Account(
                "gcp",
                f"{rng.randrange(16**5, 16**6):06X}-{rng.randrange(16**5, 16**6):06X}-"
                f"{rng.randrange(16**5, 16**6):06X}",
                "Acme ML Billing",
                f"acme-ml-{rng.randrange(100000, 999999)}",
                "acme-ml",
            ),
            "azure": Account(
                "azure", f"{self.uuid()}", "Acme MCA", f"{self.uuid()}", "acme-ml-prod"
            ),
        }
        self.org = Org(seed, days, scale, self.accounts)
        teams = list(TEAMS)
        rng.shuffle(teams)
        core = ["search", "recommendations", "llm-platform", "vision", "data-eng"]
        extra = [t for t in teams if t not in core]
        self.org.teams = tuple(sorted(core + extra[: rng.randint(0, 1)]))

    # -- small helpers --------------------------------------------------------------
    def n(self, base: float) -> int:
        return max(1, round(base * self.scale))

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def hours_frac(self, a: float, b: float) -> tuple[int, int]:
        """Start and end hour for fractions a..b of the window (at least one hour)."""
        s = min(int(a * self.H), self.H - 1)
        return s, max(s + 1, min(self.H, int(b * self.H)))

    def tags(self, provider: str, team: str | None, **extra: str) -> dict[str, str]:
        rng = self.rng
        if team is None:
            return dict(extra)
        key = rng.choice(TEAM_KEY_VARIANTS[provider])
        value = rng.choice(TEAM_VALUE_VARIANTS[team]) if rng.random() < 0.3 else team
        if provider == "gcp":  # GCP labels are lowercase only
            value = value.lower()
        out = {key: value}
        out.update(extra)
        return out

    def add(
        self,
        name: str,
        instance: str,
        *,
        purchase: str,
        kind: str,
        profile: str,
        team: str | None,
        span: tuple[int, int],
        telemetry: str = "nvidia-smi",
        tagged: bool = True,
        env: str = "prod",
        project: str = "",
        model: str = "",
        cluster: str = "",
        down: tuple[tuple[int, int], ...] = (),
        busy: tuple[tuple[float, float], ...] = (),
        commitment_id: str = "",
        work_hours: float = 0.0,
        idle_gpus: tuple[int, ...] = (),
    ) -> Host:
        sku = SKUS[instance]
        acct = self.accounts[sku.provider]
        while name in self.names:
            name += "x"
        self.names.add(name)
        zone = {"aws": "us-east-1b", "gcp": "us-central1-a", "azure": "eastus-1"}[sku.provider]
        if sku.provider == "aws":
            iid = f"i-{self.rng.getrandbits(68):017x}"
            rid = f"arn:aws:ec2:{sku.region}:{acct.sub_account_id}:instance/{iid}"
        elif sku.provider == "gcp":
            gcp_project = acct.sub_account_id
            rid = f"//compute.googleapis.com/projects/{gcp_project}/zones/{zone}/instances/{name}"
        else:
            rid = (
                f"/subscriptions/{acct.sub_account_id}/resourceGroups/rg-ml/providers/"
                f"Microsoft.Compute/virtualMachines/{name}"
            )
        tag_extra: dict[str, str] = {}
        if tagged:
            tag_extra["env"] = env
            if project:
                tag_extra["project"] = project
            if model:
                tag_extra["model"] = model
        tags = self.tags(sku.provider, team if tagged else None, **tag_extra)
        if cluster and sku.provider == "aws":
            tags[f"kubernetes.io/cluster/{cluster}"] = "owned"
        gpus = tuple(f"GPU-{self.uuid()}" for _ in range(sku.gpu_count))
        host = Host(
            name=name,
            resource_id=rid,
            sku=sku,
            account=acct,
            zone=zone,
            purchase=purchase,
            kind=kind,
            profile=profile,
            team=team,
            tags=tags,
            start_h=span[0],
            end_h=span[1],
            telemetry=telemetry,
            gpu_uuids=gpus,
            down=down,
            busy=busy,
            project=project,
            model=model,
            cluster=cluster,
            commitment_id=commitment_id,
            work_hours=work_hours,
            idle_gpus=idle_gpus,
        )
        self.org.hosts.append(host)
        return host

    def plant(self, kind: str, host: Host) -> None:
        self.org.planted.setdefault(kind, []).append(host.name)

    # -- the organization ----------------------------------------------------------
    def build(self) -> Org:
        rng = self.rng
        H = self.H
        # Slurm cluster on reserved p4d nodes (llm-platform's research cluster).
        aws_account = self.accounts["aws"].sub_account_id
        ri_id = f"arn:aws:ec2:us-east-1:{aws_account}:reserved-instances/{self.uuid()}"
        nodes = self.n(8)
        self.org.commitments.append({"id": ri_id, "instance": "p4d.24xlarge", "count": nodes})
        for i in range(nodes):
            down: tuple[tuple[int, int], ...] = ()
            if i == 0 and H >= 48:  # a maintenance window: the reservation goes unused
                d0 = rng.randrange(H // 4, H // 2)
                down = ((d0, d0 + 36),)
            busy = []
            t = rng.uniform(0, 6)
            while t < H:
                dur = rng.uniform(3, 40)
                busy.append((round(t, 2), round(min(H, t + dur), 2)))
                t += dur + rng.expovariate(1 / 5)
            self.add(
                f"hpc-a100-{i:02d}",
                "p4d.24xlarge",
                purchase="reserved",
                kind="training",
                profile="slurm",
                team="llm-platform",
                span=(0, H),
                down=down,
                busy=tuple(busy),
                project="research",
                cluster="hpc-a100",
                commitment_id=ri_id,
            )
        # Pre-training on on-demand H100 nodes.
        span = self.hours_frac(rng.uniform(0.05, 0.15), rng.uniform(0.55, 0.65))
        for i in range(self.n(4)):
            self.add(
                f"atlas-pretrain-{i}",
                "p5.48xlarge",
                purchase="on-demand",
                kind="training",
                profile="train",
                team="llm-platform",
                span=span,
                project="atlas",
                model="atlas-7b",
            )
        # Fault-tolerant fine-tuning on on-demand p4d: could have run on spot.
        # Each team runs one fine-tune at a time: a run is booked, in the order the runs are
        # submitted, into the first free slot of its team at or after its random start.
        # Without that, random starts pile a team's runs on top of each other by chance
        # (seed 2: three of search's p4d runs on 2026-05-24/25, 4x its usual day), an
        # unplanned spend anomaly in what is meant as background; the planted anomaly is the
        # eval burst below. A run with no free slot before the window's end keeps its drawn
        # start (a short window cannot hold a team's queue). Booking draws no random number:
        # every other host stays as it was.
        booked: dict[str, list[tuple[int, int]]] = {}
        for i in range(self.n(10)):
            a = rng.uniform(0, 0.9)
            s, e = self.hours_frac(a, a + rng.uniform(8, 40) / H)
            team = rng.choice(["llm-platform", "recommendations", "search"])
            s, e = _book(booked.setdefault(team, []), s, e, H)
            h = self.add(
                f"ft-{team[:4]}-{i:02d}",
                "p4d.24xlarge",
                purchase="on-demand",
                kind="fine-tuning",
                profile="train",
                team=team,
                span=(s, e),
                project="finetune",
                model=f"{team}-ft-{i}",
            )
            self.plant("spot_eligible_on_demand", h)
        # Hyper-parameter sweep on spot.
        base = rng.uniform(0.1, 0.6)
        for i in range(self.n(24)):
            a = base + rng.uniform(0, 0.2)
            span = self.hours_frac(a, a + rng.uniform(3, 6) / H)
            self.add(
                f"sweep-ranker-{i:02d}",
                "g5.xlarge",
                purchase="spot",
                kind="sweep",
                profile="sweep",
                team="recommendations",
                span=span,
                project="ranker-v3",
                model="ranker-v3",
                tagged=rng.random() > 0.2,
            )
        # Inference endpoints on EKS.
        for i in range(self.n(4)):
            self.add(
                f"eks-serving-embed-{i}",
                "g5.2xlarge",
                purchase="on-demand",
                kind="inference",
                profile="diurnal",
                team="search",
                span=(0, H),
                telemetry="dcgm",
                cluster="eks-serving",
                project="query-embedder",
                model="embedder-v2",
            )
        for i in range(self.n(3) + 1):
            h = self.add(
                f"eks-serving-ranker-{i}",
                "g5.12xlarge",
                purchase="on-demand",
                kind="inference",
                profile="overprovisioned",
                team="recommendations",
                span=(0, H),
                telemetry="dcgm",
                cluster="eks-serving",
                project="ranker-serving",
                model="ranker-v2",
            )
            self.plant("overprovisioned_endpoint", h)
        # Notebooks: busy in working hours, idle nights and weekends.
        nb_teams = [t for t in self.org.teams if t != "data-eng"]
        for i in range(self.n(8)):
            team = nb_teams[i % len(nb_teams)]
            inst = "Standard_NC4as_T4_v3" if i % 3 == 2 else "g5.xlarge"
            h = self.add(
                f"nb-{team[:6]}-{i:02d}",
                inst,
                purchase="on-demand",
                kind="notebook",
                profile="notebook",
                team=team,
                span=(0, H),
                env="dev",
                project="exploration",
            )
            self.plant("idle_gpu_nights_weekends", h)
        # A forgotten dev instance: used for a few hours on day one, then left running.
        h = self.add(
            "vision-dev-big",
            "g5.12xlarge",
            purchase="on-demand",
            kind="notebook",
            profile="forgotten",
            team="vision",
            span=(9, H),
            env="dev",
            busy=((9.0, min(H, 15.0)),),
            project="segmentation",
        )
        self.plant("forgotten_dev_instance", h)
        # Data processing (RAPIDS) on spot T4s, a few a day; a share untagged.
        for d in range(self.days):
            for j in range(self.n(2)):
                s = d * 24 + rng.randrange(0, 20)
                self.add(
                    f"etl-{d:02d}-{j}",
                    "g4dn.xlarge",
                    purchase="spot",
                    kind="data",
                    profile="data",
                    team="data-eng",
                    span=(s, min(H, s + rng.randint(2, 4))),
                    project="feature-pipeline",
                    tagged=rng.random() > 0.3,
                )
        # GCP: vision training on A100, one run that never stops (runaway).
        for i in range(self.n(4)):
            a = rng.uniform(0, 0.8)
            span = self.hours_frac(a, a + rng.uniform(12, 36) / H)
            self.add(
                f"vision-train-{i}",
                "a2-highgpu-8g",
                purchase="on-demand",
                kind="training",
                profile="train",
                team="vision",
                span=span,
                project="segmentation",
                model=f"segformer-b{i}",
            )
        span = self.hours_frac(rng.uniform(0.1, 0.3), 0.3 + 0.45)
        work = max(1.0, min(10.0, (span[1] - span[0]) / 4))
        h = self.add(
            "vision-train-runaway",
            "a2-highgpu-8g",
            purchase="on-demand",
            kind="training",
            profile="train",
            team="vision",
            span=span,
            project="segmentation",
            model="segformer-xl",
            work_hours=work,
        )
        self.plant("runaway_job", h)
        # GKE: vision batch inference at night on spot L4 nodes, and an always-on endpoint.
        for d in range(self.days):
            for j in range(self.n(3)):
                s = d * 24 + 1
                self.add(
                    f"gke-batch-{d:02d}-{j}",
                    "g2-standard-4",
                    purchase="spot",
                    kind="batch",
                    profile="batch",
                    team="vision",
                    span=(s, min(H, s + 4)),
                    telemetry="dcgm",
                    cluster="gke-vision",
                    project="photo-tagging",
                    model="vit-b16",
                )
        for i in range(self.n(2)):
            self.add(
                f"gke-serve-{i}",
                "g2-standard-4",
                purchase="on-demand",
                kind="inference",
                profile="diurnal",
                team="vision",
                span=(0, H),
                telemetry="dcgm",
                cluster="gke-vision",
                project="photo-tagging",
                model="vit-b16",
            )
        # A spend anomaly: somebody launches a big H100 evaluation fleet for a day and a half.
        span = self.hours_frac(rng.uniform(0.55, 0.7), 1.0)
        span = (span[0], min(H, span[0] + 36))
        for i in range(self.n(4)):
            h = self.add(
                f"eval-burst-{i}",
                "a3-highgpu-8g",
                purchase="on-demand",
                kind="batch",
                profile="batch",
                team="llm-platform",
                span=span,
                project="atlas",
                model="atlas-7b-eval",
                env="staging",
            )
            self.plant("spend_anomaly", h)
        # Azure: search's small re-ranker served on A100-80GB (a T4 would do).
        for i in range(self.n(2)):
            h = self.add(
                f"az-rerank-{i}",
                "Standard_NC24ads_A100_v4",
                purchase="on-demand",
                kind="inference",
                profile="small_model",
                team="search",
                span=(0, H),
                project="reranker",
                model="minilm-reranker",
            )
            self.plant("oversized_gpu", h)
        span = self.hours_frac(rng.uniform(0.2, 0.5), 0.5 + rng.uniform(0.1, 0.2))
        self.add(
            "az-vision-train",
            "Standard_ND96asr_v4",
            purchase="on-demand",
            kind="training",
            profile="train",
            team="vision",
            span=span,
            project="detection",
            model="detr-large",
        )
        # Untagged experiments somebody ran on Azure.
        for i in range(self.n(2)):
            a = rng.uniform(0, 0.8)
            span = self.hours_frac(a, a + rng.uniform(10, 30) / H)
            self.add(
                f"az-exp-{i}",
                "Standard_ND96asr_v4",
                purchase="spot",
                kind="training",
                profile="train",
                team="speech" if "speech" in self.org.teams else "search",
                span=span,
                tagged=False,
            )
        # An 8-GPU instance serving a model on two GPUs: the other six never run a kernel.
        # Added last, so every host above draws the same random numbers as before.
        h = self.add(
            "llm-chat-8gpu",
            "p4d.24xlarge",
            purchase="on-demand",
            kind="inference",
            profile="batch",
            team="llm-platform",
            span=(0, H),
            project="atlas-chat",
            model="atlas-7b-chat",
            idle_gpus=(2, 3, 4, 5, 6, 7),
        )
        self.plant("idle_gpus_in_busy_instance", h)
        return self.org


def _book(booked: list[tuple[int, int]], s: int, e: int, end: int) -> tuple[int, int]:
    """The first slot of ``e - s`` hours at or after ``s`` that overlaps nothing ``booked``
    and ends by ``end`` (none: the drawn ``s, e``); the slot is added to ``booked``.

    >>> taken = [(10, 20)]
    >>> _book(taken, 12, 16, 100), _book(taken, 0, 5, 100), _book(taken, 95, 99, 100)
    ((20, 24), (0, 5), (95, 99))
    """
    t, hours = s, e - s
    for a, b in sorted(booked):
        if b <= t:
            continue
        if t + hours <= a:
            break
        t = b
    if t + hours <= end:
        s, e = t, t + hours
    booked.append((s, e))
    return s, e


def build_org(seed: int, days: int, scale: float) -> Org:
    """The whole organization for a seed; pure, same seed -> same org."""
    return _Builder(seed, days, scale).build()
