"""Kubernetes deployments (scale to zero) and pods (delete) through the official client."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mlcost.policies.executors._base import ExecutorError

__all__ = ["KubernetesExecutor"]

_K8S = re.compile(
    r"\bk8s:(?P<ns>[a-z0-9-]+)/(?P<kind>deployment|pod)/(?P<name>[a-z0-9.-]+)"
    r"|\bnamespaces/(?P<ns2>[a-z0-9-]+)/(?P<kind2>deployment|pod)s/(?P<name2>[a-z0-9.-]+)"
)


def _kube_error(target: str, exc: Exception) -> ExecutorError:
    """An API answer or a connection error as an :class:`ExecutorError`. The message holds
    the status, reason and the Status message only: ``str(ApiException)`` also prints the
    answer's headers (cookies, tokens of some proxies)."""
    import json

    status = getattr(exc, "status", None)
    if status is None or not isinstance(status, int) or status == 0:
        # urllib3: refused, a timeout, the server gone mid-answer; may pass later.
        return ExecutorError(f"{target}: {type(exc).__name__}: {exc}", retryable=True)
    try:
        message = json.loads(getattr(exc, "body", None) or "{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    text = f"{target}: HTTP {status} {getattr(exc, 'reason', '')}: {message}".rstrip(": ")
    if status in (401, 403):
        fix = "give the kubeconfig's user RBAC rights on deployments/scale and pods (patch, delete)"
        return ExecutorError(text, fix=fix)
    return ExecutorError(text, retryable=status >= 500 or status == 429)


def _kubeconfig() -> str | None:
    """``$KUBECONFIG`` as it is now (the client reads it once, when first imported); None:
    the client's default, ``~/.kube/config``."""
    import os

    return os.environ.get("KUBECONFIG") or None


def _context(config: Any, cluster: str) -> str | None:
    """The kubeconfig context for ``cluster``: named so, or whose cluster is named so. None:
    no kubeconfig (in a cluster, its own)."""
    try:
        contexts, _active = config.list_kube_config_contexts(config_file=_kubeconfig())
    except (config.ConfigException, OSError):
        return None
    for c in contexts or ():
        if cluster in (c.get("name"), (c.get("context") or {}).get("cluster")):
            return str(c["name"])
    names = ", ".join(sorted(str(c.get("name")) for c in contexts or ())) or "none"
    raise ExecutorError(
        f"kubernetes: the workload runs in cluster {cluster!r} and the kubeconfig has no "
        f"context for it (contexts: {names}); not acting on another cluster",
        fix=f"add a context named {cluster!r} (kubectl config rename-context <context> "
        f"{cluster}), or set endpoint_url in the policy",
    )


class KubernetesExecutor:
    """Kubernetes deployments and pods through the official ``kubernetes`` client.

    Resources are named ``k8s:<namespace>/deployment/<name>`` or ``k8s:<namespace>/pod/<name>``
    (or an API path ``…/namespaces/<ns>/deployments/<name>``). ``stop`` / ``scale-to-zero`` on
    a deployment patches its scale subresource to 0 replicas; ``stop`` / ``delete`` on a pod
    deletes it (a pod owned by a deployment comes back: target the deployment instead).
    Credentials: ``~/.kube/config`` (``$KUBECONFIG``) or the in-cluster service account;
    ``endpoint_url`` overrides the API server. ``cluster`` (the cluster a workload runs in,
    as OpenCost names it) picks the kubeconfig context of that name, or whose cluster has
    that name; a kubeconfig without one is refused rather than acting on a same-named
    deployment of another cluster (in a cluster, with no kubeconfig, the service account's
    own cluster is used). Label and annotation keys cannot hold ``:``, so
    ``mlcost/protect: "true"`` stands for the protect tag ``mlcost:protect``.
    """

    name = "kubernetes"
    actions = frozenset({"stop", "scale-to-zero", "delete"})
    inactive = frozenset({"scaled-to-zero", "deleted", "succeeded", "failed"})

    def __init__(
        self, *, endpoint_url: str | None = None, cluster: str | None = None, **_options: Any
    ) -> None:
        from kubernetes import client
        from kubernetes import config as kube

        config: Any = kube  # its loaders are untyped
        cfg = client.Configuration()
        context = _context(config, cluster) if cluster and not endpoint_url else None
        try:
            config.load_kube_config(
                config_file=_kubeconfig(), client_configuration=cfg, context=context
            )
        except (config.ConfigException, OSError):
            try:
                config.load_incluster_config(client_configuration=cfg)
            except config.ConfigException as exc:
                if not endpoint_url:
                    raise ExecutorError(
                        "kubernetes: no kubeconfig (~/.kube/config, $KUBECONFIG) and not in a "
                        "cluster",
                        fix="set endpoint_url in the policy or configure kubectl",
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
            raise _kube_error(target, exc) from exc

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
            raise _kube_error(target, exc) from exc
        fix = "scale-to-zero" if kind == "deployment" else "delete"
        raise ExecutorError(f"{self.name}: a {kind} takes {fix} or stop, not {action!r}")
