"""Fixtures of the remote-source tests: a moto S3 server and Azurite, each started once on
loopback, and an empty bucket / container per test reached through the standard credential
variables a user sets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sources.remoteservers import SECRET, Moto, running_azurite, running_moto

BUCKET = "billing"
CONTAINER = "exports"


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    with running_moto(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def s3(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty bucket; boto3's standard chain from the environment, pointed at moto."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "AKIAMLCOSTTEST",
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "MLCOST_S3_ENDPOINT_URL": moto.url,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    moto.reset()
    import boto3

    client = boto3.session.Session().client("s3", endpoint_url=moto.url)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_azurite(tmp_path_factory.mktemp("azurite")) as connection:
        yield connection


@pytest.fixture
def container(azurite: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty container, reached through AZURE_STORAGE_CONNECTION_STRING as a user sets it."""
    from azure.core.exceptions import ResourceExistsError
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    c = BlobServiceClient.from_connection_string(azurite).get_container_client(CONTAINER)
    if c.exists():
        c.delete_container()
    for _ in range(50):
        try:
            c.create_container()
            return c
        except ResourceExistsError:  # Azurite finishes a delete asynchronously
            time.sleep(0.1)
    pytest.fail("Azurite did not recreate the container")
