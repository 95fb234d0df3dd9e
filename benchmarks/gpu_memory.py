"""Measure peak GPU memory of real training, LoRA and generate() steps (needs a CUDA GPU).

The protocol of ``tests/data/memory/SOURCES.md`` (the H200 development set), on more shapes:
fp16 autocast, eager attention, SGD and Adafactor, all-linear LoRA, 8-bit and 4-bit bases (when
bitsandbytes installs), and inference. Each case runs in its own process (a fresh caching
allocator), builds its model with ``AutoModelForCausalLM.from_config`` from a config in
``tests/data/memory/h200-configs/`` (random weights), resets the peak statistics once the model
and inputs are on the GPU, runs the steps, and records ``torch.cuda.max_memory_allocated`` and
``max_memory_reserved``. The output has the format of ``h200_measured.json`` (``env`` with the
CUDA context of the machine, ``cases``), so ``tests/plan/test_memory_measured.py`` can read it.

    python benchmarks/gpu_memory.py --out tests/data/memory/measured-$(date +%F).json
    python benchmarks/gpu_memory.py --list          # the cases, without a GPU
    python benchmarks/gpu_memory.py --only gpt2-fp16-b8s1024 --out /tmp/one.json

Nothing here is fitted: the file is evidence to compare the estimator against. Add what it
measured to the repository with its date and versions (the ``env`` block says them).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CONFIGS = Path(__file__).resolve().parents[1] / "tests/data/memory/h200-configs"

# name, config, mode, precision, optimizer, batch, seq, checkpointing, extra options
CASES: list[dict[str, Any]] = [
    {"name": "gpt2-fp16-b8s1024", "config": "gpt2-124m", "mode": "train",
     "precision": "amp-fp16", "optimizer": "adamw", "batch": 8, "seq": 1024},
    {"name": "gpt2-fp32-b4s1024", "config": "gpt2-124m", "mode": "train",
     "precision": "fp32", "optimizer": "adamw", "batch": 4, "seq": 1024},
    {"name": "gpt2-amp-eager-b8s1024", "config": "gpt2-124m", "mode": "train",
     "precision": "amp-bf16", "optimizer": "adamw", "batch": 8, "seq": 1024,
     "attention": "eager"},
    {"name": "qwen05-bf16-adafactor-b8s1024", "config": "qwen2.5-0.5b", "mode": "train",
     "precision": "bf16", "optimizer": "adafactor", "batch": 8, "seq": 1024},
    {"name": "qwen15-amp-b2s4096-ckpt", "config": "qwen2.5-1.5b", "mode": "train",
     "precision": "amp-bf16", "optimizer": "adamw", "batch": 2, "seq": 4096,
     "grad_checkpointing": True},
    {"name": "llama1b-amp-eager-b2s2048", "config": "llama-3.2-1b", "mode": "train",
     "precision": "amp-bf16", "optimizer": "adamw", "batch": 2, "seq": 2048,
     "attention": "eager"},
    {"name": "llama3b-bf16-b2s4096-ckpt", "config": "llama-3.2-3b", "mode": "train",
     "precision": "bf16", "optimizer": "adamw", "batch": 2, "seq": 4096,
     "grad_checkpointing": True},
    {"name": "llama8b-lora-all-b2s2048", "config": "llama-3.1-8b", "mode": "lora",
     "precision": "bf16", "optimizer": "adamw", "batch": 2, "seq": 2048,
     "lora_targets": "all-linear"},
    {"name": "llama8b-lora-r64-b2s2048-ckpt", "config": "llama-3.1-8b", "mode": "lora",
     "precision": "bf16", "optimizer": "adamw", "batch": 2, "seq": 2048,
     "grad_checkpointing": True, "lora_rank": 64},
    {"name": "llama8b-qlora-b4s1024", "config": "llama-3.1-8b", "mode": "qlora",
     "precision": "bf16", "optimizer": "adamw", "batch": 4, "seq": 1024},
    {"name": "mistral7b-int8-lora-b2s1024", "config": "mistral-7b", "mode": "lora",
     "precision": "int8", "optimizer": "adamw", "batch": 2, "seq": 1024},
    {"name": "llama3b-infer-b64s1024", "config": "llama-3.2-3b", "mode": "infer",
     "precision": "bf16", "optimizer": None, "batch": 64, "seq": 1024},
    {"name": "mistral7b-infer-b8s4096", "config": "mistral-7b", "mode": "infer",
     "precision": "bf16", "optimizer": None, "batch": 8, "seq": 4096},
]  # fmt: skip


def _env() -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {"torch": torch.__version__, "device": "cuda"}
    for lib in ("transformers", "peft", "bitsandbytes"):
        try:
            env[lib] = __import__(lib).__version__
        except ImportError:
            env[lib] = None
    free, total = torch.cuda.mem_get_info()
    before = total - free
    tiny = torch.ones(1, device="cuda")
    torch.cuda.synchronize()
    free, total = torch.cuda.mem_get_info()
    env.update(
        gpu=torch.cuda.get_device_name(),
        total_bytes=total,
        used_after_init_bytes=total - free,
        used_before_tensor_bytes=before,
        reserved_tiny=torch.cuda.memory_reserved(),
    )
    del tiny
    return env


def _model(case: dict[str, Any]) -> Any:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    raw = json.loads((CONFIGS / f"{case['config']}.json").read_text())
    cfg = AutoConfig.for_model(**{k: v for k, v in raw.items() if k != "architectures"})
    kw: dict[str, Any] = {"attn_implementation": case.get("attention", "sdpa")}
    precision = case["precision"]
    if case["mode"] in ("qlora",) or precision in ("int8", "int4"):
        from transformers import BitsAndBytesConfig

        four = case["mode"] == "qlora" or precision == "int4"
        kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=four,
            load_in_8bit=not four,
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_quant_type="nf4",
        )
        # The quantizer converts weights as they load: save random bf16 weights, load them back.
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16).save_pretrained(tmp)
            return AutoModelForCausalLM.from_pretrained(tmp, device_map="cuda", **kw)
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    return AutoModelForCausalLM.from_config(cfg, dtype=dtype, **kw).cuda()


def _optimizer(name: str, params: list[Any]) -> Any:
    import torch

    if name == "adamw":
        return torch.optim.AdamW(params, lr=1e-4)
    if name == "sgd":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9)
    if name == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(params, lr=1e-4, relative_step=False, scale_parameter=False)
    raise SystemExit(f"unknown optimizer {name}")


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """One case in this process: the record h200_measured.json keeps per case."""
    import torch

    model = _model(case)
    batch, seq = case["batch"], case["seq"]
    ids = torch.randint(0, model.config.vocab_size, (batch, seq), device="cuda")
    params = sum(p.numel() for p in model.parameters())
    record = {
        **{k: case.get(k) for k in ("name", "config", "mode", "precision", "optimizer")},
        "batch": batch,
        "seq": seq,
        "grad_checkpointing": bool(case.get("grad_checkpointing")),
        "attention": case.get("attention", "sdpa"),
        "params": params,
    }
    start = time.perf_counter()
    if case["mode"] == "infer":
        model.eval()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            model.generate(ids, max_new_tokens=2, do_sample=False, use_cache=True)
        record["steps"] = 1
    else:
        if case.get("grad_checkpointing"):
            model.gradient_checkpointing_enable({"use_reentrant": False})
        if case["mode"] in ("lora", "qlora"):
            from peft import LoraConfig, get_peft_model

            targets = (
                "all-linear"
                if case.get("lora_targets") == "all-linear"
                else ["q_proj", "k_proj", "v_proj", "o_proj"]
            )
            model = get_peft_model(
                model,
                LoraConfig(r=case.get("lora_rank", 16), lora_alpha=32, target_modules=targets),
            )
        model.train()
        trainable = [p for p in model.parameters() if p.requires_grad]
        record["trainable"] = sum(p.numel() for p in trainable)
        opt = _optimizer(case["optimizer"], trainable)
        amp = {"amp-bf16": torch.bfloat16, "amp-fp16": torch.float16}.get(case["precision"])
        scaler = torch.amp.GradScaler() if case["precision"] == "amp-fp16" else None
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        for _ in range(3):
            with torch.autocast("cuda", dtype=amp, enabled=amp is not None):
                out = model(input_ids=ids, labels=ids)
            if scaler is not None:
                scaler.scale(out.loss).backward()
                scaler.step(opt)
                scaler.update()
            else:
                out.loss.backward()
                opt.step()
            opt.zero_grad(set_to_none=True)
            del out
        record["steps"] = 3
    torch.cuda.synchronize()
    record.update(
        max_allocated_bytes=torch.cuda.max_memory_allocated(),
        max_reserved_bytes=torch.cuda.max_memory_reserved(),
        wall_s=round(time.perf_counter() - start, 2),
    )
    return record


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="JSON file to write (h200_measured.json format).")
    ap.add_argument("--only", action="append", help="Run only these cases (repeatable).")
    ap.add_argument("--list", action="store_true", help="List the cases and exit.")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # internal: one case, JSON on stdout
    args = ap.parse_args()
    if args.list:
        for c in CASES:
            print(c["name"])
        return 0
    if args.case:
        case = next(c for c in CASES if c["name"] == args.case)
        print(json.dumps(run_case(case)))
        return 0
    if args.out is None:
        ap.error("give --out FILE")
    try:
        import torch
    except ImportError:
        print("needs PyTorch with CUDA, transformers and peft", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("no CUDA GPU here: run this on a machine with one", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"env": _env(), "cases": []}
    for case in CASES:
        if args.only and case["name"] not in args.only:
            continue
        proc = subprocess.run(
            [sys.executable, __file__, "--case", case["name"]],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["?"]
            print(f"{case['name']}: skipped ({tail[0]})", file=sys.stderr)
            continue
        record = json.loads(proc.stdout.strip().splitlines()[-1])
        result["cases"].append(record)
        print(f"{case['name']}: reserved {record['max_reserved_bytes'] / 2**30:.2f} GiB")
        args.out.write_text(json.dumps(result, indent=1))  # what is done so far survives
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
