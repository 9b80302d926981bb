"""Parameter groups and schedules give the authors' numbers."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from edaformer.models import create_model
from edaformer.optim import (
    build_optimizer,
    classification_rules,
    cosine_warmup_schedule,
    param_groups,
    poly_warmup_schedule,
    scale_lr,
    segmentation_rules,
)

ADAMW = partial(torch.optim.AdamW, lr=6e-5, betas=(0.9, 0.999), weight_decay=0.01)


@pytest.fixture(scope="module")
def seg_optimizer():
    net = create_model("edaformer_t", num_classes=5)
    opt = build_optimizer(ADAMW, param_groups(net, segmentation_rules()))
    by_param = {}
    for group in opt.param_groups:
        for p in group["params"]:
            by_param[id(p)] = (group["lr"], group["weight_decay"])
    return net, opt, by_param


@pytest.mark.slow
def test_segmentation_rules_match_the_authors(seg_optimizer):
    net, opt, by_param = seg_optimizer
    params = dict(net.named_parameters())
    assert len(by_param) == len(params)  # every parameter in exactly one group
    # decoder head, including its LayerNorms and the fuse BatchNorm: lr x10 WITH weight decay
    for name in [
        "decode_head.classifier.weight",
        "decode_head.fuse.bn.weight",
        "decode_head.fuse.conv.weight",
        "decode_head.levels.0.blocks.0.norm1.weight",
        "decode_head.levels.2.blocks.0.attn.kv_norm.bias",
    ]:
        assert by_param[id(params[name])] == pytest.approx((6e-4, 0.01)), name
    # encoder norms: base lr, no weight decay
    for name in [
        "encoder.stages.0.patch_embed.norm.weight",
        "encoder.stages.2.blocks.3.norm2.bias",
        "encoder.stages.3.norm.weight",
    ]:
        assert by_param[id(params[name])] == pytest.approx((6e-5, 0.0)), name
    # everything else in the encoder: base lr and decay
    for name in [
        "encoder.stages.0.patch_embed.proj.weight",
        "encoder.stages.1.blocks.0.attn.kv_proj.bias",
        "encoder.stages.2.blocks.0.mix_ffn.dwconv.weight",
    ]:
        assert by_param[id(params[name])] == pytest.approx((6e-5, 0.01)), name
    assert [g["rule"] for g in opt.param_groups] == ["head", "norm", "default"]


def test_classification_rules_no_decay_on_norms_and_biases():
    net = create_model("eft_t", num_classes=10)
    groups = {g["rule"]: g for g in param_groups(net, classification_rules())}
    assert "head.bias" in groups["no_decay"]["param_names"]
    assert "encoder.stages.0.norm.weight" in groups["no_decay"]["param_names"]
    assert "head.weight" in groups["default"]["param_names"]
    opt = build_optimizer(partial(torch.optim.AdamW, lr=1e-3, weight_decay=0.05), groups.values())
    assert sorted(g["weight_decay"] for g in opt.param_groups) == [0.0, 0.05]


@pytest.mark.slow
def test_poly_warmup_schedule_values():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=6e-5)
    sched = poly_warmup_schedule(opt, total_steps=160_000, warmup_steps=1500, warmup_ratio=1e-6)
    lrs = []
    for _ in range(160_000 + 1):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(6e-5 * 1e-6)
    # half-way through the warm-up: poly(750) * (1 - 0.5 * (1 - 1e-6))
    assert lrs[750] == pytest.approx(6e-5 * (1 - 750 / 160_000) * (1 - 0.5 * (1 - 1e-6)))
    assert lrs[1500] == pytest.approx(6e-5 * (1 - 1500 / 160_000))
    assert lrs[80_000] == pytest.approx(3e-5)
    assert lrs[160_000] == 0.0
    assert all(a <= b for a, b in zip(lrs[:1500], lrs[1:1501]))  # warm-up rises
    assert all(a >= b for a, b in zip(lrs[1500:], lrs[1501:]))  # then decays


def test_cosine_warmup_schedule_values():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1e-3)
    sched = cosine_warmup_schedule(opt, total_steps=100, warmup_steps=10, warmup_ratio=1e-3, min_ratio=1e-2)
    lrs = []
    for _ in range(101):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-6)
    assert lrs[10] == pytest.approx(1e-3)
    assert lrs[55] == pytest.approx(1e-3 * (0.01 + 0.99 * 0.5))
    assert lrs[100] == pytest.approx(1e-5)


def test_scheduler_state_is_plain():
    param = torch.nn.Parameter(torch.zeros(1))
    sched = poly_warmup_schedule(torch.optim.SGD([param], lr=1.0), total_steps=10)
    state = sched.state_dict()
    assert state["lr_lambdas"][0] == {
        "total_steps": 10,
        "warmup_steps": 1500,
        "warmup_ratio": 1e-6,
        "power": 1.0,
    }


def test_a_longer_run_resumed_stretches_the_schedule():
    """Before: resumed with a larger max_steps, the schedule kept the checkpoint's length: lr 0 for the extra steps.
    Now the lr is the new length's schedule from the resumed step on, set on the optimizer at once."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=1.0)
    sched = poly_warmup_schedule(optimizer, total_steps=8, warmup_steps=0)
    for _ in range(8):
        optimizer.step()
        sched.step()
    assert optimizer.param_groups[0]["lr"] == 0.0
    longer = torch.optim.SGD([param], lr=1.0)
    resumed = poly_warmup_schedule(longer, total_steps=16, warmup_steps=0)
    longer.load_state_dict(optimizer.state_dict())
    resumed.load_state_dict(sched.state_dict())
    assert longer.param_groups[0]["lr"] == pytest.approx(0.5) == resumed.get_last_lr()[0]
    longer.step()
    resumed.step()
    assert longer.param_groups[0]["lr"] == pytest.approx(1 - 9 / 16)


def test_scale_lr_is_deits_linear_rule():
    net = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW([{"params": [net.weight]}, {"params": [net.bias], "lr": 1e-4}], lr=5e-4)
    assert scale_lr(opt, 128 * 8, 512) == 2.0  # 128 per GPU on 8 GPUs: 5e-4 → 1e-3
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3, 2e-4])
    with pytest.raises(ValueError, match="batch sizes"):
        scale_lr(opt, 0, 512)
