"""Loopback HTTP servers that speak the clouds' metadata protocols, for the runtime tests.

One server answers like all three clouds (their paths do not overlap), with the rules the real
endpoints enforce: IMDSv2 needs a PUT for a token and that token on every GET; GCP needs
``Metadata-Flavor: Google`` and answers with it; Azure needs ``Metadata: true``. Notices are
switched on while the server runs (``server.state``), as a cloud does mid-run.

Run as a script (``python servers.py``) it prints its port and serves until killed, so that a
subprocess test can start it first.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class CloudState:
    """What the fake clouds say; tests change it while the server runs."""

    aws: bool = True
    gcp: bool = True
    azure: bool = True
    aws_spot_action: dict[str, str] | None = None
    gcp_preempted: bool = False
    azure_events: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    requests: list[tuple[str, str]] = field(default_factory=list)
    posted: list[bytes] = field(default_factory=list)


AWS_META = {
    "instance-type": "p4d.24xlarge",
    "instance-id": "i-0123456789abcdef0",
    "placement/region": "us-east-1",
    "placement/availability-zone": "us-east-1a",
    "instance-life-cycle": "spot",
}
GCP_META = {
    "machine-type": "projects/123456/machineTypes/a2-highgpu-1g",
    "zone": "projects/123456/zones/us-central1-a",
    "id": "4567890123456789",
    "name": "trainer-1",
    "scheduling/provisioning-model": "SPOT",
    "scheduling/preemptible": "FALSE",
}
AZURE_COMPUTE = {
    "vmSize": "Standard_NC24ads_A100_v4",
    "location": "eastus",
    "vmId": "02aab8a4-74ef-476e-8182-f6d2ba4166a6",
    "resourceId": "/subscriptions/x/resourceGroups/ml/providers/Microsoft.Compute/virtualMachines/t1",
    "priority": "Regular",
    "zone": "1",
}


def _handler(state: CloudState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output clean
            return

        def _send(self, code: int, body: str = "", headers: dict[str, str] | None = None) -> None:
            data = body.encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_PUT(self) -> None:
            state.requests.append(("PUT", self.path))
            if state.aws and self.path == "/latest/api/token":
                if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._send(400)
                token = secrets.token_hex(8)
                state.tokens.add(token)
                return self._send(200, token)
            return self._send(404)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.posted.append(self.rfile.read(length))
            state.requests.append(("POST", self.path))
            return self._send(200, "{}")

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path))
            path = self.path
            if path.startswith("/latest/meta-data/") and state.aws:
                if self.headers.get("X-aws-ec2-metadata-token") not in state.tokens:
                    return self._send(401)  # IMDSv2 required: no token, no answer
                key = path.removeprefix("/latest/meta-data/")
                if key == "spot/instance-action":
                    if state.aws_spot_action is None:
                        return self._send(404)
                    return self._send(200, json.dumps(state.aws_spot_action))
                if key in AWS_META:
                    return self._send(200, AWS_META[key])
                return self._send(404)
            if path.startswith("/computeMetadata/v1/instance/") and state.gcp:
                if self.headers.get("Metadata-Flavor") != "Google":
                    return self._send(403)
                key = path.removeprefix("/computeMetadata/v1/instance/").split("?")[0]
                flavor = {"Metadata-Flavor": "Google"}
                if key == "preempted":
                    return self._send(200, "TRUE" if state.gcp_preempted else "FALSE", flavor)
                if key in GCP_META:
                    return self._send(200, GCP_META[key], flavor)
                return self._send(404, "", flavor)
            if path.startswith("/metadata/") and state.azure:
                if self.headers.get("Metadata") != "true":
                    return self._send(400)
                if path.startswith("/metadata/instance/compute?api-version="):
                    return self._send(200, json.dumps(AZURE_COMPUTE))
                if path.startswith("/metadata/scheduledevents?api-version="):
                    doc = {"DocumentIncarnation": len(state.azure_events)}
                    return self._send(200, json.dumps({**doc, "Events": state.azure_events}))
            return self._send(404)

    return Handler


@contextmanager
def metadata_server(state: CloudState | None = None) -> Iterator[tuple[str, CloudState]]:
    """Serve on 127.0.0.1 (a free port) in a thread; yields the base URL and the state."""
    state = state or CloudState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


def free_dead_url() -> str:
    """A loopback URL where nothing listens (the port was bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def read_spool(spool: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Every record in a spool folder, in written order; only ``kind`` when given."""
    lines = [
        json.loads(line)
        for f in sorted(spool.glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    return [r for r in lines if kind is None or r["kind"] == kind]
