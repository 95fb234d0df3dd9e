"""The object stores bills are delivered to: S3 (boto3) and Azure Blob Storage (the Azure SDK).

Each store lists objects under a prefix with their size, ETag and time, reads a small object
(a manifest) and streams a large one to a local file in chunks (never whole in memory).
Credentials come from each SDK's standard chain only; every SDK error becomes a
:class:`~mlcost.errors.RemoteSourceError` built from the error's code, never from its text (an
SDK message may quote a signed URL).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from mlcost.config import redact_url
from mlcost.errors import RemoteCredentials, RemoteSourceError
from mlcost.sources.remote._url import RemoteUrl

# S3-compatible stores (OCI Object Storage, MinIO, a test server): this endpoint, else
# botocore's own AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, else AWS.
S3_ENDPOINT_ENV = "MLCOST_S3_ENDPOINT_URL"
# Azure: a connection string (Azurite's, or a storage account's), else the account named by
# the URL or this variable with azure-identity's DefaultAzureCredential.
AZURE_CONNECTION_ENV = "AZURE_STORAGE_CONNECTION_STRING"
AZURE_ACCOUNT_ENV = "AZURE_STORAGE_ACCOUNT_NAME"
CHUNK = 8 << 20  # bytes per streamed read
# Azure: the SDK's first GET reads up to 32 MiB at once by default, and its transport holds
# about ten times a chunk while it reads one (measured with tracemalloc, azure-storage-blob
# 12.31): 4 MiB chunks, the SDK's own chunk size, keep that near 40 MiB whatever the blob's size.
AZURE_CHUNK = 4 << 20

BytesDone = Callable[[int], None]


@dataclass(frozen=True)
class ObjectInfo:
    """One object: its key (name in the bucket or container), size, ETag and last write."""

    key: str
    size: int
    etag: str
    modified: datetime  # naive UTC


class ObjectStore(Protocol):
    url: RemoteUrl

    def list(self, prefix: str) -> Iterator[ObjectInfo]: ...

    def read(self, key: str) -> bytes: ...

    def download(self, key: str, dest: Path, done: BytesDone) -> None: ...


def open_store(url: RemoteUrl) -> ObjectStore:
    """The store a URL names, with the SDK's standard credential chain."""
    return S3Store(url) if url.provider == "s3" else AzureStore(url)


def _naive_utc(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(tzinfo=None) if t.tzinfo else t


class S3Store:
    """An S3 bucket through boto3 (its credential chain: environment, profile, SSO, role)."""

    def __init__(self, url: RemoteUrl) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise RemoteSourceError(
                "S3: boto3 is not installed. Fix: pip install 'mlcost[remote]'.", provider="S3"
            ) from exc
        self.url = url
        endpoint = os.environ.get(S3_ENDPOINT_ENV) or None
        self.endpoint = endpoint
        # A session of its own: the credential chain is read now, not cached from earlier.
        self.client = boto3.session.Session().client(
            "s3", endpoint_url=endpoint, config=Config(retries={"max_attempts": 3})
        )

    def _fail(self, exc: Exception, what: str) -> RemoteSourceError:
        from botocore.exceptions import (
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
            PartialCredentialsError,
        )

        where = f"S3 {what} {self.url.label}"
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return RemoteCredentials(
                f"{where}: no AWS credentials found. Fix: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE (aws configure / aws sso login), or run "
                "with an instance or task role that may read the bucket.",
                provider="S3",
            )
        if isinstance(exc, EndpointConnectionError):
            host = redact_url(self.endpoint) if self.endpoint else "the AWS endpoint"
            return RemoteSourceError(
                f"{where}: cannot reach {host}. Fix: check the network, or "
                f"{S3_ENDPOINT_ENV} for an S3-compatible store.",
                provider="S3",
            )
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", "error"))
            if code in {
                "InvalidAccessKeyId",
                "SignatureDoesNotMatch",
                "ExpiredToken",
                "InvalidToken",
                "AccessDenied",
                "403",
                "AllAccessDisabled",
            }:
                return RemoteCredentials(
                    f"{where}: S3 refused the credentials ({code}). Fix: check AWS_PROFILE or "
                    "the access key, and that its policy allows s3:ListBucket and s3:GetObject "
                    "on the bucket.",
                    provider="S3",
                )
            if code in {"NoSuchBucket", "404", "NoSuchKey"}:
                return RemoteSourceError(
                    f"{where}: not found ({code}). Fix: check the bucket name and prefix of "
                    "the export (the S3 destination in AWS Data Exports).",
                    provider="S3",
                )
            return RemoteSourceError(f"{where}: S3 answered {code}.", provider="S3")
        return RemoteSourceError(f"{where}: {type(exc).__name__}.", provider="S3")

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.url.bucket, Prefix=prefix
            )
            for page in pages:
                for o in page.get("Contents", []):
                    yield ObjectInfo(
                        o["Key"],
                        int(o["Size"]),
                        str(o["ETag"]).strip('"'),
                        _naive_utc(o["LastModified"]),
                    )
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, "listing") from None

    def read(self, key: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return bytes(self.client.get_object(Bucket=self.url.bucket, Key=key)["Body"].read())
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, f"reading {key} in") from None

    def download(self, key: str, dest: Path, done: BytesDone) -> None:
        """Stream one object to ``dest`` in chunks of :data:`CHUNK` bytes (one GET)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self.client.get_object(Bucket=self.url.bucket, Key=key)["Body"]
            with open(dest, "wb") as fh:
                for chunk in body.iter_chunks(CHUNK):
                    fh.write(chunk)
                    done(len(chunk))
        except (BotoCoreError, ClientError) as exc:
            raise self._fail(exc, f"downloading {key} from") from None


class AzureStore:
    """A Blob Storage container through azure-storage-blob: a connection string from
    ``AZURE_STORAGE_CONNECTION_STRING``, else the account's endpoint with azure-identity's
    ``DefaultAzureCredential`` (environment, workload or managed identity, ``az login``)."""

    def __init__(self, url: RemoteUrl) -> None:
        try:
            from azure.storage.blob import BlobServiceClient
        except ImportError as exc:
            raise RemoteSourceError(
                "Azure Storage: azure-storage-blob is not installed. "
                "Fix: pip install 'mlcost[remote]'.",
                provider="Azure Storage",
            ) from exc
        self.url = url
        connection = os.environ.get(AZURE_CONNECTION_ENV)
        account = url.account or os.environ.get(AZURE_ACCOUNT_ENV)
        if connection and (url.account is None or f"AccountName={url.account};" in connection):
            try:
                service = BlobServiceClient.from_connection_string(
                    connection, max_single_get_size=AZURE_CHUNK, max_chunk_get_size=AZURE_CHUNK
                )
            except ValueError:
                raise RemoteCredentials(
                    f"Azure Storage {url.label}: {AZURE_CONNECTION_ENV} is not a valid "
                    "connection string. Fix: copy it again from the storage account's "
                    "Access keys page (or unset it to use az login / a managed identity).",
                    provider="Azure Storage",
                ) from None
        elif account:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as exc:
                raise RemoteSourceError(
                    "Azure Storage: azure-identity is not installed. "
                    "Fix: pip install 'mlcost[remote]'.",
                    provider="Azure Storage",
                ) from exc
            service = BlobServiceClient(
                f"https://{account}.blob.core.windows.net",
                credential=DefaultAzureCredential(),
                max_single_get_size=AZURE_CHUNK,
                max_chunk_get_size=AZURE_CHUNK,
            )
        else:
            raise RemoteCredentials(
                f"Azure Storage {url.label}: which storage account? Fix: write "
                "az://CONTAINER@ACCOUNT/PATH, or set AZURE_STORAGE_ACCOUNT_NAME (signing in "
                f"with az login or a managed identity), or {AZURE_CONNECTION_ENV}.",
                provider="Azure Storage",
            )
        self.container = service.get_container_client(url.bucket)

    def _fail(self, exc: Exception, what: str) -> RemoteSourceError:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        where = f"Azure Storage {what} {self.url.label}"
        code = str(getattr(exc, "error_code", None) or type(exc).__name__)
        if type(exc).__name__ == "CredentialUnavailableError":
            return RemoteCredentials(
                f"{where}: no Azure credential found. Fix: az login, or set AZURE_CLIENT_ID, "
                "AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or run with a managed identity, or set "
                f"{AZURE_CONNECTION_ENV}.",
                provider="Azure Storage",
            )
        if isinstance(exc, ClientAuthenticationError) or (
            isinstance(exc, HttpResponseError) and exc.status_code == 403
        ):
            return RemoteCredentials(
                f"{where}: the storage account refused the credential ({code}). Fix: check the "
                f"account key in {AZURE_CONNECTION_ENV}, or give the signed-in identity the "
                "Storage Blob Data Reader role on the container.",
                provider="Azure Storage",
            )
        if isinstance(exc, ResourceNotFoundError):
            return RemoteSourceError(
                f"{where}: not found ({code}). Fix: check the container and the export's "
                "root folder in Cost Management.",
                provider="Azure Storage",
            )
        if isinstance(exc, ServiceRequestError):
            return RemoteSourceError(
                f"{where}: cannot reach the storage account. Fix: check the network and the "
                "account name.",
                provider="Azure Storage",
            )
        return RemoteSourceError(f"{where}: {code}.", provider="Azure Storage")

    def _errors(self) -> tuple[type[Exception], ...]:
        from azure.core.exceptions import AzureError

        errors: tuple[type[Exception], ...] = (AzureError,)
        try:
            from azure.identity import CredentialUnavailableError

            errors += (CredentialUnavailableError,)
        except ImportError:
            pass
        return errors

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        try:
            for b in self.container.list_blobs(name_starts_with=prefix or None):
                yield ObjectInfo(
                    str(b.name), int(b.size), str(b.etag).strip('"'), _naive_utc(b.last_modified)
                )
        except self._errors() as exc:
            raise self._fail(exc, "listing") from None

    def read(self, key: str) -> bytes:
        try:
            return bytes(self.container.download_blob(key).readall())
        except self._errors() as exc:
            raise self._fail(exc, f"reading {key} in") from None

    def download(self, key: str, dest: Path, done: BytesDone) -> None:
        """Stream one blob to ``dest`` chunk by chunk."""
        seen = 0

        def hook(current: int, _total: int | None) -> None:
            nonlocal seen
            done(current - seen)
            seen = current

        try:
            stream = self.container.download_blob(key, max_concurrency=1, progress_hook=hook)
            with open(dest, "wb") as fh:
                stream.readinto(fh)
        except self._errors() as exc:
            raise self._fail(exc, f"downloading {key} from") from None
