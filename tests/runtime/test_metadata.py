"""Instance detection against loopback servers speaking each cloud's metadata protocol."""

from __future__ import annotations

from mlcost.runtime import Instance, detect_instance
from mlcost.runtime._metadata import base_urls, poll_notice
from tests.runtime.servers import CloudState, free_dead_url, metadata_server


def _urls(base: str) -> dict[str, str]:
    return {"aws": base, "gcp": base, "azure": base}


def test_aws_imdsv2_takes_a_token_then_reads_the_instance() -> None:
    with metadata_server() as (base, state):
        found = detect_instance(urls=_urls(base), env={})
    assert found == Instance(
        cloud="aws",
        instance_type="p4d.24xlarge",
        region="us-east-1",
        zone="us-east-1a",
        instance_id="i-0123456789abcdef0",
        resource_id="i-0123456789abcdef0",
        purchase="spot",
    )
    # The token PUT came before any metadata GET (IMDSv2 refuses a GET without it).
    aws = [r for r in state.requests if "/latest/" in r[1]]
    assert aws[0] == ("PUT", "/latest/api/token")
    assert all(method == "GET" for method, _ in aws[1:])


def test_gcp_answers_only_with_its_flavor_header() -> None:
    with metadata_server(CloudState(aws=False)) as (base, _):
        found = detect_instance(urls=_urls(base), env={})
    assert found is not None
    assert (found.cloud, found.instance_type, found.region, found.zone, found.purchase) == (
        "gcp",
        "a2-highgpu-1g",
        "us-central1",
        "us-central1-a",
        "spot",
    )


def test_azure_compute_document() -> None:
    with metadata_server(CloudState(aws=False, gcp=False)) as (base, _):
        found = detect_instance(urls=_urls(base), env={})
    assert found is not None
    assert (found.cloud, found.instance_type, found.region, found.purchase) == (
        "azure",
        "Standard_NC24ads_A100_v4",
        "eastus",
        "on-demand",
    )
    assert found.resource_id is not None and found.resource_id.endswith("/virtualMachines/t1")


def test_off_cloud_is_none_and_the_switch_skips_the_probe() -> None:
    # Nothing listens: every probe fails and detection says None instead of raising.
    assert detect_instance(urls=_urls(free_dead_url()), env={}) is None
    with metadata_server() as (base, state):
        assert detect_instance(urls=_urls(base), env={"MLCOST_NO_METADATA": "1"}) is None
    assert state.requests == []


def test_base_urls_argument_beats_environment_beats_default() -> None:
    env = {"MLCOST_GCP_METADATA_URL": "http://127.0.0.1:1/", "MLCOST_AWS_METADATA_URL": "x"}
    urls = base_urls({"aws": "http://127.0.0.1:2"}, env)
    assert urls == {
        "aws": "http://127.0.0.1:2",
        "gcp": "http://127.0.0.1:1",
        "azure": "http://169.254.169.254",
    }


def test_notices_appear_when_the_cloud_posts_them() -> None:
    with metadata_server() as (base, state):
        bases = _urls(base)
        assert poll_notice(("aws", "gcp", "azure"), bases) is None
        state.aws_spot_action = {"action": "terminate", "time": "2030-01-01T00:02:00Z"}
        aws = poll_notice(("aws",), bases)
        state.gcp_preempted = True
        gcp = poll_notice(("gcp",), bases)
        # A Freeze is not an eviction; a Preempt is.
        state.azure_events = [{"EventId": "a", "EventType": "Freeze", "NotBefore": ""}]
        assert poll_notice(("azure",), bases) is None
        state.azure_events.append(
            {
                "EventId": "b",
                "EventType": "Preempt",
                "ResourceType": "VirtualMachine",
                "Resources": ["t1"],
                "EventStatus": "Scheduled",
                "NotBefore": "Mon, 19 Sep 2016 18:29:47 GMT",
            }
        )
        azure = poll_notice(("azure",), bases)
    assert aws is not None and (aws.cloud, aws.action) == ("aws", "terminate")
    assert aws.deadline is not None and aws.deadline.year == 2030
    assert gcp is not None and gcp.action == "preempted"
    assert azure is not None and azure.deadline is not None and azure.deadline.year == 2016
