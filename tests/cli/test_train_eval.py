"""Training and evaluation as users run them: the outputs of a run, evaluation reproducing the final evaluation, an
ISR sweep gathered into Table 4, the paper recipes' global batch, fine-tuning at other ratios, DDP and an exact
resume after a kill. Commands run in this process (:func:`tests.conftest.run_main`) except where the process
boundary is the point (DDP, SIGKILL)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from edaformer.cli.eval import main as eval_main
from edaformer.cli.export import main as export_main
from edaformer.cli.isr_table import main as isr_table_main
from edaformer.cli.train import main as train_main
from edaformer.data.demo import DEMO_CLASSES
from edaformer.models import ISR_PRESETS, create_model
from tests.conftest import run_main
from tests.lit.wandb_records import read_offline_run

from .helpers import (
    QUIET,
    checkpoint_steps,
    one_error_line,
    run,
    tiny,
    tiny_ade20k,
    tiny_eval,
    tiny_paper_recipe,
)


def results(folder: Path, name: str = "results.json") -> list[dict]:
    return json.loads((folder / name).read_text())["results"]


def validated_steps(run_dir: Path) -> list[int]:
    rows = list(csv.DictReader((run_dir / "csv" / "metrics.csv").open()))
    return [int(r["step"]) + 1 for r in rows if r.get("val/mIoU")]


@pytest.mark.slow
def test_train_outputs_and_final_isr_evaluation(trained_run):
    steps = checkpoint_steps(trained_run / "checkpoints")
    best = next(name for name in steps if name.startswith("best_"))
    assert steps["last.ckpt"] == 6 and len(steps) == 2 and steps[best] in (4, 6)
    assert not list((trained_run / "checkpoints").glob(".*"))  # no temporary file left
    assert validated_steps(trained_run) == [4, 6]  # every training ends with a validation
    saved = (trained_run / "config_resolved.yaml").read_text()
    assert "accumulate_grad_batches: 1" in saved and (trained_run / ".hydra" / "config.yaml").is_file()
    header = (trained_run / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"train/loss", "val/mIoU"} <= set(header) and any(h.startswith("lr-AdamW") for h in header)
    train, paper = results(trained_run, "isr_results.json")
    assert (train["setting"], paper["setting"]) == ("train", "paper")
    last = str(trained_run / "checkpoints" / "last.ckpt")  # the authors report the end of the schedule
    assert (train["ckpt"], train["step"]) == (paper["ckpt"], paper["step"]) == (last, 6)
    assert "| last.ckpt (step 6) |" in (trained_run / "isr_results.md").read_text()
    assert (
        paper["gflops"] < train["gflops"] and paper["params"] == train["params"]
    )  # same weights, fewer FLOPs
    assert train["train_isr"] == paper["train_isr"] == str(ISR_PRESETS["train"])
    for row in (train, paper):  # mIoU is the mean of the per-class IoUs of the classes present
        present = [v for v in row["per_class"].values() if v is not None and not math.isnan(v)]
        assert row["mIoU"] == pytest.approx(sum(present) / len(present))
        assert list(row["per_class"]) == list(DEMO_CLASSES)
    table = (trained_run / "per_class_paper.md").read_text()
    assert all(f"| {name} " in table for name in DEMO_CLASSES)
    runs = list((trained_run / "wandb").glob("offline-run-*"))  # W&B offline, no account needed
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))


@pytest.mark.slow
def test_final_evaluation_saves_confusion_matrices_and_logs_them_to_wandb(trained_run):
    row = results(trained_run, "isr_results.json")[0]
    lines = (trained_run / "confusion_train.csv").read_text().splitlines()
    assert lines[0] == "label \\ prediction," + ",".join(DEMO_CLASSES)
    counts = [[int(v) for v in line.split(",")[1:]] for line in lines[1:]]
    diagonal, labelled = sum(counts[k][k] for k in range(6)), sum(map(sum, counts))
    assert row["aAcc"] == pytest.approx(diagonal / labelled)  # the matrix the metrics come from
    assert Image.open(trained_run / "confusion_train.png").size[0] > 300
    media = list((trained_run / "wandb").glob("offline-run-*/files/media/images/confusion/*.png"))
    assert len(media) == 2, media


@pytest.mark.slow
def test_final_evaluation_logs_each_setting_under_its_own_keys(trained_run):
    """W&B (offline): test/<setting>/mIoU and GFLOPs per setting, one table of all settings, the run named; W&B's
    cache and staging folders inside the run dir."""
    (run_dir,) = (trained_run / "wandb").glob("offline-run-*")
    run = read_offline_run(run_dir)
    train, paper = results(trained_run, "isr_results.json")
    for row in (train, paper):
        assert run.summary[f"test/{row['setting']}/mIoU"] == pytest.approx(row["mIoU"])
        assert run.summary[f"test/{row['setting']}/GFLOPs"] == row["gflops"]
    assert "test/mIoU" not in run.summary and run.summary["isr_table/nrows"] == 2
    assert (run.name, run.job_type, run.group, run.exit_code) == ("train_edaformer_mini_demo", "train", "", 0)
    assert run.config["model"]["model_name"] == "edaformer_mini"
    assert {p.name for p in (trained_run / "wandb").iterdir()} >= {"cache", "data"}


@pytest.mark.slow
def test_checkpoint_is_plain_and_loadable(trained_run):
    from edaformer.checkpoints import load_model

    ckpt = torch.load(trained_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    hp = ckpt["hyper_parameters"]
    assert (hp["model_name"], hp["num_classes"], hp["train_isr"]) == ("edaformer_mini", 6, "8,4,2,1-1,2,4")
    assert hp["global_batch"] == 4
    assert all(k.startswith("net.") for k in ckpt["state_dict"])
    assert "RestoreRNGState" in str(ckpt["callbacks"].keys())
    model, info = load_model(trained_run / "checkpoints" / "last.ckpt")
    assert (info.kind, info.model_name, info.num_classes) == ("lightning", "edaformer_mini", 6)


@pytest.mark.slow
def test_eval_reproduces_the_final_evaluation(trained_run, demo_data_dir, tmp_path, capsys):
    """``edaformer-eval`` of the final evaluation's checkpoint under ``paper`` gives the training run's row."""
    final = results(trained_run, "isr_results.json")[1]
    best = final["ckpt"]
    args = [f"ckpt_path={best}", "isr=paper", *tiny_eval(demo_data_dir), f"hydra.run.dir={tmp_path}"]
    assert run_main(eval_main, *args) == 0
    (row,) = results(tmp_path)
    assert row["step"] == final["step"] == 6
    assert row["mIoU"] == pytest.approx(final["mIoU"], abs=1e-9) and row["gflops"] == final["gflops"]
    assert (row["checkpoint_kind"], row["model"], row["ckpt"]) == ("lightning", "edaformer_mini", best)
    assert {"results.csv", "results.md", "per_class_paper.md", "confusion_paper.csv"} <= {
        p.name for p in tmp_path.iterdir()
    }
    assert "| paper | 16,8,2,1-2,4,8 | 8,4,2,1-1,2,4 |" in capsys.readouterr().out


@pytest.mark.slow
def test_eval_bf16_reports_its_precision_and_close_miou(trained_run, demo_data_dir, tmp_path):
    """precision=bf16: bfloat16 weights, GFLOPs counted on the float32 network, mIoU within a few points."""
    rows = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        args = [f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}", *tiny_eval(demo_data_dir)]
        assert run_main(eval_main, *args, f"precision={precision}", f"hydra.run.dir={out}") == 0
        rows[precision] = results(out)[0]
    assert rows["bf16"]["precision"] == "bf16" and rows["bf16"]["compile"] is False
    assert rows["bf16"]["gflops"] == rows["fp32"]["gflops"]
    assert abs(rows["bf16"]["mIoU"] - rows["fp32"]["mIoU"]) <= 0.05


@pytest.mark.slow
def test_eval_multi_scale_flip_as_the_authors(trained_run, demo_data_dir, tmp_path):
    """tta=true: the dataset yields original images and each ratio is resized as the authors do (demo images of
    ~140x160 resized by the validation pipeline would not match their labels and be refused)."""
    args = [f"ckpt_path={trained_run / 'checkpoints' / 'last.ckpt'}", *tiny_eval(demo_data_dir)]
    assert run_main(eval_main, *args, "tta=true", "tta_scales=[0.75,1.25]", f"hydra.run.dir={tmp_path}") == 0
    assert results(tmp_path)[0]["tta"] is True


@pytest.mark.slow
def test_isr_sweep_and_table(trained_run, demo_data_dir, tmp_path, monkeypatch):
    """One W&B run per job of the sweep (offline), grouped by the sweep; the table and its W&B run."""
    ckpt = trained_run / "checkpoints" / "last.ckpt"
    args = ["-m", f"ckpt_path={ckpt}", "isr=train,dec2x,paper,aggressive", *tiny_eval(demo_data_dir)]
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    args += ["flops_size=[512,512]", f"hydra.sweep.dir={tmp_path}"]
    assert run_main(eval_main, *args, "logger=wandb") == 0
    runs = [
        read_offline_run(p) for p in sorted(tmp_path.glob("*/wandb/offline-run-*"))
    ]  # one W&B run per job
    assert [(r.name, r.group, r.config["isr"]["encoder"]) for r in runs] == [
        (f"isr={s}", tmp_path.name, [int(v) for v in str(ISR_PRESETS[s]).split("-")[0].split(",")])
        for s in ("train", "dec2x", "paper", "aggressive")
    ]
    rows = [results(p.parent)[0] for p in sorted(tmp_path.rglob("results.json"))]
    assert {r["isr"] for r in rows} == {str(s) for s in ISR_PRESETS.values()}
    gflops = {r["setting"]: r["gflops"] for r in rows}
    assert gflops["train"] > gflops["dec2x"] > gflops["paper"] > gflops["aggressive"]  # Table 4's order
    assert run_main(isr_table_main, f"sweep_dir={tmp_path}", "wandb=true") == 0
    (table_run,) = (read_offline_run(p) for p in tmp_path.glob("wandb/offline-run-*"))
    assert (table_run.name, table_run.group, table_run.job_type) == (
        f"isr_table_{tmp_path.name}",
        tmp_path.name,
        "isr_table",
    )
    assert "edaformer_mini" in table_run.tags and "isr=train,dec2x,paper,aggressive" in str(table_run.config)
    table = list(csv.DictReader((tmp_path / "isr_table.csv").open()))
    assert [r["setting"] for r in table] == ["train", "dec2x", "paper", "aggressive"]
    assert float(table[0]["delta_gflops_pct"]) == 0.0 and float(table[2]["delta_gflops_pct"]) < 0
    by_setting = {r["setting"]: r for r in rows}
    assert [float(r["mIoU"]) for r in table] == [round(100 * by_setting[s]["mIoU"], 2) for s in gflops]
    assert "| paper | 16,8,2,1-2,4,8 | 8,4,2,1-1,2,4 |" in (tmp_path / "isr_table.md").read_text()
    assert Image.open(tmp_path / "isr_table.png").size[0] > 300


@pytest.mark.slow
def test_export_the_evaluated_checkpoint_as_a_hub_folder(trained_run, tmp_path):
    """The checkpoint the training run evaluated → hub folder: classes and the run's final results in config and
    card, which name the checkpoint and its step."""
    from huggingface_hub import ModelCard

    from edaformer.models import EDAFormer

    evaluated = results(trained_run, "isr_results.json")[0]["ckpt"]
    out = tmp_path / "edaformer_mini_demo"
    args = [
        f"ckpt_path={evaluated}",
        "isr=paper",
        "formats=[hf]",
        f"output={out}",
        f"hydra.run.dir={tmp_path}",
    ]
    assert run_main(export_main, *args) == 0
    config = json.loads((out / "config.json").read_text())
    final = results(trained_run, "isr_results.json")
    assert config["dataset"] == "demo" and config["class_names"] == list(DEMO_CLASSES)
    assert config["input_size"] == [64, 64]  # the run's flops_size
    assert [m["setting"] for m in config["metrics"]] == ["train", "paper"]
    assert config["metrics"][1]["mIoU"] == final[1]["mIoU"]
    assert (config["metrics"][1]["checkpoint"], config["metrics"][1]["step"]) == ("last.ckpt", 6)
    card = ModelCard.load(out / "README.md").text
    assert f"{100 * final[1]['mIoU']:.2f}" in card and f"of run `{trained_run.name}`" in card
    assert "checkpoint `last.ckpt` (step 6)" in card
    assert str(EDAFormer.from_pretrained(out).isr) == "16,8,2,1-2,4,8"


BAD_ARGUMENTS = [  # command, arguments, what the one line names
    (train_main, ["model=edaformer_x"], ["edaformer_x", "edaformer_mini"]),
    (eval_main, ["isr=fast", "ckpt_path=x"], ["fast", "paper"]),
    (eval_main, ["ckpt_path=/nonexistent/last.ckpt"], ["ckpt_path", "/nonexistent/last.ckpt"]),
    (train_main, ["ckpt_path=/nonexistent/last.ckpt"], ["ckpt_path", "/nonexistent/last.ckpt"]),
    (train_main, ["model=edaformer_t", "data=ade20k", "trainer.devices=1"], ["model.pretrained=", "null"]),
    (train_main, ["experiment=edaformer_t_ade20k_aggressive_finetune"], ["model.init_from="]),
    (train_main, ["global_batch=10", "data.batch_size=4"], ["global_batch=10", "4 per device"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("main", "args", "named"), BAD_ARGUMENTS)
def test_bad_arguments_give_one_line_errors(main, args, named, tmp_path, capsys):
    status = run_main(main, *args, f"hydra.run.dir={tmp_path}", f"paths.data_dir={tmp_path}")
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and all(word in line for word in named), line
    assert not (tmp_path / "checkpoints").exists()


@pytest.fixture(scope="module")
def ade_recipe_run(tmp_path_factory) -> tuple[Path, Path]:
    """model=edaformer_t data=ade20k (the paper recipe) on one CPU device, from scratch on purpose, one optimizer step."""
    ade = tiny_ade20k(tmp_path_factory.mktemp("ade"))
    run_dir = tmp_path_factory.mktemp("ade_run")
    args = [
        *tiny_paper_recipe(ade, run_dir, "model=edaformer_t", "data=ade20k"),
        "model.pretrained=null",
        "final_eval.isr=[]",
    ]
    assert run_main(train_main, *args) == 0
    return ade, run_dir


@pytest.mark.slow
def test_paper_recipe_reaches_its_global_batch_on_one_device(ade_recipe_run):
    _, run_dir = ade_recipe_run
    log = (run_dir / "train.log").read_text()
    assert "global batch 16 = 4 per device x 1 device x 1 node x 4 accumulation" in log
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 1
    assert ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"] == 4
    hp = ckpt["hyper_parameters"]
    assert hp["pretrained"] is None and hp["train_isr"] == "8,4,2,1-1,2,4" and hp["global_batch"] == 16


@pytest.mark.slow
def test_finetune_at_other_ratios_then_eval_and_resume(trained_run, demo_data_dir, tmp_path, capsys):
    """The starred row's fine-tuning path (``experiment=edaformer_t_ade20k_aggressive_finetune``, here on the
    mini model and the demo data): start from a standard run's weights (not a resume), train at the aggressive
    ratios, evaluate at its own ratios; resuming it as a standard run is refused."""
    from edaformer.checkpoints import load_model

    init = trained_run / "checkpoints" / "last.ckpt"
    tuned = tmp_path / "tuned"
    experiment = ["experiment=edaformer_t_ade20k_aggressive_finetune", "data=demo", "final_eval.isr=[own]"]
    args = [*tiny(demo_data_dir, tuned, steps=1), *QUIET, *experiment, "trainer.val_check_interval=1"]
    assert run_main(train_main, *args, f"model.init_from={init}") == 0
    n = len(create_model("edaformer_mini").state_dict())
    assert f"initialised all {n} tensors from {init}" in (tuned / "train.log").read_text()
    ckpt = torch.load(tuned / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 1  # a new schedule, not the standard run's step
    assert ckpt["hyper_parameters"]["train_isr"] == "16,8,4,2-2,4,8"
    row = results(tuned, "isr_results.json")[0]
    assert (row["setting"], row["isr"], row["train_isr"]) == (
        "aggressive",
        "16,8,4,2-2,4,8",
        "16,8,4,2-2,4,8",
    )
    started, _ = load_model(init)
    assert not torch.equal(load_model(tuned / "checkpoints" / "last.ckpt")[0].state_dict()["decode_head.fuse.conv.weight"],
                           started.state_dict()["decode_head.fuse.conv.weight"])  # fmt: skip

    evaluated = tmp_path / "eval"
    eval_args = [f"ckpt_path={tuned / 'checkpoints' / 'last.ckpt'}", *tiny_eval(demo_data_dir)]
    assert run_main(eval_main, *eval_args, f"hydra.run.dir={evaluated}") == 0
    row = results(evaluated)[0]
    assert (row["isr"], row["train_isr"]) == ("16,8,4,2-2,4,8", "16,8,4,2-2,4,8")  # eval defaults to own

    capsys.readouterr()
    resumed = [*tiny(demo_data_dir, tmp_path / "resumed", steps=2), *QUIET]
    status = run_main(train_main, *resumed, f"ckpt_path={tuned / 'checkpoints' / 'last.ckpt'}")
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and "16,8,4,2-2,4,8" in line and "model.train_isr=16,8,4,2-2,4,8" in line


@pytest.mark.slow
def test_classification_global_batch_and_lr_scaling(tmp_path, capsys):
    """ImageNet pre-training through edaformer-train: the global batch reached by accumulation, DeiT's linear lr
    rule on it, the final evaluation under ISR settings (top-1 in the rows)."""
    import numpy as np

    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for wnid in ("n01440764", "n01443537"):
            folder = tmp_path / "imagenet" / split / wnid
            folder.mkdir(parents=True)
            for i in range(4):
                Image.fromarray(rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)).save(
                    folder / f"{wnid}_{i}.JPEG"
                )
    run_dir = tmp_path / "run"
    args = ["model=eft_mini", "data=imagenet", f"data.root={tmp_path / 'imagenet'}",
            "data.expected_num_classes=null", "model.num_classes=2", "data.batch_size=4", "data.num_workers=0",
            "data.persistent_workers=false", "global_batch=8", "trainer.accelerator=cpu", "trainer.devices=1",
            "trainer.max_steps=1", "trainer.val_check_interval=1", "monitor=val/top1", "flops_size=[224,224]",
            f"hydra.run.dir={run_dir}", *QUIET]  # fmt: skip
    assert run_main(train_main, *args) == 0
    log = (run_dir / "train.log").read_text()
    assert "global batch 8 = 4 per device x 1 device x 1 node x 2 accumulation" in log
    assert "lr 0.0005 x global batch 8 / 512 = 7.8125e-06" in log
    train, paper = results(run_dir, "isr_results.json")
    assert (train["setting"], paper["setting"]) == ("train", "paper") and "mIoU" not in train
    assert paper["gflops"] < train["gflops"] and 0 <= train["top1"] <= 1


@pytest.mark.slow
def test_ddp_cpu_two_gloo_processes(demo_data_dir, tmp_path):
    """Two processes of 4 images reach a global batch of 16 by accumulating 2 batches per optimizer step; the plan
    and the results come from rank 0 only."""
    args = [*tiny(demo_data_dir, tmp_path, steps=2), "trainer=ddp_cpu", "global_batch=16"]
    args += ["trainer.val_check_interval=2", "final_eval.isr=[train]", *QUIET]  # validation: optimizer steps
    proc = run("train.py", args, timeout=400)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in out and "GLOBAL_RANK: 1, MEMBER: 2/2" in out
    assert proc.stdout.count("global batch 16 = 4 per device x 2 devices x 1 node x 2 accumulation") == 1
    assert "validation every 2 optimizer steps = 4 batches" in proc.stdout
    assert proc.stdout.count("Evaluation on the validation split") == 1
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2
    assert ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"] == 4  # 2 steps x 2
    assert results(tmp_path, "isr_results.json")[0]["setting"] == "train"


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(trained_run, demo_data_dir, tmp_path):
    """The shared 6-step run == killed (SIGKILL, no clean-up) at step 5 and resumed from the last.ckpt of the
    validation at step 4; drop path makes the RNG state matter."""
    killed, resumed = tmp_path / "killed", tmp_path / "resumed"
    common = [*QUIET, "final_eval.isr=[]"]
    kill = ["+callbacks.kill._target_=tests.cli.killer.KillAtStep", "+callbacks.kill.step=5"]
    threads = str(torch.get_num_threads())  # the same arithmetic as the runs in this process
    proc = run("train.py", [*tiny(demo_data_dir, killed, steps=6), *common, *kill], OMP_NUM_THREADS=threads)
    assert proc.returncode != 0  # killed
    last = killed / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 4
    assert run_main(train_main, *tiny(demo_data_dir, resumed, steps=6), *common, f"ckpt_path={last}") == 0
    a = torch.load(trained_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    b = torch.load(resumed / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert a["global_step"] == b["global_step"] == 6
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0, msg=key)
    exp_a, exp_b = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    for idx in exp_a:
        torch.testing.assert_close(exp_b[idx]["exp_avg"], exp_a[idx]["exp_avg"], rtol=0, atol=0)


@pytest.mark.slow
def test_last_ckpt_every_n_steps_between_validations(demo_data_dir, tmp_path):
    """A run that dies at step 5 before any validation keeps the last.ckpt of step 3 (``checkpoint_every_n_steps``),
    and no temporary file."""
    from tests.cli.killer import Crash

    args = [*tiny(demo_data_dir, tmp_path, steps=12), *QUIET, "trainer.val_check_interval=100"]
    args += ["checkpoint_every_n_steps=3", "final_eval.isr=[]"]
    crash = ["+callbacks.crash._target_=tests.cli.killer.CrashAtStep", "+callbacks.crash.step=5"]
    with pytest.raises(Crash):  # not a user's mistake: the traceback is kept
        run_main(train_main, *args, *crash)
    assert checkpoint_steps(tmp_path / "checkpoints") == {"last.ckpt": 3}
    assert not list((tmp_path / "checkpoints").glob(".*"))
