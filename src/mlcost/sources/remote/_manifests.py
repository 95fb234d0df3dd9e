"""Which objects make one delivery of one billing period, read from each provider's manifest.

AWS Data Exports (FOCUS 1.2, CUR 2.0) writes ``<prefix>/<export>/data/BILLING_PERIOD=YYYY-MM/``
and, after the data files of each refresh, ``<prefix>/<export>/metadata/BILLING_PERIOD=YYYY-MM/
<export>-Manifest.json`` listing ``executionId`` and ``dataFiles`` (``s3://`` URLs). In
overwrite mode the period's files and manifest are rewritten at each refresh; in create-new
mode each execution gets a folder of its own under the period (AWS Data Exports user guide,
"Understanding export delivery", 2026).

Azure Cost Management exports write ``manifest.json`` beside each run's part files
(``<root>/<export>/<YYYYMMDD-YYYYMMDD>/<runId>/part_0_0001.csv.gz``) with ``runInfo``
(``runId``, ``submittedTime``, ``startDate``, ``endDate``), ``exportConfig`` (``exportName``)
and ``blobs`` (``blobName``, ``byteCount``) (Microsoft Learn, "Tutorial: Create and manage
exported data", manifest version 2024-04-01).

A folder with no manifest at all is one delivery of every bill file in it, except the files of
an unpartitioned Azure export, each a run of the period its folder names (the newest wins).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mlcost.errors import BadValue, MissingColumn
from mlcost.sources._common import parse_time
from mlcost.sources.remote._stores import ObjectInfo
from mlcost.sources.remote._url import RemoteUrl

BILL_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".json", ".json.gz", ".jsonl", ".jsonl.gz")
_PERIOD = re.compile(r"BILLING_PERIOD=(\d{4}-\d{2})")


def is_aws_manifest(key: str) -> bool:
    return key.endswith("-Manifest.json")


def is_azure_manifest(key: str) -> bool:
    return key.rsplit("/", 1)[-1].lower() in ("manifest.json", "_manifest.json")


@dataclass(frozen=True)
class Delivery:
    """One delivery of one export's billing period: its manifest and the files it lists."""

    provider: str  # aws, azure, files
    key: str  # what identifies this delivery unchanged: manifest key and ETag
    export: str
    period: str  # YYYY-MM, or "" when the delivery does not say
    delivery_id: str  # executionId, runId, or the folder's content key
    delivered_at: datetime  # naive UTC
    files: tuple[str, ...]
    sizes: Mapping[str, int] = field(default_factory=dict)  # expected bytes, when listed
    manifest: str | None = None

    @property
    def slot(self) -> tuple[str, str]:
        """Deliveries with the same slot restate one another: the newest wins."""
        return (self.export, self.period)

    def missing(self, present: Mapping[str, ObjectInfo]) -> list[str]:
        """Listed files not (or not wholly) in the store: the delivery is still being written."""
        return [
            f
            for f in self.files
            if f not in present or (f in self.sizes and present[f].size != self.sizes[f])
        ]


def manifest_key(info: ObjectInfo) -> str:
    return f"{info.key}@{info.etag}"


def _field(doc: Mapping[str, Any], name: str, where: str) -> Any:
    value: Any = doc
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value in (None, "", []):
        raise MissingColumn(
            f"manifest has no {name}",
            file=where,
            column=name,
            fix="Point mlcost at the export's own folder; a manifest mlcost did not write "
            "must follow the provider's shape (docs/remote.md).",
        )
    return value


def _json(raw: bytes, where: str) -> Mapping[str, Any]:
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadValue(
            f"manifest is not JSON ({exc})",
            file=where,
            fix="Wait for the provider to finish writing it, or remove the broken file.",
        ) from None
    if not isinstance(doc, Mapping):
        raise BadValue("manifest is not a JSON object", file=where)
    return doc


def aws_delivery(url: RemoteUrl, info: ObjectInfo, raw: bytes) -> Delivery:
    """An AWS Data Exports manifest: ``executionId`` and ``dataFiles`` (``s3://`` URLs)."""
    where = url.object_url(info.key)
    doc = _json(raw, where)
    execution = str(_field(doc, "executionId", where))
    files = []
    for item in _field(doc, "dataFiles", where):
        text = str(item)
        bucket, _, key = text.removeprefix("s3://").partition("/")
        if not text.startswith("s3://") or bucket != url.bucket or not key:
            raise BadValue(
                f"dataFiles lists {text!r}, not an object of bucket {url.bucket!r}",
                file=where,
                column="dataFiles",
                fix="Give mlcost the bucket the export delivers to.",
            )
        files.append(key)
    period = _PERIOD.search(info.key)
    name = info.key.rsplit("/", 1)[-1].removesuffix("-Manifest.json")
    return Delivery(
        "aws",
        manifest_key(info),
        str(doc.get("exportName") or name),
        period.group(1) if period else str(doc.get("billingPeriod") or "")[:7],
        execution,
        info.modified,  # the manifest is written after the data files: the delivery's time
        tuple(files),
        manifest=info.key,
    )


def azure_delivery(url: RemoteUrl, info: ObjectInfo, raw: bytes) -> Delivery:
    """An Azure Cost Management export's ``manifest.json``: ``runInfo`` and ``blobs``."""
    where = url.object_url(info.key)
    doc = _json(raw, where)
    run = str(_field(doc, "runInfo.runId", where))
    submitted = parse_time(
        _field(doc, "runInfo.submittedTime", where),
        file=where,
        row=None,
        column="runInfo.submittedTime",
    )
    start = str(_field(doc, "runInfo.startDate", where))
    files: list[str] = []
    sizes: dict[str, int] = {}
    for i, blob in enumerate(_field(doc, "blobs", where), start=1):
        name = (
            str(blob.get("blobName") or "").strip().lstrip("/") if isinstance(blob, Mapping) else ""
        )
        if not name:
            raise MissingColumn(f"blob {i} has no blobName", file=where, column="blobs.blobName")
        files.append(name)
        if isinstance(blob.get("byteCount"), int):
            sizes[name] = int(blob["byteCount"])
    export = (
        doc.get("exportConfig", {}).get("exportName")
        if isinstance(doc.get("exportConfig"), Mapping)
        else None
    )
    return Delivery(
        "azure",
        manifest_key(info),
        str(export or info.key.rsplit("/", 3)[0]),
        start[:7],
        run,
        submitted or info.modified,
        tuple(files),
        sizes,
        manifest=info.key,
    )


# Azure exports without partitioning write one file per run into a folder named by the
# period's dates (``<root>/<export>/20260501-20260531/<export>_<guid>.csv``): each file is a
# run of that period, and the newest run restates the older ones.
_AZURE_RANGE = re.compile(r"(\d{4})(\d{2})\d{2}-\d{8}")


def folder_deliveries(objects: Sequence[ObjectInfo]) -> list[Delivery]:
    """A folder without manifests: each file of an Azure date-range folder is one run of that
    period; every other bill file together is one delivery, keyed by their ETags."""
    data = sorted(
        (
            o
            for o in objects
            if o.key.lower().endswith(BILL_SUFFIXES)
            and not is_aws_manifest(o.key)
            and not is_azure_manifest(o.key)
        ),
        key=lambda o: o.key,
    )
    out: list[Delivery] = []
    rest = []
    for o in data:
        parts = o.key.split("/")
        run = _AZURE_RANGE.fullmatch(parts[-2]) if len(parts) >= 2 else None
        if run is None:
            rest.append(o)
            continue
        out.append(
            Delivery(
                "azure",
                f"{o.key}@{o.etag}",
                "/".join(parts[:-2]),
                f"{run.group(1)}-{run.group(2)}",
                parts[-1],
                o.modified,
                (o.key,),
                {o.key: o.size},
            )
        )
    if rest:
        key = hashlib.sha256("\n".join(f"{o.key}@{o.etag}" for o in rest).encode()).hexdigest()
        out.append(
            Delivery(
                "files",
                f"folder@{key}",
                "",
                "",
                key[:16],
                max(o.modified for o in rest),
                tuple(o.key for o in rest),
                {o.key: o.size for o in rest},
            )
        )
    return out
