"""Workload type of every cost: training, fine-tuning, inference, batch inference,
notebook-dev, data processing or shared.

First rule that gives an answer:

1. the workload record's kind (``training``; ``sweep`` → training; ``fine-tuning``;
   ``inference``; ``batch`` → batch inference; ``notebook`` → notebook-dev; ``data`` →
   data processing). Slurm calls every job ``batch``, so a Slurm job goes to rule 3;
2. a ``workload-type`` (or ``workload_type``) tag on the workload or the line item, if it
   names one of the types;
3. words in the workload, resource or project name (lower-cased): ``notebook``, ``jupyter``,
   ``nb-`` → notebook-dev; ``serv``, ``endpoint``, ``infer``, ``rerank`` → inference;
   ``batch``, ``eval`` → batch inference; ``etl``, ``spark``, ``dataproc``, ``rapids``,
   ``pipeline`` → data processing; ``fine-tun``, ``finetun``, ``ft-`` → fine-tuning; ``train``,
   ``sweep``, ``pretrain`` → training; an ``env`` tag of ``dev`` → notebook-dev;
4. GPU capacity with no hint → training (the default use of a GPU host);
   other charges: data processing for storage, network and data services with an owner,
   else shared (support, tax, control planes, anything nobody owns).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ibis.expr.types as ir

__all__ = ["WORKLOAD_TYPES", "workload_type"]

WORKLOAD_TYPES = (
    "training",
    "fine-tuning",
    "inference",
    "batch inference",
    "notebook-dev",
    "data processing",
    "shared",
)
_KINDS = {
    "training": "training",
    "sweep": "training",
    "fine-tuning": "fine-tuning",
    "finetuning": "fine-tuning",
    "inference": "inference",
    "serving": "inference",
    "batch": "batch inference",
    "batch-inference": "batch inference",
    "notebook": "notebook-dev",
    "data": "data processing",
}
_WORDS = (
    (r"notebook|jupyter|(^|[^a-z])nb-", "notebook-dev"),
    (r"fine-?tun|(^|[^a-z])ft-", "fine-tuning"),
    (r"serv|endpoint|infer|rerank", "inference"),
    (r"batch|eval", "batch inference"),
    (r"etl|spark|dataproc|rapids|pipeline", "data processing"),
    (r"train|sweep", "training"),
)
_DATA_CATEGORIES = ("Storage", "Networking", "Databases", "Analytics")


def workload_type(rows: ir.Table, is_gpu: ir.Value, tags: Mapping[str, ir.Value]) -> ir.Value:
    """The workload type of each row of an allocation (see the module docstring)."""
    import ibis

    kind = rows.workload_kind.lower()
    by_kind = kind.substitute(_KINDS, else_=ibis.null().cast("string"))
    by_kind = ibis.ifelse(rows.workload_source == "slurm", ibis.null().cast("string"), by_kind)
    tagged = ibis.coalesce(rows.Tags.get("workload-type"), rows.Tags.get("workload_type")).lower()
    by_tag = ibis.ifelse(tagged.isin(list(WORKLOAD_TYPES)), tagged, ibis.null().cast("string"))
    text = (
        ibis.coalesce(rows.workload_name, ibis.literal(""))
        .concat(" ", rows.ResourceName.fill_null(""), " ", rows.ResourceId.fill_null(""))
        .lower()
    )
    words = [(text.re_search(pattern), name) for pattern, name in _WORDS]
    env = tags.get("env")
    if env is not None:
        words.append((env == "dev", "notebook-dev"))
    by_name = ibis.cases(*words, else_=ibis.null().cast("string"))
    owned = tags.get(next(iter(tags))) if tags else None
    data = rows.ServiceCategory.isin(list(_DATA_CATEGORIES))
    if owned is not None:
        data = data & owned.notnull()
    fallback = ibis.cases((is_gpu, "training"), (data, "data processing"), else_="shared")
    gpu_named = ibis.ifelse(
        is_gpu | rows.workload_id.notnull(), by_name, ibis.null().cast("string")
    )
    return ibis.coalesce(by_kind, by_tag, gpu_named, fallback)
