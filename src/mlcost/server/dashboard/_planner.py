"""The planner page's forms: each builds the planner's request object (``mlcost.plan.requests``),
as the CLI and the API do, from the form's starting values below."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlcost.errors import MlcostError

__all__ = ["planner_context"]

MEMORY_DEFAULTS: dict[str, Any] = {
    "model": "llama-3-8b",
    "mode": "lora",
    "precision": "amp-bf16",
    "batch": 1,
    "seq": 2048,
    "gpus": 1,
    "sharding": "ddp",
    "purchase": "ondemand",
}
SPOT_DEFAULTS: dict[str, Any] = {
    "hours": 24.0,
    "instance": "p4d.24xlarge",
    "region": None,
    "checkpoint_minutes": 5.0,
    "restart_minutes": 10.0,
}


def _form(defaults: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """The form's values: ``given`` (query strings) cast to the defaults' types."""
    out = dict(defaults)
    for key, default in defaults.items():
        raw = given.get(key)
        if raw is None or raw == "":
            continue
        try:
            out[key] = type(default)(raw) if default is not None else raw
        except ValueError:
            raise _FormError(f"{key} must be a {type(default).__name__}, got {raw!r}") from None
    return out


class _FormError(MlcostError, ValueError):
    """A planner form field that does not parse."""


def _pick(cls: type, form: Mapping[str, Any]) -> dict[str, Any]:
    """The form values that are fields of a planner request."""
    from mlcost.plan.requests import request_fields

    return {f.name: form[f.name] for f in request_fields(cls) if f.name in form}


def _memory(form: dict[str, Any]) -> dict[str, Any]:
    from mlcost.plan import GpuRequest, MemoryRequest

    job = MemoryRequest(**_pick(MemoryRequest, form))
    out: dict[str, Any] = {"memory": job.run()}
    try:
        plan = GpuRequest(job=job, purchases=(form["purchase"],), limit=10).run()
        out.update(fits=plan.fits, fit_notes=plan.notes)
    except MlcostError as exc:
        out["fit_error"] = str(exc)
    return out


def _spot(form: dict[str, Any]) -> dict[str, Any]:
    """Prices and the interruption rate from the catalog, as ``mlcost plan spot --instance``."""
    from mlcost.plan import SpotRequest

    return {"spot": SpotRequest(**_pick(SpotRequest, form)).run()}


def planner_context(query: Mapping[str, str]) -> tuple[dict[str, Any], bool]:
    """Template values for the planner page and whether the submitted form was wrong."""
    from mlcost.catalog import PURCHASES, offers
    from mlcost.plan import PRESETS
    from mlcost.plan.memory import MODES, PRECISIONS, SHARDINGS

    tool = query.get("tool")
    ctx: dict[str, Any] = {
        "presets": sorted(PRESETS),
        "modes": MODES,
        "precisions": PRECISIONS,
        "shardings": SHARDINGS,
        "purchases": PURCHASES,
        "instances": sorted({o.instance_type for o in offers() if o.interruption}),
        "mem_in": dict(MEMORY_DEFAULTS),
        "spot_in": dict(SPOT_DEFAULTS),
    }
    bad = False
    for name, defaults, run in (
        ("memory", MEMORY_DEFAULTS, _memory),
        ("spot", SPOT_DEFAULTS, _spot),
    ):
        if tool != name:
            continue
        key = "mem" if name == "memory" else "spot"
        try:
            form = _form(defaults, query)
            ctx[f"{key}_in"] = form
            ctx.update(run(form))
        except MlcostError as exc:
            ctx[f"{key}_error"] = str(exc)
            bad = True
    return ctx, bad
