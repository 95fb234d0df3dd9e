"""Fetch the new deliveries at a bill URL and load each through its source, once.

One call: list the objects under the URL (one listing, no download); skip every manifest
already seen with the same ETag (``remote_deliveries``); read the new manifests (small); per
export and billing period keep the newest delivery whose every listed file is present, mark
older ones superseded and newer unfinished ones incomplete; stream the chosen deliveries' files
to a temporary folder; then load each delivery as one ingest of its source (``focus``,
``aws-cur``, ``azure``, ...), whose restatement logic replaces the older rows of the same
billing account and period; finally record what was seen. Every download happens before the
first write, so an interrupted fetch leaves the warehouse as it was.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlcost.errors import ConfigError, InvalidInput
from mlcost.sources._common import LoadResult, Progress
from mlcost.sources.remote._manifests import (
    Delivery,
    aws_delivery,
    azure_delivery,
    folder_deliveries,
    is_aws_manifest,
    is_azure_manifest,
    manifest_key,
)
from mlcost.sources.remote._stores import ObjectInfo, ObjectStore, open_store
from mlcost.sources.remote._url import RemoteUrl, parse_url
from mlcost.warehouse import Capability, Store

if TYPE_CHECKING:
    from mlcost.warehouse import Warehouse

# The sources whose input is a bill file an export delivers.
BILL_SOURCES = ("focus", "aws-cur", "azure", "gcp", "oci")


@dataclass(frozen=True)
class RemoteLoad:
    """What one fetch of a URL did: a load per new delivery, what it skipped and why."""

    url: str
    loads: tuple[LoadResult, ...] = ()
    unchanged: int = 0  # deliveries seen before (same manifest ETag): nothing downloaded
    superseded: int = 0  # older deliveries of a period a newer one restates
    incomplete: tuple[str, ...] = ()  # deliveries still missing files: not loaded
    downloaded_bytes: int = 0

    @property
    def already_loaded(self) -> bool:
        """Nothing new was loaded (as :attr:`LoadResult.already_loaded`)."""
        return not any(not r.already_loaded for r in self.loads)


class DeliveryStore(Store):
    """``remote_deliveries``: every delivery seen at a URL, keyed by (URL, manifest@ETag)."""

    feature = "remote sources"
    needs = frozenset({Capability.KEYED_UPSERT, Capability.UPDATE_WHERE})

    def known(self, url: str) -> dict[str, dict[str, Any]]:
        t = self.wh.table("remote_deliveries")
        rows = t.filter(t.source_url == url).to_pyarrow().to_pylist()
        return {str(r["delivery_key"]): r for r in rows}

    def record(
        self,
        url: str,
        rows: Iterable[tuple[Delivery, str, int | None, int]],
        ingest_paths: Mapping[int, Sequence[str]] | None = None,
    ) -> None:
        """Record (delivery, status, ingest id, bytes) rows in one transaction; the ingests
        of ``ingest_paths`` then name the objects they were loaded from, not their copies."""
        now = datetime.now(UTC).replace(tzinfo=None)
        values = [
            {
                "source_url": url,
                "delivery_key": d.key,
                "provider": d.provider,
                "export_name": d.export,
                "billing_period": d.period,
                "delivery_id": d.delivery_id,
                "delivered_at": d.delivered_at,
                "status": status,
                "files": json.dumps(list(d.files)),
                "bytes": size,
                "ingest_id": ingest_id,
                "seen_at": now,
            }
            for d, status, ingest_id, size in rows
        ]
        if values:
            with self.wh.transaction():
                self.wh.upsert(
                    "remote_deliveries",
                    values,
                    key=("source_url", "delivery_key"),
                    update=("status", "ingest_id", "seen_at", "bytes"),
                )
                for ingest_id, paths in (ingest_paths or {}).items():
                    self.wh.update_where(
                        "ingests", {"paths": list(paths)}, {"ingest_id": ingest_id}
                    )


def ingest_remote(
    warehouse: Warehouse,
    url: str | RemoteUrl,
    kind: str = "focus",
    *,
    progress: Progress | None = None,
    **options: Any,
) -> RemoteLoad:
    """Load the new, complete deliveries at ``url`` with the ``kind`` source.

    ``options`` go to the source's ingest (``currency=`` for FOCUS). ``progress`` is called
    with (fraction of bytes downloaded, object name) while files stream to a temporary folder.
    Raises :class:`~mlcost.errors.RemoteSourceError` (naming the provider and the fix) when the
    store cannot be listed or read.

    >>> ingest_remote(wh, "s3://billing/exports/focus-export/")  # doctest: +SKIP
    """
    from mlcost.sources import get_source

    if kind not in BILL_SOURCES:
        raise ConfigError(f"{kind!r} cannot read a bill URL; use one of {', '.join(BILL_SOURCES)}.")
    source = get_source(kind)
    where = url if isinstance(url, RemoteUrl) else parse_url(url)
    deliveries = DeliveryStore(warehouse)
    store = open_store(where)
    label = where.label
    objects = {o.key: o for o in store.list(where.prefix)}
    known = deliveries.known(label)
    plan = _plan(store, where, objects, known)
    loads: list[LoadResult] = []
    with tempfile.TemporaryDirectory(prefix="mlcost-remote-") as tmp:
        files = _download(store, plan.load, objects, Path(tmp), progress)
        fetched = sum(objects[k].size for d in plan.load for k in d.files)
        for d in plan.load:
            paths = files[d.key]
            try:
                result = source.ingest(warehouse, paths, **options)
            except InvalidInput as exc:
                raise _named(exc, paths, d, where) from None
            except TypeError as exc:
                raise ConfigError(
                    f"options {dict(options)} do not fit the {kind} source ({exc}); "
                    f"see mlcost ingest {kind} --help."
                ) from exc
            urls = tuple(where.object_url(k) for k in d.files)
            loads.append(dataclasses.replace(result, inputs=urls))
            row = (d, "loaded", result.ingest_id, sum(objects[k].size for k in d.files))
            new = None if result.already_loaded else result.ingest_id
            deliveries.record(label, [row], {new: urls} if new is not None else None)
    deliveries.record(
        label,
        [(d, "superseded", None, 0) for d in plan.superseded]
        + [(d, "incomplete", None, 0) for d, _ in plan.incomplete],
    )
    return RemoteLoad(
        label,
        tuple(loads),
        plan.unchanged,
        len(plan.superseded),
        tuple(msg for _, msg in plan.incomplete),
        fetched,
    )


@dataclass
class _Plan:
    load: list[Delivery] = field(default_factory=list)
    superseded: list[Delivery] = field(default_factory=list)
    incomplete: list[tuple[Delivery, str]] = field(default_factory=list)
    unchanged: int = 0


def _plan(
    store: ObjectStore,
    url: RemoteUrl,
    objects: Mapping[str, ObjectInfo],
    known: Mapping[str, Mapping[str, Any]],
) -> _Plan:
    """Which deliveries to load, which are superseded, which are not finished."""
    plan = _Plan()
    candidates: list[Delivery] = []
    manifests = [o for o in objects.values() if is_aws_manifest(o.key) or is_azure_manifest(o.key)]
    for d in [] if manifests else folder_deliveries(list(objects.values())):
        if d.key in known:
            plan.unchanged += 1
        else:
            candidates.append(d)
    for info in sorted(manifests, key=lambda o: o.key):
        seen = known.get(manifest_key(info))
        if seen is not None and seen["status"] != "incomplete":
            plan.unchanged += 1  # same manifest, same ETag: nothing to fetch
            continue
        if seen is not None and any(k not in objects for k in json.loads(seen["files"])):
            candidates.append(_from_row(seen, info))  # still waiting: no need to read it again
            continue
        raw = store.read(info.key)
        parse = aws_delivery if is_aws_manifest(info.key) else azure_delivery
        candidates.append(parse(url, info, raw))
    loaded_at: dict[tuple[str, str], datetime] = {}
    for row in known.values():
        if row["status"] == "loaded":
            slot = (str(row["export_name"] or ""), str(row["billing_period"] or ""))
            loaded_at[slot] = max(loaded_at.get(slot, row["delivered_at"]), row["delivered_at"])
    by_slot: dict[tuple[str, str], list[Delivery]] = {}
    for d in candidates:
        by_slot.setdefault(d.slot, []).append(d)
    for slot, ds in sorted(by_slot.items()):
        chosen: Delivery | None = None
        for d in sorted(ds, key=lambda d: (d.delivered_at, d.key), reverse=True):
            if slot in loaded_at and d.delivered_at < loaded_at[slot]:
                # Older than what the warehouse holds (one as old is a new delivery within the
                # same second: the one loaded has another key, else it would be unchanged).
                plan.superseded.append(d)
            elif chosen is not None:
                plan.superseded.append(d)
            elif missing := d.missing(objects):
                shown = ", ".join(url.object_url(k) for k in missing[:3])
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                plan.incomplete.append(
                    (
                        d,
                        (
                            f"{url.object_url(d.manifest or '')}: delivery {d.delivery_id} of "
                            f"{d.period or 'the export'} lists {len(missing)} file(s) not in the "
                            "store "
                            f"({shown}{more}); not loaded until the export has written them all."
                        ),
                    )
                )
            else:
                chosen = d
        if chosen is not None:
            plan.load.append(chosen)
    plan.load.sort(key=lambda d: (d.delivered_at, d.key))
    return plan


def _from_row(row: Mapping[str, Any], info: ObjectInfo) -> Delivery:
    return Delivery(
        str(row["provider"]),
        manifest_key(info),
        str(row["export_name"] or ""),
        str(row["billing_period"] or ""),
        str(row["delivery_id"] or ""),
        row["delivered_at"],
        tuple(json.loads(row["files"])),
        manifest=info.key,
    )


def _download(
    store: ObjectStore,
    deliveries: list[Delivery],
    objects: Mapping[str, ObjectInfo],
    folder: Path,
    progress: Progress | None,
) -> dict[str, list[Path]]:
    """Stream every file of ``deliveries`` into ``folder``; paths per delivery key."""
    total = sum(objects[k].size for d in deliveries for k in d.files) or 1
    done = 0
    out: dict[str, list[Path]] = {}
    for n, d in enumerate(deliveries):
        paths = []
        for i, key in enumerate(d.files):
            dest = folder / f"{n:03d}-{i:04d}-{key.rsplit('/', 1)[-1]}"
            name = key.rsplit("/", 1)[-1]

            def advance(size: int, name: str = name) -> None:
                nonlocal done
                done += size
                if progress is not None:
                    progress(min(done / total, 1.0), name)

            store.download(key, dest, advance)
            paths.append(dest)
        out[d.key] = paths
    return out


def _named(exc: InvalidInput, paths: list[Path], d: Delivery, url: RemoteUrl) -> InvalidInput:
    """The same error, naming the object in the store rather than its temporary copy."""
    names = {str(p): url.object_url(k) for p, k in zip(paths, d.files, strict=True)}
    names |= {str(p.resolve()): v for p, v in zip(paths, names.values(), strict=True)}
    file = names.get(exc.file or "", url.object_url(d.manifest or "")) if exc.file else None
    return type(exc)(exc.problem, file=file, row=exc.row, column=exc.column, fix=exc.fix)
