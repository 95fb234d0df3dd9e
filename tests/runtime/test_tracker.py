"""The tracker on a real PyTorch training loop (CPU), its budget guard and cost-aware stopping."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

import pytest

import mlcost
from mlcost.catalog import hourly_price
from mlcost.errors import BudgetExceeded, NotWorthIt
from mlcost.runtime import StopRule, checkpoint, latest_checkpoint, track
from tests.runtime.servers import metadata_server, read_spool

RUN_KEYS = {
    "schema", "kind", "run_id", "name", "tags", "start", "end", "status", "cloud", "region",
    "instance_type", "purchase", "resource_id", "gpu_model", "gpu_count", "gpu_hours",
    "used_gpu_hours", "peak_memory_bytes", "hourly_price", "cost", "checkpoint_seconds",
    "metrics", "stopped_reason",
}  # fmt: skip


class Clock:
    """A clock the test moves by hand: budgets are judged without waiting."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_real_torch_loop_with_checkpoints_and_resume(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    spool = tmp_path / "spool"
    with mlcost.track(
        "mlp", tags={"team": "nlp"}, instance="p4d.24xlarge", region="us-east-1",
        spool=spool, detect=False, interval=0.01,
    ) as run:  # fmt: skip
        losses = []
        for step in range(1, 41):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            run.step(loss=loss.item())
            if step % 20 == 0:
                with checkpoint(tmp_path / "ck", step=step) as folder:
                    torch.save({"model": model.state_dict(), "step": step}, folder / "state.pt")
    assert losses[-1] < losses[0]
    assert run.status == "finished" and run.checkpoints == 2 and run.checkpoint_seconds > 0
    # Resume from the newest complete checkpoint gives the same weights.
    saved = torch.load(latest_checkpoint(tmp_path / "ck") / "state.pt", weights_only=True)
    assert saved["step"] == 40
    assert all(torch.equal(saved["model"][k], v) for k, v in model.state_dict().items())

    lines = read_spool(spool)
    runs = [r for r in lines if r["kind"] == "run"]
    assert {r["run_id"] for r in runs} == {run.run_id}
    final = runs[-1]  # the last line for a run wins
    assert set(final) == RUN_KEYS
    price = Decimal(str(hourly_price("p4d.24xlarge", region="us-east-1")))
    assert final["hourly_price"] == {"amount": str(price.normalize()), "currency": "USD"}
    # Spool amounts carry 6 decimals, so a short run's cost is exact to half a millionth.
    assert Decimal(final["cost"]["amount"]) == pytest.approx(
        price * Decimal(run.elapsed_seconds) / 3600, rel=Decimal("1e-3"), abs=Decimal("5e-7")
    )
    assert final["status"] == "finished" and final["end"] is not None and runs[0]["end"] is None
    assert (final["cloud"], final["gpu_model"], final["gpu_count"]) == ("aws", "A100-40GB", 8)
    assert final["purchase"] == "on-demand" and final["tags"] == {"team": "nlp"}
    assert final["metrics"]["loss"] == pytest.approx(losses[-1])
    assert final["start"].endswith("Z") and final["schema"] == 1
    assert final["checkpoint_seconds"] > 0


def test_budget_warns_at_75_and_90_then_checkpoints_and_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    hook: list[float] = []
    caplog.set_level(logging.WARNING, logger="mlcost.runtime")
    with track(
        "budget", hourly_price=3600, max_cost=10, checkpoint=lambda: hook.append(clock.t),
        clock=clock, detect=False, spool=tmp_path, interval=3600,
    ) as run:  # fmt: skip
        for step in range(100):
            clock.t += 1  # one second: one dollar at 3600 USD/h
            run.step()
            last = step
    assert last == 8  # the 10th step reached 10 USD and raised; the with-block ended cleanly
    assert hook == [1010.0]  # the checkpoint hook ran once, at 100%
    warnings = [r.getMessage() for r in caplog.records if "of its budget" in r.getMessage()]
    assert [w.split(" has used ")[1][:3] for w in warnings] == ["75%", "90%"]
    assert run.status == "stopped" and run.stopped_reason is not None
    assert "Budget reached (max_cost=10)" in run.stopped_reason
    assert read_spool(tmp_path)[-1]["stopped_reason"] == run.stopped_reason


def test_max_hours_raises_budget_exceeded_outside_a_with_block(tmp_path: Path) -> None:
    clock = Clock()
    run = track("hours", max_hours=1, clock=clock, detect=False, spool=tmp_path).start()
    clock.t += 3599
    run.step()
    clock.t += 1
    with pytest.raises(BudgetExceeded, match="max_hours=1"):
        run.step()
    run.finish("stopped")


def test_unset_none_and_zero_budgets(tmp_path: Path) -> None:
    clock = Clock()
    # Omitted and None: no budget at all, however long it runs.
    for options in ({}, {"max_cost": None}):
        with track(
            "free", hourly_price=1, clock=clock, detect=False, spool=tmp_path, **options
        ) as r:
            clock.t += 10**7
            r.step()
        assert r.status == "finished"
    # Zero: nothing may be spent, so the first step stops.
    with track("zero", hourly_price=1, max_cost=0, clock=clock, detect=False, spool=tmp_path) as r:
        r.step()
        pytest.fail("a zero budget must stop at the first step")
    assert r.status == "stopped"


def test_improvement_per_dollar_stops_and_reports_the_saving(tmp_path: Path) -> None:
    clock = Clock()
    rule = StopRule("val_loss", min_improvement_per_dollar=0.05, patience=2)
    with track(
        "plateau", hourly_price=3600, max_cost=100, stop_rule=rule, clock=clock,
        detect=False, spool=tmp_path,
    ) as run:  # fmt: skip
        for value in (1.0, 0.5, 0.49, 0.489, 0.4889, 0.48889):
            clock.t += 1  # one dollar per evaluation
            run.step(val_loss=value)
    # Rates per dollar: 0.5, then 0.01 and 0.001 (two strikes): stopped at the 4th evaluation.
    assert run.metrics["val_loss"] == 0.489
    assert run.saving == Decimal(96)
    assert run.stopped_reason is not None and "saved 96.00 USD" in run.stopped_reason
    stop = NotWorthIt("x", saving=Decimal(1))
    assert isinstance(stop, mlcost.MlcostError) and isinstance(stop, RuntimeError)


def test_instance_detected_from_aws_metadata(tmp_path: Path) -> None:
    with metadata_server() as (base, _):
        urls = {"aws": base, "gcp": base, "azure": base}
        with track("detected", metadata_urls=urls, spool=tmp_path, env={}) as run:
            run._ready.wait(5)  # detection happens in the tracker's thread
    final = read_spool(tmp_path)[-1]
    spot = Decimal(str(hourly_price("p4d.24xlarge", region="us-east-1", purchase="spot")))
    assert (final["instance_type"], final["region"], final["purchase"]) == (
        "p4d.24xlarge", "us-east-1", "spot",
    )  # fmt: skip
    assert final["resource_id"] == "i-0123456789abcdef0"
    assert Decimal(final["hourly_price"]["amount"]) == spot
    assert run.interruptions_per_hour is not None and run.interruptions_per_hour > 0


def test_unknown_instance_still_records_and_says_why(tmp_path: Path) -> None:
    with track("typo", instance="p4.24xlarge", spool=tmp_path, detect=False) as run:
        run.step()
    assert run.status == "finished" and run.cost is None
    assert any("p4d.24xlarge" in note for note in run.notes)  # the catalog's suggestion
    assert read_spool(tmp_path)[-1]["cost"] is None


def test_failed_and_suggested_interval(tmp_path: Path) -> None:
    clock = Clock()
    run = track(
        "spot", instance="p4d.24xlarge", purchase="spot", region="us-east-1", clock=clock,
        detect=False, spool=tmp_path,
    )  # fmt: skip

    def crash() -> None:
        with run:
            run.add_checkpoint_time(120)
            clock.t += 3600
            _ = 1 / 0

    with pytest.raises(ZeroDivisionError):
        crash()
    assert run.status == "failed"
    interval = run.suggested_checkpoint_interval()
    assert interval is not None and 1 < interval < 100  # hours, Daly from a 2 min checkpoint
    assert run.checkpoint_share == pytest.approx(120 / 3600)
