"""Benchmark tools and CLI: interleaving, the results table, recipe batches, memory tracking, unfused equivalence,
SegFormer baselines."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from edaformer.cli.benchmark import main as benchmark_main
from edaformer.data.benchmarks import BENCHMARKS
from edaformer.models import EmbeddingFreeAttention, UnfusedEmbeddingFreeAttention, create_model
from edaformer.tools.baselines import count_baseline_flops, segformer_baseline
from edaformer.tools.benchmark import ModelSpec, Result, recipe_batch, results_table, use_unfused_attention
from edaformer.tools.memory import PeakMemory
from edaformer.tools.timing import measure_latency, random_batch, time_interleaved, train_call
from tests.conftest import REPO, run_main


def test_time_interleaved_rotates_order_and_counts_calls():
    order: list[str] = []
    fns = {name: (lambda n=name: order.append(n)) for name in "abc"}
    times = time_interleaved(fns, repeats=3, warmup=2)
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3, "c": 3}
    assert order[:6] == ["a", "a", "b", "b", "c", "c"]  # warm-up, each in turn
    assert order[6:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # one of each per repetition, rotated
    with pytest.raises(ValueError):
        time_interleaved(fns, repeats=0)


def test_measure_latency_times_every_setting_and_keeps_the_models_own():
    model = create_model("edaformer_mini", num_classes=3, isr="paper")
    times = measure_latency(model, ["train", "aggressive"], (64, 64), repeats=2, warmup=0)
    assert set(times) == {"train", "aggressive"} and all(t > 0 for t in times.values())
    assert str(model.isr) == "16,8,2,1-2,4,8" and not model.training


def test_results_table_ratios_and_stats():
    base = Result("segformer-b0", (512, 512), 1, "fp32", "inference", times=[0.3, 0.4, 0.5], baseline=True)
    ours = Result(
        "edaformer_t (paper)", (512, 512), 1, "fp32", "inference", times=[0.2, 0.1, 0.25], gflops=4.7
    )
    ours.memory = PeakMemory("rss", before=100 * 2**20, peak=300 * 2**20)
    other = Result("edaformer_t (paper)", (256, 256), 1, "fp32", "inference", times=[0.1])  # no baseline row
    table = results_table([base, ours, other], baselines=["segformer-b0"])
    rows = {line.split(" | ")[0].strip("| ") + line.split(" | ")[2]: line for line in table.splitlines()[2:]}
    row = rows["edaformer_t (paper)512×512"]
    cells = [c.strip() for c in row.strip("|").split("|")]
    # model, layout, input, batch, prec, GFLOPs, median, min, max, img/s, peak, rise, ratio
    assert cells[5:] == ["4.7", "200.0", "100.0", "250.0", "5.00", "300", "200", "2.00×"]
    assert rows["segformer-b0512×512"].rstrip(" |").endswith("1.00×")
    assert rows["edaformer_t (paper)256×256"].rstrip(" |").endswith("—")


def test_recipe_batch_reads_the_benchmark_table():
    cityscapes = BENCHMARKS["cityscapes"]
    assert recipe_batch("cityscapes", ["segformer-b0", "edaformer_b:compile"]) == (cityscapes.train_crop, 1)
    assert recipe_batch("cityscapes", ["edaformer_t"]) == ((1024, 1024), cityscapes.batch_per_gpu["t"])
    assert recipe_batch("ade20k", ["edaformer_mini"]) == ((512, 512), 4)  # no recipe of its own: T's
    assert recipe_batch("ade20k", ["segformer-b0"]) == ((512, 512), 4)
    with pytest.raises(KeyError):
        recipe_batch("pascal", ["edaformer_t"])


def test_model_spec_parsing():
    assert ModelSpec.parse("edaformer_t:unfused", "paper") == ModelSpec("edaformer_t", "paper", unfused=True)
    assert ModelSpec.parse("edaformer_t:unfused", "paper").label == "edaformer_t unfused (paper)"
    assert ModelSpec.parse("segformer-b2", "paper") == ModelSpec("segformer-b2")  # baselines take no ISR
    fast = ModelSpec.parse("edaformer_t:bf16+compile", "paper")
    assert fast == ModelSpec("edaformer_t", "paper", compile=True, bf16=True)
    assert fast.label == "edaformer_t compile+bf16 (paper)"
    assert ModelSpec.parse("segformer-b0:compile").label == "segformer-b0 compile"
    with pytest.raises(ValueError, match="fast"):
        ModelSpec.parse("edaformer_t:fast")
    with pytest.raises(ValueError, match="unfused"):
        ModelSpec.parse("segformer-b0:unfused")
    with pytest.raises(ValueError, match="edaformer_x"):
        ModelSpec.parse("edaformer_x").build(10)


@pytest.mark.parametrize("isr", ["train", "paper"])
def test_unfused_attention_is_the_same_model(isr):
    fused = create_model("edaformer_mini", num_classes=19, isr=isr).eval()
    unfused = create_model("edaformer_mini", num_classes=19, isr=isr).eval()
    unfused.load_state_dict(fused.state_dict())
    layers = sum(isinstance(m, EmbeddingFreeAttention) for m in fused.modules())
    use_unfused_attention(unfused)
    assert sum(isinstance(m, UnfusedEmbeddingFreeAttention) for m in unfused.modules()) == layers == 4 + 6
    assert list(unfused.state_dict()) == list(fused.state_dict())
    x = torch.randn(1, 3, 64, 96)
    with torch.inference_mode():  # float32 rounding only
        ref = unfused(x)
        torch.testing.assert_close(fused(x), ref, rtol=1e-5, atol=5e-5)
        # channels-last (a runtime option of the benchmark) leaves the values alone too
        cl = fused.to(memory_format=torch.channels_last)
        torch.testing.assert_close(
            cl(x.contiguous(memory_format=torch.channels_last)), ref, rtol=1e-5, atol=5e-5
        )


PEAK_PROBE = """
import torch
from edaformer.tools.memory import reset_peak_rss, track_peak_memory

if not reset_peak_rss():
    print("unsupported")
else:
    with track_peak_memory(torch.device("cpu")) as mem:
        block = torch.ones(48 * 2**20 // 4)  # 48 MiB, touched
        del block
    print(mem.kind, mem.exact, mem.before, mem.peak, mem.rise)
"""


@pytest.mark.slow
def test_peak_memory_tracks_an_allocation():
    """Measured in a fresh interpreter: what earlier tests left in this process (glibc's heap and thresholds,
    ``malloc_cache=true`` above all) may serve a 48 MiB block from memory that is already resident."""
    proc = subprocess.run([sys.executable, "-c", PEAK_PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    if proc.stdout.strip() == "unsupported":
        pytest.skip("this kernel cannot reset the peak resident set")
    kind, exact, before, peak, rise = proc.stdout.split()
    assert kind == "rss" and exact == "True"
    assert int(rise) >= 40 * 2**20
    assert int(peak) >= int(before) + int(rise)


def test_train_call_updates_weights():
    model = create_model("edaformer_mini", num_classes=5)
    images, labels = random_batch(1, (64, 64), 5, torch.device("cpu"))
    assert (labels == 255).any() and labels.max() == 255
    before = model.decode_head.classifier.weight.detach().clone()
    loss = train_call(model, images, labels)()
    assert torch.isfinite(loss) and model.training
    assert not torch.equal(before, model.decode_head.classifier.weight)


@pytest.mark.slow
def test_cli_interleaved_run_writes_table_and_json(tmp_path, capsys):
    models = "models=[edaformer_mini,edaformer_mini:unfused+bf16]"
    args = [models, "isr_settings=[train,paper]", "sizes=[[64,96]]", "repeats=2", "warmup=1"]
    args += [f"threads={torch.get_num_threads()}", f"hydra.run.dir={tmp_path}"]
    assert run_main(benchmark_main, *args) == 0
    table = capsys.readouterr().out
    for label in ("edaformer_mini (train)", "edaformer_mini (paper)", "edaformer_mini unfused+bf16 (paper)"):
        assert f"| {label} | channels_last | 64×96 | 1 | fp32 |" in table
    payload = json.loads((tmp_path / "benchmark.json").read_text())
    assert len(payload["results"]) == 4
    assert all(len(r["times"]) == 2 and r["memory"]["peak"] > 0 for r in payload["results"])
    gflops = {r["label"]: r["gflops"] for r in payload["results"]}
    assert gflops["edaformer_mini (paper)"] < gflops["edaformer_mini (train)"]
    assert payload["header"].startswith(f"`edaformer-benchmark {models}")
    assert (tmp_path / "benchmark.md").read_text().count("| edaformer_mini") == 4


@pytest.mark.slow
def test_cli_train_mode_uses_the_recipe_batch(tmp_path, capsys):
    args = [
        "train=true",
        "models=[edaformer_mini]",
        "sizes=[[64,64]]",
        "repeats=1",
        "warmup=0",
        "memory=false",
    ]
    args += ["dataset=cityscapes", "memory_formats=[contiguous]", f"hydra.run.dir={tmp_path}"]
    assert run_main(benchmark_main, *args) == 0
    table = capsys.readouterr().out
    batch = BENCHMARKS["cityscapes"].batch_per_gpu["t"]
    assert (
        f"| edaformer_mini | contiguous | 64×64 | {batch} | fp32 |" in table
    )  # Cityscapes' recipe, T's batch


@pytest.mark.parametrize(
    ("arg", "key"),
    [
        ("compare=[edaformer_b]", "edaformer_b"),
        ("sizes=[[16,16]]", "sizes"),
        ("sizes=[64,64]", "sizes"),
        ("isr_settings=[fast]", "fast"),
        ("precisions=[fp8]", "fp8"),
        ("isr=paper", "isr"),
    ],
)
def test_cli_rejects_bad_options(arg, key, tmp_path, capsys):
    assert run_main(benchmark_main, arg, "repeats=1", f"hydra.run.dir={tmp_path}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and key in err[0], err


@pytest.mark.slow
def test_cli_malloc_cache_in_its_own_process(tmp_path):
    """``malloc_cache=true`` changes glibc's thresholds for the whole process: run it in a subprocess so that the
    peak-memory measurements of other tests (a fresh 48 MiB block must raise the resident set) stay valid."""
    args = ["models=[edaformer_mini]", "sizes=[[64,64]]", "repeats=1", "warmup=0", "malloc_cache=true"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "benchmark.py"), *args, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    header = json.loads((tmp_path / "benchmark.json").read_text())["header"]
    assert header.endswith("malloc cache on") or "malloc cache" not in header  # absent only without glibc


@pytest.mark.slow
def test_segformer_baseline_in_the_same_run(tmp_path, capsys):
    pytest.importorskip("transformers")
    model = segformer_baseline("segformer-b0", num_classes=7).eval()
    with torch.inference_mode():
        assert model(torch.randn(2, 3, 64, 96)).shape == (2, 7, 64, 96)  # full resolution, like ours
    args = ["models=[edaformer_mini]", "compare=[segformer-b0]", "sizes=[[64,64]]", "num_classes=7"]
    args += ["repeats=1", "warmup=0", "memory=false", f"hydra.run.dir={tmp_path}"]
    assert run_main(benchmark_main, *args) == 0
    rows = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("| ") and "ms |" not in line
    ]
    assert rows[0].startswith("| segformer-b0 |") and rows[0].endswith("| 1.00× |")
    assert rows[1].startswith("| edaformer_mini (train) |") and rows[1].endswith("× |")
    assert rows[0].split(" | ")[5] != "—"  # the baseline's GFLOPs filled in
    with torch.device("meta"):  # the paper's unit: SegFormer-B0, ADE20K, 512×512 = 8.4 GFLOPs
        b0 = segformer_baseline("segformer-b0", num_classes=150).eval()
    assert round(count_baseline_flops(b0, (3, 512, 512)), 1) == 8.4


@pytest.mark.slow
def test_labels_output_times_predict_and_the_baselines_argmax():
    pytest.importorskip("transformers")
    images = torch.randn(1, 3, 64, 96)
    ours = ModelSpec.parse("edaformer_mini", "paper").build(7, output="labels")
    baseline = ModelSpec.parse("segformer-b0").build(7, output="labels")
    with torch.inference_mode():
        labels = ours(images)
        assert labels.shape == (1, 64, 96) and labels.dtype == torch.int64
        assert torch.equal(labels, ours.model(images).argmax(1))
        full = segformer_baseline("segformer-b0", num_classes=7)
        full.load_state_dict(baseline.state_dict())
        assert torch.equal(baseline(images), full.eval()(images).argmax(1))
