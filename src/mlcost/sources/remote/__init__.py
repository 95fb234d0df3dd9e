"""Bills straight from where the clouds deliver them: S3 buckets and Azure Storage containers.

``ingest_remote(wh, "s3://bucket/prefix/", "focus")`` loads the new, complete deliveries of
an export (AWS Data Exports manifests, Azure Cost Management ``manifest.json``) once each;
``freshness`` says how current a URL is and ``stale_alert`` raises the alert for one that
stopped delivering. See docs/remote.md.
"""

from mlcost.sources.remote._fresh import Freshness, all_freshness, freshness, stale_alert
from mlcost.sources.remote._manifests import Delivery
from mlcost.sources.remote._stores import AZURE_CONNECTION_ENV, S3_ENDPOINT_ENV, ObjectInfo
from mlcost.sources.remote._sync import BILL_SOURCES, DeliveryStore, RemoteLoad, ingest_remote
from mlcost.sources.remote._url import RemoteUrl, is_remote, parse_url

__all__ = [
    "AZURE_CONNECTION_ENV",
    "BILL_SOURCES",
    "S3_ENDPOINT_ENV",
    "Delivery",
    "DeliveryStore",
    "Freshness",
    "ObjectInfo",
    "RemoteLoad",
    "RemoteUrl",
    "all_freshness",
    "freshness",
    "ingest_remote",
    "is_remote",
    "parse_url",
    "stale_alert",
]
