"""Which cloud instance this is, and whether the cloud is about to take it back.

Each cloud's instance metadata endpoint, as documented (2026):

- AWS IMDSv2: ``PUT /latest/api/token`` with ``X-aws-ec2-metadata-token-ttl-seconds``, then
  ``GET /latest/meta-data/...`` with ``X-aws-ec2-metadata-token``. The spot notice is
  ``/latest/meta-data/spot/instance-action`` (404 until AWS gives its 2-minute warning, then
  ``{"action": "terminate", "time": "..."}``).
- GCP: ``GET /computeMetadata/v1/instance/...`` with ``Metadata-Flavor: Google`` (the answer
  carries the same header). ``instance/preempted`` turns ``TRUE`` about 30 s before a spot or
  preemptible VM is stopped.
- Azure IMDS: ``GET /metadata/instance/compute?api-version=...`` with ``Metadata: true``; spot
  eviction is a Scheduled Event of type ``Preempt`` (at least 30 s notice) under
  ``/metadata/scheduledevents``.

The base URLs default to the link-local address and can be overridden per cloud, by argument or
by ``MLCOST_AWS_METADATA_URL`` / ``MLCOST_GCP_METADATA_URL`` / ``MLCOST_AZURE_METADATA_URL``
(tests point them at loopback servers). Off-cloud every probe fails within ``timeout``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

__all__ = [
    "CLOUDS",
    "Instance",
    "Notice",
    "base_urls",
    "detect_instance",
    "poll_notice",
]

Cloud = Literal["aws", "gcp", "azure"]
CLOUDS: tuple[Cloud, ...] = ("aws", "gcp", "azure")
_DEFAULT = "http://169.254.169.254"
_ENV = {
    "aws": "MLCOST_AWS_METADATA_URL",
    "gcp": "MLCOST_GCP_METADATA_URL",
    "azure": "MLCOST_AZURE_METADATA_URL",
}
_AZURE_API = "2021-02-01"
_AZURE_EVENTS_API = "2020-07-01"
_TOKEN_TTL = "21600"  # seconds: the IMDSv2 maximum, six hours


@dataclass(frozen=True)
class Instance:
    """What the metadata endpoint says about this machine. ``purchase`` uses the spool's words
    (``on-demand``, ``spot``)."""

    cloud: str
    instance_type: str
    region: str | None
    zone: str | None
    instance_id: str | None
    resource_id: str | None
    purchase: str


@dataclass(frozen=True)
class Notice:
    """The cloud announced that it will take the instance back."""

    cloud: str
    action: str
    deadline: datetime | None


def base_urls(
    overrides: Mapping[str, str] | None = None, env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Base URL per cloud: argument, else environment, else the link-local address."""
    env = os.environ if env is None else env
    overrides = overrides or {}
    return {c: (overrides.get(c) or env.get(_ENV[c]) or _DEFAULT).rstrip("/") for c in CLOUDS}


class _Http:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        # Link-local endpoints are never reached through an HTTP proxy.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __call__(
        self, url: str, headers: Mapping[str, str], method: str = "GET"
    ) -> tuple[int, Mapping[str, str], str] | None:
        request = urllib.request.Request(url, method=method, headers=dict(headers))
        try:
            with self._opener.open(request, timeout=self.timeout) as r:
                return int(r.status), dict(r.headers), r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return int(exc.code), dict(exc.headers or {}), ""
        except (OSError, ValueError):
            return None


def _aws_token(http: _Http, base: str) -> str | None:
    got = http(
        f"{base}/latest/api/token", {"X-aws-ec2-metadata-token-ttl-seconds": _TOKEN_TTL}, "PUT"
    )
    return got[2].strip() if got and got[0] == 200 and got[2].strip() else None


def _aws(http: _Http, base: str) -> Instance | None:
    token = _aws_token(http, base)
    if token is None:
        return None
    headers = {"X-aws-ec2-metadata-token": token}

    def get(path: str) -> str | None:
        got = http(f"{base}/latest/meta-data/{path}", headers)
        return got[2].strip() if got and got[0] == 200 else None

    itype = get("instance-type")
    if not itype:
        return None
    instance_id = get("instance-id")
    return Instance(
        cloud="aws",
        instance_type=itype,
        region=get("placement/region"),
        zone=get("placement/availability-zone"),
        instance_id=instance_id,
        resource_id=instance_id,  # the CUR / FOCUS ResourceId of an EC2 instance is its id
        purchase="spot" if get("instance-life-cycle") == "spot" else "on-demand",
    )


def _gcp_get(http: _Http, base: str, path: str) -> str | None:
    got = http(f"{base}/computeMetadata/v1/instance/{path}", {"Metadata-Flavor": "Google"})
    if not got or got[0] != 200:
        return None
    flavor = {k.lower(): v for k, v in got[1].items()}.get("metadata-flavor")
    return got[2].strip() if flavor == "Google" else None


def _gcp(http: _Http, base: str) -> Instance | None:
    machine = _gcp_get(http, base, "machine-type")  # projects/123/machineTypes/a2-highgpu-1g
    if not machine:
        return None
    zone = (_gcp_get(http, base, "zone") or "").rsplit("/", 1)[-1] or None
    model = (_gcp_get(http, base, "scheduling/provisioning-model") or "").upper()
    preemptible = (_gcp_get(http, base, "scheduling/preemptible") or "").upper()
    return Instance(
        cloud="gcp",
        instance_type=machine.rsplit("/", 1)[-1],
        region=zone.rsplit("-", 1)[0] if zone else None,
        zone=zone,
        instance_id=_gcp_get(http, base, "id"),
        resource_id=_gcp_get(http, base, "name"),
        purchase="spot" if model == "SPOT" or preemptible == "TRUE" else "on-demand",
    )


def _azure(http: _Http, base: str) -> Instance | None:
    got = http(f"{base}/metadata/instance/compute?api-version={_AZURE_API}", {"Metadata": "true"})
    if not got or got[0] != 200:
        return None
    try:
        compute = json.loads(got[2])
    except ValueError:
        return None
    if not isinstance(compute, dict) or not compute.get("vmSize"):
        return None
    return Instance(
        cloud="azure",
        instance_type=str(compute["vmSize"]),
        region=compute.get("location") or None,
        zone=compute.get("zone") or None,
        instance_id=compute.get("vmId") or None,
        resource_id=compute.get("resourceId") or None,
        purchase="spot" if str(compute.get("priority", "")).lower() == "spot" else "on-demand",
    )


_DETECTORS = {"aws": _aws, "gcp": _gcp, "azure": _azure}


def detect_instance(
    *,
    timeout: float = 0.5,
    urls: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Instance | None:
    """Ask every cloud's metadata endpoint at once; the first that answers wins (AWS, GCP,
    Azure in that order). None off-cloud, after at most about ``timeout`` per request.

    Set ``MLCOST_NO_METADATA=1`` to skip the probe altogether.
    """
    env = os.environ if env is None else env
    if env.get("MLCOST_NO_METADATA"):
        return None
    bases = base_urls(urls, env)
    http = _Http(timeout)
    with ThreadPoolExecutor(max_workers=len(CLOUDS)) as pool:
        futures = [pool.submit(_DETECTORS[c], http, bases[c]) for c in CLOUDS]
        found = [f.result() for f in futures]
    return next((i for i in found if i is not None), None)


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        pass
    try:  # Azure's NotBefore is an RFC 1123 date: "Mon, 19 Sep 2016 18:29:47 GMT"
        return parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _aws_notice(http: _Http, base: str) -> Notice | None:
    token = _aws_token(http, base)
    if token is None:
        return None
    got = http(f"{base}/latest/meta-data/spot/instance-action", {"X-aws-ec2-metadata-token": token})
    if not got or got[0] != 200:
        return None  # 404: no notice
    try:
        body = json.loads(got[2])
    except ValueError:
        return None
    return Notice("aws", str(body.get("action", "terminate")), _parse_time(str(body.get("time"))))


def _gcp_notice(http: _Http, base: str) -> Notice | None:
    if (_gcp_get(http, base, "preempted") or "").upper() == "TRUE":
        return Notice("gcp", "preempted", None)
    return None


def _azure_notice(http: _Http, base: str) -> Notice | None:
    got = http(
        f"{base}/metadata/scheduledevents?api-version={_AZURE_EVENTS_API}", {"Metadata": "true"}
    )
    if not got or got[0] != 200:
        return None
    try:
        events = json.loads(got[2]).get("Events", [])
    except (ValueError, AttributeError):
        return None
    for event in events:
        if event.get("EventType") == "Preempt":
            return Notice("azure", "Preempt", _parse_time(str(event.get("NotBefore", ""))))
    return None


_NOTICES = {"aws": _aws_notice, "gcp": _gcp_notice, "azure": _azure_notice}


def poll_notice(
    clouds: tuple[str, ...], bases: Mapping[str, str], timeout: float = 0.5
) -> Notice | None:
    """One look at each cloud's interruption notice; the first found, or None."""
    http = _Http(timeout)
    for cloud in clouds:
        notice = _NOTICES[cloud](http, bases[cloud])
        if notice is not None:
            return notice
    return None
