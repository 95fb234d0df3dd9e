"""Resource → workloads, and used versus idle GPU cost, as Ibis expressions.

A GPU charge is a usage row of a resource with GPUs (``x_GpuCount > 0``) for a charge period
``[s, e)``; its capacity is ``x_GpuCount × (e − s)`` GPU-hours. Each workload that ran on the
resource (linked through the ``resource_links`` view) claims

    claimed = gpu_share × overlap hours of [start, end) with [s, e)

where ``gpu_share`` is, first that applies:

- a MIG slice: ``gpu_count × g / slices`` for a profile ``<g>g.<mem>gb`` (tag or param
  ``mig_profile``); ``slices`` is 7 (A100, H100, H200, B200) or 4 (A30), NVIDIA's compute
  slices per GPU (MIG user guide, supported profiles, 2026). Compute slices, not memory, so a
  3g.40gb and a 4g.40gb on one A100 pay 3/7 and 4/7;
- time-slicing: ``gpu_count / replicas`` (tag or param ``gpu_replicas``, the device plugin's
  ``replicas``): a pod of a GPU shared 4 ways pays a quarter;
- ``gpu_count`` (whole GPUs), else the whole resource.

Its share of the charge is ``claimed / capacity``; when claims exceed capacity (an
oversubscribed node) every claim is scaled down by the same factor. What nobody claimed is
*unallocated capacity* (``gpu_unallocated``), owned by the resource's own tags. A GPU resource
with no workload record at all is its own workload (``resource:<ResourceId>``).

Used versus idle: within a workload's share, ``used = share × u`` and ``idle = share × (1 − u)``
where ``u`` is the mean of ``gpu_samples.utilization`` over the overlap, per GPU (by UUID, else
index) and then over the GPUs, so each GPU weighs the same: a busy pair and six idle GPUs of
an eight-GPU instance give ``u = 2/8`` of the pair's utilization, however often each GPU
reported. The samples labelled with the workload (``pod`` = its name, ``run_id``,
``job_id``) are used when there are any, else every GPU of the resource. ``utilization`` is
NVML's ``utilization.gpu`` (nvidia-smi, the tracker)
or DCGM's ``DCGM_FI_DEV_GPU_UTIL``: the share of time a kernel ran. It is the one signal every
source has; DCGM's profiling field ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` is finer but needs the
profiling module and is missing on some nodes (NVIDIA/DCGM#226). GPU_UTIL counts a GPU busy
while any kernel runs, so it overstates use: the idle money reported is a lower bound.
A share with no sample is ``gpu_unmeasured``: never guessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlcost.attribution.tags import TagRules

if TYPE_CHECKING:
    from collections.abc import Callable

    import ibis.expr.types as ir

    from mlcost.warehouse import Warehouse

__all__ = [
    "UNCLAIMED_PREFIX",
    "gpu_lines",
    "gpu_portions",
    "linked_workloads",
    "no_workload",
    "workload_gpu_share",
]

_MIG = r"(\d+)g\."
# The workload id of a GPU resource no workload record claims: ``resource:<ResourceId>``
# (its type then comes from tags and names alone).
UNCLAIMED_PREFIX = "resource:"


def gpu_lines(lines: ir.Table) -> ir.Value:
    """Whether a line item is GPU capacity that workloads can claim."""
    unused = lines.CommitmentDiscountStatus.fill_null("") == "Unused"
    return (
        (lines.ChargeCategory == "Usage")
        & (lines.x_GpuCount.fill_null(0) > 0)
        & lines.ResourceId.notnull()
        & ~unused
    ).fill_null(False)


def no_workload(rules: TagRules, *, workload_id: ir.Value | None = None) -> dict[str, ir.Value]:
    """The workload columns of a share that no workload record stands behind (all NULL)."""
    import ibis

    null = ibis.null().cast("string")
    return {
        "workload_id": null if workload_id is None else workload_id,
        "workload_source": null,
        "workload_kind": null,
        "workload_name": null,
        "workload_run": null,
        **{f"w_{k}": null for k in rules.canonical_keys},
    }


def _attr(w: ir.Table, key: str) -> ir.Value:
    import ibis

    return ibis.coalesce(w.params.get(key), w.tags.get(key))


def workload_gpu_share(w: ir.Table) -> ir.Value:
    """GPUs a workload holds (MIG slices and time-sliced replicas as fractions); NULL: all."""
    import ibis

    mig = _attr(w, "mig_profile")
    slices = ibis.ifelse(w.gpu_model.fill_null("").upper().startswith("A30"), 4.0, 7.0)
    g = mig.re_extract(_MIG, 1).nullif("").cast("float64")
    replicas = _attr(w, "gpu_replicas").cast("float64").nullif(0.0)
    count = w.gpu_count
    return ibis.cases(
        (g.notnull(), count.fill_null(1.0) * g / slices),
        (replicas.notnull(), count.fill_null(1.0) / replicas),
        else_=count,
    )


def linked_workloads(warehouse: Warehouse, rules: TagRules) -> ir.Table:
    """Workloads with the billed resource they ran on, their GPU share and canonical tags."""
    w = warehouse.table("workloads")
    links = warehouse.table("resource_links")
    name = w.resource_id.fill_null(w.node)
    j = w.inner_join(links, name == links.name)
    tags = {f"w_{k}": rules.value(j.tags, k) for k in rules.canonical_keys}
    return j.select(
        workload_id=j.workload_id,
        workload_source=j.source,
        workload_kind=j.kind,
        workload_name=j.name,
        workload_run=j.run_id,
        w_start=j.start,
        w_end=j.end,
        billed_resource_id=j.billed_resource_id,
        w_share=workload_gpu_share(j),
        **tags,
    )


def _hours(a: ir.Value, b: ir.Value) -> ir.Value:
    return (b.epoch_seconds() - a.epoch_seconds()).cast("float64") / 3600.0


def gpu_portions(warehouse: Warehouse, lines: ir.Table, rules: TagRules) -> ir.Table:
    """Shares of every GPU line item: per workload used / idle / unmeasured, and unallocated.

    ``lines`` needs ``x_OriginRow``; the result has ``x_OriginRow``, ``bucket``, ``ratio``,
    ``workload_id``, workload columns, ``w_<key>`` tags, ``gpu_hours`` and ``utilization``.
    """
    import ibis

    g = lines.filter(gpu_lines(lines)).select(
        "x_OriginRow", "ResourceId", "ChargePeriodStart", "ChargePeriodEnd", "x_GpuCount"
    )
    g = g.mutate(
        line_hours=_hours(g.ChargePeriodStart, g.ChargePeriodEnd),
    )
    g = g.mutate(capacity=g.x_GpuCount.cast("float64") * g.line_hours)
    wl = linked_workloads(warehouse, rules)
    ws = ibis.greatest(g.ChargePeriodStart, wl.w_start)
    we = ibis.least(g.ChargePeriodEnd, wl.w_end.fill_null(g.ChargePeriodEnd))
    pairs = g.inner_join(
        wl,
        [
            g.ResourceId == wl.billed_resource_id,
            wl.w_start < g.ChargePeriodEnd,
            wl.w_end.fill_null(g.ChargePeriodEnd) > g.ChargePeriodStart,
        ],
    ).mutate(ws=ws.cast("timestamp"), we=we.cast("timestamp"))
    pairs = pairs.mutate(
        claimed=pairs.w_share.fill_null(pairs.x_GpuCount.cast("float64"))
        * _hours(pairs.ws, pairs.we)
    )
    per_line = ibis.window(group_by="x_OriginRow")
    total = pairs.claimed.sum().over(per_line)
    scale = ibis.ifelse(total > pairs.capacity, pairs.capacity / total, 1.0)
    pairs = pairs.mutate(ratio=ibis.ifelse(pairs.capacity > 0, pairs.claimed * scale, 0.0))
    pairs = pairs.mutate(ratio=pairs.ratio / pairs.capacity.nullif(0.0))
    # GPU resources with no workload record: the resource is its own workload.
    has_wl = wl.select(rid=wl.billed_resource_id).distinct()
    alone = g.anti_join(has_wl, g.ResourceId == has_wl.rid)
    own = alone.select(
        "x_OriginRow",
        "ResourceId",
        "x_GpuCount",
        "capacity",
        ws=alone.ChargePeriodStart.cast("timestamp"),
        we=alone.ChargePeriodEnd.cast("timestamp"),
        ratio=ibis.literal(1.0),
        **no_workload(rules, workload_id=UNCLAIMED_PREFIX + alone.ResourceId),
    )
    cols = own.columns
    claims = pairs.select(*cols).union(own)
    util = _utilization(warehouse, claims)
    m = claims.left_join(util, ["x_OriginRow", "workload_id"]).select(*cols, "u", "n")
    keep = [*cols]
    measured = m.filter(m.n > 0)
    used = measured.mutate(bucket=ibis.literal("gpu_used"), part=measured.u)
    idle = measured.mutate(bucket=ibis.literal("gpu_idle"), part=1.0 - measured.u)
    blind = m.filter(m.n.fill_null(0) == 0)
    blind = blind.mutate(bucket=ibis.literal("gpu_unmeasured"), part=ibis.literal(1.0), u=None)
    out = []
    for piece in (used, idle, blind):
        out.append(
            piece.select(
                *[c for c in keep if c != "ratio"],
                bucket=piece.bucket,
                ratio=piece.ratio * piece.part,
                gpu_hours=piece.ratio * piece.part * piece.capacity,
                utilization=piece.u.cast("float64"),
            )
        )
    shares = out[0].union(out[1]).union(out[2])
    claimed = claims.group_by("x_OriginRow").aggregate(claimed=claims.ratio.sum())
    rest = g.left_join(claimed, "x_OriginRow").select(
        g.x_OriginRow, g.ResourceId, g.x_GpuCount, g.capacity, claimed=claimed.claimed
    )
    rest = rest.mutate(left=1.0 - rest.claimed.fill_null(0.0))
    rest = rest.filter(rest.left > 1e-12)
    free = rest.select(
        "x_OriginRow",
        "ResourceId",
        "x_GpuCount",
        "capacity",
        ws=ibis.null().cast("timestamp"),
        we=ibis.null().cast("timestamp"),
        **no_workload(rules),
        bucket=ibis.literal("gpu_unallocated"),
        ratio=rest.left,
        gpu_hours=rest.left * rest.capacity,
        utilization=ibis.null().cast("float64"),
    )
    return shares.union(free.select(*shares.columns))


def _utilization(warehouse: Warehouse, claims: ir.Table) -> ir.Table:
    """Mean utilization per (line, workload) over its overlap; labelled samples preferred.

    A claim meets its resource's samples hour by hour. Where it covers a whole hour (a job
    that ran through it: most of a month's claims) it reads that hour's sums per GPU and
    label, computed once from the samples; only the hours it covers in part (where a job
    started or ended) read the samples themselves. The means are the same sums over the
    same samples: a month of per-minute samples is not joined once per claim.
    """
    import ibis

    def samples(**more: Callable[[ir.Table], ir.Value]) -> ir.Table:
        # Built twice (with the hour, for the sums; without, for the part hours) so that an
        # engine reads the samples in each place rather than writing all of them out once.
        s = warehouse.table("gpu_samples")
        links = warehouse.table("resource_links")
        return s.inner_join(links, s.resource_id == links.name).select(
            rid=links.billed_resource_id,
            time=s.time,
            utilization=s.utilization,
            pod=s.labels.get("pod"),
            run_id=s.labels.get("run_id"),
            job_id=s.labels.get("job_id"),
            gpu=ibis.coalesce(s.gpu_uuid, s.gpu_index.cast("string")).fill_null(""),
            **{name: f(s) for name, f in more.items()},
        )

    s = samples(hour=lambda t: t.time.truncate("h"))
    label_cols = ["pod", "run_id", "job_id"]
    hourly = s.group_by(["rid", "hour", "gpu", *label_cols]).aggregate(
        total=s.utilization.sum(), n=s.utilization.count()
    )
    # Claims meet samples through the hours both cover: joined on the resource alone, every
    # claim of a resource would be tested against every sample of that resource (a month of
    # hourly lines × a month of per-minute samples).
    hours = hourly.select("rid", "hour").distinct()
    c = claims.inner_join(
        hours,
        [
            claims.ResourceId == hours.rid,
            hours.hour >= claims.ws.truncate("h"),
            hours.hour < claims.we,
        ],
    ).select(*claims.columns, "hour")
    whole = (c.ws <= c.hour) & (c.we >= c.hour + ibis.interval(hours=1))
    c = c.mutate(whole=whole)
    keys = ["x_OriginRow", "workload_id", "workload_name", "workload_run", "gpu"]
    full = c.filter(c.whole)
    fj = full.inner_join(hourly, [full.ResourceId == hourly.rid, full.hour == hourly.hour])
    fj = fj.select(*keys, *label_cols, total=fj.total, n=fj.n)
    part = c.filter(~c.whole)
    ps = samples()
    pj = part.inner_join(
        ps,
        [
            part.ResourceId == ps.rid,
            part.hour == ps.time.truncate("h"),
            ps.time >= part.ws,
            ps.time < part.we,
        ],
    )
    pj = pj.select(
        *keys,
        *label_cols,
        total=pj.utilization,
        n=pj.utilization.notnull().cast("int64"),
    )
    j = fj.union(pj)
    labelled = (
        (j.pod == j.workload_name)
        | (j.run_id == j.workload_run)
        | (j.job_id == j.workload_id.re_extract(r"([^:]+)$", 1))
    ).fill_null(False)
    # Per GPU first, then the mean over GPUs: each GPU weighs the same, however often it
    # reported (a GPU sampled twice as often does not count twice).
    per_gpu = j.group_by(["x_OriginRow", "workload_id", "gpu"]).aggregate(
        total=j.total.sum(),
        n=j.n.sum(),
        total_lab=j.total.sum(where=labelled),
        n_lab=j.n.sum(where=labelled),
    )
    per_gpu = per_gpu.select(
        "x_OriginRow",
        "workload_id",
        "n",
        u_all=per_gpu.total / per_gpu.n.nullif(0),
        u_lab=per_gpu.total_lab / per_gpu.n_lab.nullif(0),
    )
    agg = per_gpu.group_by(["x_OriginRow", "workload_id"]).aggregate(
        u_all=per_gpu.u_all.mean(),
        n=per_gpu.n.sum(),
        u_lab=per_gpu.u_lab.mean(),
    )
    u = ibis.coalesce(agg.u_lab, agg.u_all).clip(lower=0.0, upper=1.0)
    return agg.select("x_OriginRow", "workload_id", "n", u=u)
