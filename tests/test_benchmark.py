"""Benchmark helpers and CLI: interleaving, ratios, memory tracking, unfused equivalence, SegFormer baselines."""

from __future__ import annotations

import json

import pytest
import torch

from edaformer.models import UnfusedEmbeddingFreeAttention, create_model
from edaformer.tools.benchmark import (
    ModelSpec,
    PeakMemory,
    Result,
    markdown_table,
    random_batch,
    reset_peak_rss,
    segformer_baseline,
    time_interleaved,
    track_peak_memory,
    train_call,
    use_unfused_attention,
)
from tests.conftest import load_script

benchmark_main = load_script("benchmark").main


def test_time_interleaved_rotates_order_and_counts_calls():
    order: list[str] = []
    fns = {name: (lambda n=name: order.append(n)) for name in "abc"}
    times = time_interleaved(fns, repeats=3, warmup=2)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert order[:6] == ["a", "a", "b", "b", "c", "c"]  # warm-up, each in turn
    assert order[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # one of each per repetition, rotated
    with pytest.raises(ValueError):
        time_interleaved(fns, repeats=0)


def test_markdown_table_ratios_and_stats():
    base = Result("segformer-b0", (512, 512), 1, "fp32", "inference", times=[0.3, 0.4, 0.5], baseline=True)
    ours = Result(
        "edaformer_t (paper)", (512, 512), 1, "fp32", "inference", times=[0.2, 0.1, 0.25], gflops=4.7
    )
    ours.memory = PeakMemory("rss", before=100 * 2**20, peak=300 * 2**20)
    other = Result("edaformer_t (paper)", (256, 256), 1, "fp32", "inference", times=[0.1])  # no baseline row
    table = markdown_table([base, ours, other], baselines=["segformer-b0"])
    rows = {line.split(" | ")[0].strip("| ") + line.split(" | ")[2]: line for line in table.splitlines()[2:]}
    row = rows["edaformer_t (paper)512×512"]
    cells = [c.strip() for c in row.strip("|").split("|")]
    # model, layout, input, batch, prec, GFLOPs, median, min, max, img/s, peak, rise, ratio
    assert cells[5:] == ["4.7", "200.0", "100.0", "250.0", "5.00", "300", "200", "2.00×"]
    assert rows["segformer-b0512×512"].rstrip(" |").endswith("1.00×")
    assert rows["edaformer_t (paper)256×256"].rstrip(" |").endswith("—")


def test_model_spec_parsing():
    assert ModelSpec.parse("edaformer_t:unfused", "paper") == ModelSpec("edaformer_t", "paper", unfused=True)
    assert ModelSpec.parse("edaformer_t:unfused", "paper").label == "edaformer_t unfused (paper)"
    assert ModelSpec.parse("segformer-b2", "paper") == ModelSpec("segformer-b2")  # baselines take no ISR
    with pytest.raises(ValueError, match="unfused"):
        ModelSpec.parse("edaformer_t:fast")
    with pytest.raises(ValueError, match="valid names"):
        ModelSpec.parse("edaformer_x").build(10)


@pytest.mark.parametrize("isr", ["train", "paper"])
def test_unfused_attention_is_the_same_model(isr):
    fused = create_model("edaformer_t", num_classes=19, isr=isr).eval()
    unfused = create_model("edaformer_t", num_classes=19, isr=isr).eval()
    unfused.load_state_dict(fused.state_dict())
    use_unfused_attention(unfused)
    assert sum(isinstance(m, UnfusedEmbeddingFreeAttention) for m in unfused.modules()) == 16 + 6
    assert list(unfused.state_dict()) == list(fused.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.inference_mode():  # float32 rounding only (logits reach ~10: 1e-6 relative)
        ref = unfused(x)
        torch.testing.assert_close(fused(x), ref, rtol=1e-5, atol=5e-5)
        # channels-last (a runtime option of the benchmark) leaves the values alone too
        cl = fused.to(memory_format=torch.channels_last)
        torch.testing.assert_close(
            cl(x.contiguous(memory_format=torch.channels_last)), ref, rtol=1e-5, atol=5e-5
        )


def test_peak_memory_tracks_an_allocation():
    if not reset_peak_rss():
        pytest.skip("this kernel cannot reset the peak resident set")
    with track_peak_memory(torch.device("cpu")) as mem:
        block = torch.ones(48 * 2**20 // 4)  # 48 MiB, touched
        del block
    assert mem.kind == "rss" and mem.exact
    assert mem.rise >= 40 * 2**20
    assert mem.peak >= mem.before + mem.rise


def test_train_call_updates_weights():
    model = create_model("edaformer_t", num_classes=5)
    images, labels = random_batch(1, (64, 64), 5, torch.device("cpu"))
    assert (labels == 255).any() and labels.max() == 255
    before = model.decode_head.classifier.weight.detach().clone()
    loss = train_call(model, images, labels)()
    assert torch.isfinite(loss) and model.training
    assert not torch.equal(before, model.decode_head.classifier.weight)


def test_cli_interleaved_run_writes_table_and_json(tmp_path, capsys):
    out = tmp_path / "r.json"
    argv = ["--models", "edaformer_t,edaformer_t:unfused", "--isr", "train,paper", "--size", "64x96"]
    argv += ["--repeats", "2", "--warmup", "1", "--threads", str(torch.get_num_threads()), "--json", str(out)]
    assert benchmark_main(argv) == 0
    table = capsys.readouterr().out
    for label in ("edaformer_t (train)", "edaformer_t (paper)", "edaformer_t unfused (paper)"):
        assert f"| {label} | channels_last | 64×96 | 1 | fp32 |" in table
    payload = json.loads(out.read_text())
    assert len(payload["results"]) == 4
    assert all(len(r["times"]) == 2 and r["memory"]["peak"] > 0 for r in payload["results"])
    gflops = {r["label"]: r["gflops"] for r in payload["results"]}
    assert gflops["edaformer_t (paper)"] < gflops["edaformer_t (train)"]


def test_cli_train_mode_uses_recipe_defaults(capsys):
    argv = ["--train", "--models", "edaformer_t", "--size", "64x64", "--repeats", "1", "--warmup", "0"]
    assert benchmark_main([*argv, "--no-memory", "--memory-format", "contiguous"]) == 0
    table = capsys.readouterr().out
    assert "| edaformer_t | contiguous | 64×64 | 4 | fp32 |" in table  # ADE20K recipe batch for T


def test_cli_rejects_bad_options():
    with pytest.raises(SystemExit, match="SegFormer baselines"):
        benchmark_main(["--compare", "edaformer_b", "--size", "64", "--repeats", "1"])
    with pytest.raises(SystemExit):
        benchmark_main(["--size", "16x16"])


def test_segformer_baseline_in_the_same_run(capsys):
    pytest.importorskip("transformers")
    model = segformer_baseline("segformer-b0", num_classes=7).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 3, 64, 96)).shape == (2, 7, 64, 96)  # full resolution, like ours
    argv = ["--models", "edaformer_t", "--compare", "segformer-b0", "--size", "64x64", "--classes", "7"]
    assert benchmark_main([*argv, "--repeats", "1", "--warmup", "0", "--no-memory"]) == 0
    rows = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "ms |" not in line
    ]
    assert rows[0].startswith("| segformer-b0 |") and rows[0].endswith("| 1.00× |")
    assert rows[1].startswith("| edaformer_t (train) |") and rows[1].endswith("× |")
