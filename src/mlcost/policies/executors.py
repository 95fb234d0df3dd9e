"""Executors: what acts on the real systems. Each declares the actions it can take.

Built: AWS EC2 (stop, terminate) and SageMaker (endpoints: stop = delete the endpoint, keep
its config; notebook instances: stop) through boto3; Slurm (``scancel``, the binary on PATH);
Kubernetes (scale a deployment to zero, delete a pod) through the official client; local
processes (stop = SIGTERM, terminate = SIGKILL, for runs of the in-process tracker). A
policy naming an executor or action that none of these has is recorded as ``unsupported``,
never skipped in silence. boto3 and kubernetes are imported only when an executor is made.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlcost.errors import MlcostError

if TYPE_CHECKING:
    from mlcost.attribution.identity import Identity
    from mlcost.config import PolicyConfig

__all__ = [
    "EXECUTORS",
    "Ec2Executor",
    "Executor",
    "ExecutorError",
    "KubernetesExecutor",
    "LocalProcessExecutor",
    "Outcome",
    "SageMakerExecutor",
    "SlurmExecutor",
    "Unexecutable",
    "executor_for",
    "make_executor",
    "run_action",
]

_INSTANCE = re.compile(r"\bi-[0-9a-f]{8,17}\b")


class ExecutorError(MlcostError, RuntimeError):
    """An executor could not act on a resource (the audit row says why)."""


class Executor(Protocol):
    """Acts on one kind of resource."""

    name: str
    actions: frozenset[str]
    inactive: frozenset[str]  # states in which there is nothing left to stop

    def target(self, resource_id: str) -> str | None:
        """The id this executor acts on for a warehouse resource id, or None if not its kind."""

    def tags(self, target: str) -> Mapping[str, str]:
        """The resource's live tags (the protect tag is read here, not from old bills)."""

    def state(self, target: str) -> str:
        """The resource's state as its system names it (running, stopped, ...)."""

    def act(self, action: str, target: str) -> str:
        """Take ``action``; return what the system answered."""


class Ec2Executor:
    """EC2 instances: ``stop`` and ``terminate``.

    ``endpoint_url`` points boto3 at another endpoint (a moto server in the tests).
    """

    name = "aws-ec2"
    actions = frozenset({"stop", "terminate"})
    inactive = frozenset({"stopped", "stopping", "terminated", "shutting-down"})

    def __init__(self, *, region: str = "us-east-1", endpoint_url: str | None = None) -> None:
        import boto3

        self._ec2: Any = boto3.client("ec2", region_name=region, endpoint_url=endpoint_url or None)

    def target(self, resource_id: str) -> str | None:
        match = _INSTANCE.search(resource_id)
        return match.group(0) if match else None

    def _instance(self, target: str) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            found = self._ec2.describe_instances(InstanceIds=[target])
        # BotoCoreError: no credentials, an unreachable endpoint (issue 22: were tracebacks)
        except (BotoCoreError, ClientError) as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        for reservation in found["Reservations"]:
            for inst in reservation["Instances"]:
                return dict(inst)
        raise ExecutorError(f"{target}: no such instance")

    def tags(self, target: str) -> Mapping[str, str]:
        return {t["Key"]: t["Value"] for t in self._instance(target).get("Tags", [])}

    def state(self, target: str) -> str:
        return str(self._instance(target)["State"]["Name"])

    def act(self, action: str, target: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            if action == "stop":
                out = self._ec2.stop_instances(InstanceIds=[target])["StoppingInstances"]
            elif action == "terminate":
                out = self._ec2.terminate_instances(InstanceIds=[target])["TerminatingInstances"]
            else:
                raise ExecutorError(f"{self.name} cannot {action!r}")
        except (BotoCoreError, ClientError) as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        change = out[0]
        return f"{change['PreviousState']['Name']} -> {change['CurrentState']['Name']}"


class LocalProcessExecutor:
    """Processes on this machine that mlcost recorded, named ``local:<pid>`` or ``pid:<pid>``.

    The id must be exactly that (``slurm:local:1`` is a Slurm job, never PID 1), and the
    process must be provably the one recorded: :meth:`record` writes ``<pid>.json`` under
    ``folder`` (default ``<spool>/processes``) with the PID, its start time (clock ticks after
    boot, ``/proc/<pid>/stat`` field 22), the boot id and the command line; before each state
    read and again right before a signal they are compared with ``/proc``. A PID with no
    record, or whose start time or command differ (the PID was reused), is never signalled.
    They have no tags, so nothing here is protected by tag; ``stop`` sends SIGTERM (the
    tracker saves a checkpoint on it), ``terminate`` SIGKILL.
    """

    name = "local-process"
    actions = frozenset({"stop", "terminate"})
    inactive = frozenset({"terminated"})
    _ID = re.compile(r"(?:pid|local):([1-9]\d*)")

    def __init__(self, *, folder: str | os.PathLike[str] | None = None, **_options: Any) -> None:
        from mlcost.config import spool_dir

        self.folder = Path(folder) if folder is not None else spool_dir() / "processes"

    @staticmethod
    def _live(pid: int) -> dict[str, Any] | None:
        """What /proc says about ``pid`` now, or None if no such process."""
        proc = Path(f"/proc/{pid}")
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
            boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ExecutorError(f"pid {pid}: cannot read /proc ({exc}); Linux only") from exc
        # The command name (field 2) is in parentheses and may hold spaces: split after it.
        fields = stat.rpartition(")")[2].split()
        return {
            "pid": pid,
            "start_ticks": int(fields[19]),  # field 22, starttime
            "boot_id": boot,
            "cmdline": [a.decode(errors="replace") for a in cmdline.split(b"\0") if a],
        }

    @classmethod
    def record(cls, pid: int, *, folder: str | os.PathLike[str] | None = None) -> Path:
        """Record ``pid`` (a process mlcost started) so that this executor may act on it.

        Returns the record's path; call it right after starting the process.
        """
        live = cls._live(pid)
        if live is None:
            raise ExecutorError(f"pid {pid}: no such process to record")
        path = cls(folder=folder).folder / f"{pid}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(live, sort_keys=True))
        tmp.replace(path)  # a reader never sees half a record
        return path

    def target(self, resource_id: str) -> str | None:
        match = self._ID.fullmatch(resource_id.strip())
        return match.group(1) if match else None

    def tags(self, target: str) -> Mapping[str, str]:
        return {}

    def _proven(self, target: str) -> bool:
        """True: the recorded process runs now. False: it has ended (the PID is free or
        reused). Raises when there is no record, or the running process is not the one."""
        path = self.folder / f"{int(target)}.json"
        try:
            recorded = json.loads(path.read_text())
        except FileNotFoundError:
            raise ExecutorError(
                f"pid {target}: no record in {self.folder}, so not a process mlcost started; "
                "not signalled (LocalProcessExecutor.record(pid) records one)"
            ) from None
        except (OSError, ValueError) as exc:
            raise ExecutorError(f"pid {target}: unreadable record {path} ({exc})") from exc
        live = self._live(int(target))
        if live is None:
            return False
        if (live["boot_id"], live["start_ticks"]) != (
            recorded.get("boot_id"),
            recorded.get("start_ticks"),
        ):
            return False  # the recorded process ended; another one has its PID now
        if live["cmdline"] != recorded.get("cmdline"):
            raise ExecutorError(
                f"pid {target} now runs {' '.join(live['cmdline'])[:80]!r}, not the recorded "
                f"{' '.join(recorded.get('cmdline') or [])[:80]!r}; not signalled"
            )
        return True

    def state(self, target: str) -> str:
        return "running" if self._proven(target) else "terminated"

    def act(self, action: str, target: str) -> str:
        sig = {"stop": signal.SIGTERM, "terminate": signal.SIGKILL}.get(action)
        if sig is None:
            raise ExecutorError(f"{self.name} cannot {action!r}")
        if not self._proven(target):  # checked again: the PID may have changed hands since
            raise ExecutorError(f"pid {target}: the recorded process has ended; not signalled")
        try:
            os.kill(int(target), sig)
        except OSError as exc:
            raise ExecutorError(f"pid {target}: {exc}") from exc
        return f"sent {sig.name} to pid {target}"


def _kebab(state: str) -> str:
    """``InService`` -> ``in-service``: AWS status names in the style of the others."""
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "-", state).lower()


_SAGEMAKER = re.compile(
    r"\barn:aws[\w-]*:sagemaker:(?P<region>[\w-]+):\d{12}:"
    r"(?P<kind>endpoint|notebook-instance)/(?P<name>[A-Za-z0-9-]+)"
)


class SageMakerExecutor:
    """SageMaker endpoints and notebook instances, named by their ARN (the CUR ResourceId).

    ``stop`` on a notebook instance is ``StopNotebookInstance`` (its volume stays; start it
    again at will). ``stop`` or ``delete`` on an endpoint is ``DeleteEndpoint``: the endpoint
    config and model stay, so ``CreateEndpoint`` with the same config brings it back. A
    classic endpoint cannot be scaled to zero instances (only endpoints built from inference
    components can), so deletion is the one action that ends the instance-hours of any
    endpoint. The region comes from the ARN.
    """

    name = "aws-sagemaker"
    actions = frozenset({"stop", "delete"})
    inactive = frozenset({"stopped", "stopping", "deleting", "deleted"})

    def __init__(self, *, region: str = "us-east-1", endpoint_url: str | None = None) -> None:
        import boto3

        self._boto3 = boto3
        self._region = region
        self._endpoint_url = endpoint_url or None
        self._clients: dict[str, Any] = {}

    def _client(self, target: str) -> Any:
        match = _SAGEMAKER.search(target)
        region = match.group("region") if match else self._region
        if region not in self._clients:
            self._clients[region] = self._boto3.client(
                "sagemaker", region_name=region, endpoint_url=self._endpoint_url
            )
        return self._clients[region]

    def target(self, resource_id: str) -> str | None:
        match = _SAGEMAKER.search(resource_id)
        return match.group(0) if match else None

    def _describe(self, target: str) -> dict[str, Any] | None:
        from botocore.exceptions import BotoCoreError, ClientError

        match = _SAGEMAKER.search(target)
        assert match is not None
        api = self._client(target)
        try:
            if match.group("kind") == "endpoint":
                return dict(api.describe_endpoint(EndpointName=match.group("name")))
            return dict(api.describe_notebook_instance(NotebookInstanceName=match.group("name")))
        except BotoCoreError as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        except ClientError as exc:
            error = exc.response.get("Error", {})
            missing = ("Could not find", "RecordNotFound")
            if error.get("Code") == "ValidationException" and str(
                error.get("Message", "")
            ).startswith(missing):
                return None  # how SageMaker says a resource does not exist
            raise ExecutorError(f"{target}: {exc}") from exc

    def tags(self, target: str) -> Mapping[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        if self._describe(target) is None:
            return {}
        try:
            found = self._client(target).list_tags(ResourceArn=target)["Tags"]
        except (BotoCoreError, ClientError) as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        return {t["Key"]: t["Value"] for t in found}

    def state(self, target: str) -> str:
        found = self._describe(target)
        if found is None:
            return "deleted"
        status = found.get("EndpointStatus") or found.get("NotebookInstanceStatus") or "unknown"
        return _kebab(str(status))

    def act(self, action: str, target: str) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        match = _SAGEMAKER.search(target)
        if match is None or action not in self.actions:
            raise ExecutorError(f"{self.name} cannot {action!r} {target}")
        name, api = match.group("name"), self._client(target)
        try:
            if match.group("kind") == "notebook-instance":
                if action != "stop":
                    raise ExecutorError(f"{target}: mlcost stops notebook instances, never deletes")
                api.stop_notebook_instance(NotebookInstanceName=name)
                return (
                    f"stopped notebook instance {name} (start it again with StartNotebookInstance)"
                )
            config = api.describe_endpoint(EndpointName=name)["EndpointConfigName"]
            api.delete_endpoint(EndpointName=name)
        except (BotoCoreError, ClientError) as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        return (
            f"deleted endpoint {name}; endpoint config {config} kept: "
            f"CreateEndpoint(EndpointName={name}, EndpointConfigName={config}) brings it back"
        )


class SlurmExecutor:
    """Slurm jobs, named ``slurm:<job id>`` or ``slurm:<cluster>:<job id>`` (as ``sacct``
    ingest names them), through the ``scancel`` and ``squeue`` binaries on PATH.

    ``scancel`` (or ``stop``) cancels the job: Slurm sends SIGTERM, then SIGKILL after the
    cluster's KillWait. The protect tag is read from the job's comment (``squeue -o %k``),
    written as ``key=value`` pairs: ``sbatch --comment mlcost:protect=true``.
    """

    name = "slurm"
    actions = frozenset({"scancel", "stop"})
    inactive = frozenset(
        {"gone", "completed", "completing", "cancelled", "failed", "timeout", "node_fail"}
    )
    _JOB = re.compile(r"^slurm:(?:(?P<cluster>[\w.-]+):)?(?P<job>\d+(?:_\d+)?)$")
    _PAIR = re.compile(r"([^\s,=]+)=([^\s,]*)")

    def __init__(self, *, scancel: str = "scancel", squeue: str = "squeue", **_options: Any):
        self._scancel, self._squeue = scancel, squeue

    def target(self, resource_id: str) -> str | None:
        match = self._JOB.match(resource_id)
        if match is None:
            return None
        return ":".join(p for p in (match.group("cluster"), match.group("job")) if p)

    def _run(self, argv: list[str], target: str) -> str:
        import subprocess

        cluster, _, job = target.rpartition(":")
        args = [*argv, *([f"--clusters={cluster}"] if cluster else []), job]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        except FileNotFoundError as exc:
            raise ExecutorError(
                f"{argv[0]} is not on PATH: install the Slurm client tools on this machine"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise ExecutorError(f"{' '.join(args)}: no answer in 60 s") from exc
        if done.returncode != 0:
            if "Invalid job id" in done.stderr:
                return ""  # finished long enough ago that slurmctld forgot it
            raise ExecutorError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
        # With --clusters squeue prints a "CLUSTER: name" line first.
        return "\n".join(
            line for line in done.stdout.splitlines() if not line.startswith("CLUSTER:")
        ).strip()

    def tags(self, target: str) -> Mapping[str, str]:
        comment = self._run([self._squeue, "--noheader", "--format=%k", "--jobs"], target)
        return dict(self._PAIR.findall(comment))

    def state(self, target: str) -> str:
        out = self._run([self._squeue, "--noheader", "--format=%T", "--jobs"], target)
        return out.lower() or "gone"

    def act(self, action: str, target: str) -> str:
        if action not in self.actions:
            raise ExecutorError(f"{self.name} cannot {action!r}")
        out = self._run([self._scancel], target)
        return f"scancel {target}: accepted{f' ({out})' if out else ''}"


_K8S = re.compile(
    r"\bk8s:(?P<ns>[a-z0-9-]+)/(?P<kind>deployment|pod)/(?P<name>[a-z0-9.-]+)"
    r"|\bnamespaces/(?P<ns2>[a-z0-9-]+)/(?P<kind2>deployment|pod)s/(?P<name2>[a-z0-9.-]+)"
)


class KubernetesExecutor:
    """Kubernetes deployments and pods through the official ``kubernetes`` client.

    Resources are named ``k8s:<namespace>/deployment/<name>`` or ``k8s:<namespace>/pod/<name>``
    (or an API path ``…/namespaces/<ns>/deployments/<name>``). ``stop`` / ``scale-to-zero`` on
    a deployment patches its scale subresource to 0 replicas; ``stop`` / ``delete`` on a pod
    deletes it (a pod owned by a deployment comes back: target the deployment instead).
    Credentials: ``~/.kube/config`` (``$KUBECONFIG``) or the in-cluster service account;
    ``endpoint_url`` overrides the API server. Label and annotation keys cannot hold ``:``, so
    ``mlcost/protect: "true"`` stands for the protect tag ``mlcost:protect``.
    """

    name = "kubernetes"
    actions = frozenset({"stop", "scale-to-zero", "delete"})
    inactive = frozenset({"scaled-to-zero", "deleted", "succeeded", "failed"})

    def __init__(self, *, endpoint_url: str | None = None, **_options: Any) -> None:
        from kubernetes import client
        from kubernetes import config as kube

        config: Any = kube  # its loaders are untyped
        cfg = client.Configuration()
        try:
            config.load_kube_config(client_configuration=cfg)
        except (config.ConfigException, OSError):
            try:
                config.load_incluster_config(client_configuration=cfg)
            except config.ConfigException as exc:
                if not endpoint_url:
                    raise ExecutorError(
                        "kubernetes: no kubeconfig (~/.kube/config, $KUBECONFIG) and not in a "
                        "cluster; set endpoint_url in the policy or configure kubectl"
                    ) from exc
        if endpoint_url:
            cfg.host = endpoint_url
        api = client.ApiClient(cfg)
        self._apps = client.AppsV1Api(api)
        self._core = client.CoreV1Api(api)
        import urllib3

        # The API's answers, and a server that cannot be reached.
        self._error: tuple[type[Exception], ...] = (
            client.ApiException,
            urllib3.exceptions.HTTPError,
        )

    def target(self, resource_id: str) -> str | None:
        m = _K8S.search(resource_id)
        if m is None:
            return None
        ns, kind, name = (
            m.group("ns") or m.group("ns2"),
            m.group("kind") or m.group("kind2"),
            (m.group("name") or m.group("name2")),
        )
        return f"{ns}/{kind}/{name}"

    def _read(self, target: str) -> Any:
        ns, kind, name = target.split("/")
        try:
            if kind == "deployment":
                return self._apps.read_namespaced_deployment(name, ns)
            return self._core.read_namespaced_pod(name, ns)
        except self._error as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise ExecutorError(f"{target}: {exc}") from exc

    def tags(self, target: str) -> Mapping[str, str]:
        found = self._read(target)
        if found is None:
            return {}
        meta = found.metadata
        keys = {**(meta.labels or {}), **(meta.annotations or {})}
        return {**keys, **{k.replace("/", ":"): v for k, v in keys.items() if "/" in k}}

    def state(self, target: str) -> str:
        found = self._read(target)
        if found is None:
            return "deleted"
        if target.split("/")[1] == "deployment":
            return "scaled-to-zero" if found.spec.replicas == 0 else "running"
        return str(found.status.phase or "unknown").lower()

    def act(self, action: str, target: str) -> str:
        ns, kind, name = target.split("/")
        try:
            if kind == "deployment" and action in ("stop", "scale-to-zero"):
                scale: Any = self._apps.read_namespaced_deployment_scale(name, ns)
                before = scale.spec.replicas
                self._apps.patch_namespaced_deployment_scale(name, ns, {"spec": {"replicas": 0}})
                return (
                    f"deployment {ns}/{name} scaled {before} -> 0 replicas (back: kubectl scale "
                    f"deployment/{name} -n {ns} --replicas={before})"
                )
            if kind == "pod" and action in ("stop", "delete"):
                self._core.delete_namespaced_pod(name, ns)
                return f"pod {ns}/{name} deleted"
        except self._error as exc:
            raise ExecutorError(f"{target}: {exc}") from exc
        fix = "scale-to-zero" if kind == "deployment" else "delete"
        raise ExecutorError(f"{self.name}: a {kind} takes {fix} or stop, not {action!r}")


# executor name -> a factory taking the policy's region and endpoint_url.
EXECUTORS: dict[str, Callable[..., Executor]] = {
    "aws-ec2": Ec2Executor,
    "aws-sagemaker": SageMakerExecutor,
    "kubernetes": KubernetesExecutor,
    "local-process": LocalProcessExecutor,
    "slurm": SlurmExecutor,
}


def make_executor(name: str, **options: Any) -> Executor | None:
    """The executor called ``name``, or None if mlcost has none by that name."""
    cls = EXECUTORS.get(name)
    return None if cls is None else cls(**options)


# -- the interface the policy flow uses (issue 21; agreed with the executor side) ----------
# A minimal version written by the flow's side: the executor is chosen by what the
# resource's id says it is; the executor side refines it (faults, retries with backoff).


@dataclass(frozen=True)
class Unexecutable:
    """Why no executor acts on a resource, and what would let one."""

    reason: str
    fix: str


@dataclass(frozen=True)
class Outcome:
    """How an action ended: ``ok``, what the system answered, the error (``retryable``:
    another try may pass)."""

    ok: bool
    detail: str
    error: str | None = None
    retryable: bool = False


class _Unmade:
    """An executor that could not be made (no credentials, no client library): every use
    fails with why, so each decision is ``failed`` with the fix and the run goes on."""

    inactive: frozenset[str] = frozenset()

    def __init__(self, name: str, actions: frozenset[str], why: str) -> None:
        self.name, self.actions, self._why = name, actions, why

    def target(self, resource_id: str) -> str | None:
        return resource_id

    def tags(self, target: str) -> Mapping[str, str]:
        raise ExecutorError(self._why)

    def state(self, target: str) -> str:
        raise ExecutorError(self._why)

    def act(self, action: str, target: str) -> str:
        raise ExecutorError(self._why)


def executor_for(
    resource: Identity | str,
    settings: PolicyConfig,
    *,
    made: MutableMapping[str, Any] | None = None,
) -> Executor | Unexecutable:
    """The executor that acts on ``resource`` (a billed identity or a workload id) for the
    policy ``settings`` (its executor, region and endpoint), or why there is none and the fix.

    ``made`` caches executors across calls (by name, region and endpoint); an entry under the
    bare executor name overrides (tests hand in their own). An executor that cannot be made
    (no credentials) is returned as one whose every call fails saying why."""
    rid = resource if isinstance(resource, str) else resource.resource_id
    name = settings.executor
    if name not in EXECUTORS:
        return Unexecutable(
            f"no executor {name!r}; mlcost has {', '.join(EXECUTORS)}",
            f"set executor in [policies.{settings.name}] to one of them",
        )
    cache: MutableMapping[str, Any] = {} if made is None else made
    key = f"{name}|{settings.region}|{settings.endpoint_url}"
    found = cache.get(name) or cache.get(key)
    if found is None:
        try:
            found = EXECUTORS[name](region=settings.region, endpoint_url=settings.endpoint_url)
        except ExecutorError as exc:
            found = _Unmade(name, frozenset({settings.action}), str(exc))
        except ImportError as exc:
            extra = "kubernetes" if name == "kubernetes" else "aws"
            why = f"{name}: {exc}; install it with pip install 'mlcost[{extra}]'"
            found = _Unmade(name, frozenset({settings.action}), why)
        cache[key] = found
    executor: Executor = found
    if settings.action not in executor.actions:
        return Unexecutable(
            f"{executor.name} can {', '.join(sorted(executor.actions))}, not {settings.action!r}",
            f"set action in [policies.{settings.name}] to one of them",
        )
    if executor.target(rid) is None:
        return Unexecutable(
            f"{rid!r} is not a resource {executor.name} acts on",
            "scope the policy to the resources its executor acts on (resource_types, "
            "environments, owners), or exempt it: mlcost policies exempt RESOURCE --until DATE "
            "--reason TEXT",
        )
    return executor


def run_action(executor: Executor, action: str, target: str) -> Outcome:
    """Take ``action`` on ``target``; never raises for a provider, network or credential
    error (the Outcome carries it)."""
    try:
        return Outcome(True, executor.act(action, target))
    except ExecutorError as exc:
        return Outcome(False, "", str(exc), retryable=False)
