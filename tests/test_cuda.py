"""On a CUDA machine (``pytest -m cuda``; ``make gpu-check`` runs them): forward/backward in float32 and bfloat16,
the fused attention kernel at 1024×2048, SyncBN under DDP with one process, a 20-step bf16-mixed training run
through the train CLI, and torch.compile. Skipped without a GPU."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.nn.functional as F

from edaformer.evaluation.acceleration import accelerate
from edaformer.models import create_model

from .cli.helpers import run, tiny

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


def _model(num_classes: int = 19, **kwargs) -> torch.nn.Module:
    """EDAFormer-Mini: every layer of EDAFormer; the attention matrices (tokens × pooled tokens per head) are those
    of T at any input size."""
    torch.manual_seed(0)
    return create_model("edaformer_mini", num_classes=num_classes, **kwargs).cuda()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_forward_backward(dtype):
    model = _model().train()
    x = torch.randn(2, 3, 256, 320, device="cuda")
    labels = torch.randint(0, 19, (2, 256, 320), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
        logits = model(x)
        loss = F.cross_entropy(logits.float(), labels)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert torch.isfinite(loss) and all(g is not None and torch.isfinite(g).all() for g in grads)
    if dtype == torch.bfloat16:
        assert logits.dtype == torch.bfloat16


def test_gpu_matches_cpu_and_bf16_labels_agree():
    cpu = create_model("edaformer_mini", num_classes=19).eval()
    gpu = create_model("edaformer_mini", num_classes=19).eval().cuda()
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randn(1, 3, 256, 256)
    with torch.no_grad():
        ref = cpu(x)
        assert (gpu(x.cuda()).cpu() - ref).abs().max() <= 1e-3  # TF32 may be on: loose
        fast = accelerate(gpu, precision="bf16")
        out = fast(x.cuda()).cpu()
    assert out.dtype == torch.float32
    assert (out.argmax(1) == ref.argmax(1)).float().mean() >= 0.9


def test_fused_attention_at_1024x2048_needs_no_attention_matrix():
    """Stage 1 at 1024×2048: 131,072 queries × 2,048 keys; an explicit matrix would take 1 GiB per head."""
    model = _model().eval()
    x = torch.randn(1, 3, 1024, 2048, device="cuda")
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    with torch.inference_mode():
        logits = model(x)
    rise = torch.cuda.max_memory_allocated() - before
    assert logits.shape == (1, 19, 1024, 2048) and torch.isfinite(logits).all()
    assert rise < 1024**3, f"forward pass needed {rise / 2**20:.0f} MiB"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("backend", ["nccl", "gloo"])
def test_syncbn_under_ddp_with_one_process(backend):
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    dist.init_process_group(backend, rank=0, world_size=1)
    try:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(_model().train())
        assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
        ddp = torch.nn.parallel.DistributedDataParallel(model, device_ids=[0])
        x = torch.randn(2, 3, 128, 128, device="cuda")
        loss = ddp(x).mean()
        loss.backward()
        assert torch.isfinite(loss)
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_train_cli_20_steps_bf16_mixed(tmp_path):
    args = [
        *tiny(tmp_path / "data", tmp_path / "run", steps=20),
        "model=edaformer_mini",
        "trainer=gpu",
        "trainer.precision=bf16-mixed",
    ]
    args = [a for a in args if a != "trainer.accelerator=cpu"] + ["final_eval.isr=[own]", "logger=csv"]
    proc = run("train.py", args, timeout=400)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 20
    weights = [v for v in ckpt["state_dict"].values() if v.is_floating_point()]
    assert all(
        v.dtype == torch.float32 and torch.isfinite(v).all() for v in weights
    )  # float32 master weights
    rows = json.loads((tmp_path / "run" / "isr_results.json").read_text())["results"]
    assert [r["setting"] for r in rows] == ["train"]  # own: the standard ratios, named by their preset
    assert isinstance(rows[0]["mIoU"], float) and rows[0]["mIoU"] == rows[0]["mIoU"]  # evaluated, not NaN


@pytest.mark.slow
def test_compile_follows_isr_and_size_on_gpu():
    model = _model().eval()
    ref = create_model("edaformer_mini", num_classes=19).eval().cuda()
    ref.load_state_dict(model.state_dict())
    fast = accelerate(model, compile=True)
    with torch.no_grad():
        for isr, size in (("train", (256, 320)), ("paper", (256, 320)), ("paper", (320, 256))):
            fast.set_isr(isr)
            ref.set_isr(isr)
            x = torch.randn(1, 3, *size, device="cuda")
            assert (fast(x) - ref(x)).abs().max() <= 1e-2, (isr, size)  # TF32 / fused kernels: loose
