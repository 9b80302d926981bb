"""The lightning-hydra-template tooling: the debug= group, MLflow, the submitit launcher (local) fanning an ISR
sweep out as jobs — composed, and run on the tiny demo data."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from edaformer.cli.eval import main as eval_main
from edaformer.cli.isr_table import main as isr_table_main
from edaformer.cli.train import main as train_main
from edaformer.config import compose
from edaformer.data.demo import DEMO_CLASSES, DEMO_PALETTE
from edaformer.models import create_model
from tests.conftest import run_main

from .helpers import QUIET, tiny, tiny_eval


def compose_train(*overrides: str):
    return compose("train", overrides)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("fdr", {"fast_dev_run": True}),
        (
            "limit",
            {"max_steps": 20, "limit_train_batches": 4, "limit_val_batches": 2, "limit_test_batches": 2},
        ),
        ("overfit", {"overfit_batches": 2, "max_steps": 200}),
        ("profiler", {"max_steps": 20}),
    ],
)
def test_debug_options_compose(option, expected):
    cfg = compose_train(f"debug={option}", "model=edaformer_t", "data=ade20k")
    assert cfg.task_name == "debug"
    for key, value in expected.items():
        assert cfg.trainer[key] == value, key
    assert cfg.model.model_name == "edaformer_t" and cfg.data.crop_size == [512, 512]  # debug comes on top
    if option in ("limit", "overfit"):
        assert (
            cfg.model.scheduler.warmup_steps == 0 and cfg.model.scheduler.total_steps == cfg.trainer.max_steps
        )
    if option == "profiler":
        assert cfg.trainer.profiler._target_ == "lightning.pytorch.profilers.SimpleProfiler"
    assert compose_train().get("debug") is None and "fast_dev_run" not in compose_train().trainer


def train_losses(run_dir: Path) -> list[float]:
    rows = csv.DictReader((run_dir / "csv" / "metrics.csv").read_text().splitlines())
    return [float(r["train/loss"]) for r in rows if r.get("train/loss")]


@pytest.mark.slow
def test_fast_dev_run(demo_data_dir, tmp_path):
    assert run_main(train_main, *tiny(demo_data_dir, tmp_path), *QUIET, "debug=fdr") == 0
    assert "Running in `fast_dev_run` mode" in (tmp_path / "debug.log").read_text()  # task_name: debug
    assert not list(tmp_path.glob("checkpoints/*.ckpt"))  # fast dev run saves nothing
    rows = json.loads((tmp_path / "isr_results.json").read_text())["results"]
    assert [r["setting"] for r in rows] == ["train", "paper"]


@pytest.mark.slow
def test_overfit_drives_the_loss_down(demo_data_dir, tmp_path):
    args = [*tiny(demo_data_dir, tmp_path), *QUIET, "debug=overfit", "trainer.max_steps=40"]
    assert run_main(train_main, *args, "trainer.val_check_interval=40", "model.optimizer.lr=1e-3") == 0
    losses = train_losses(tmp_path)
    assert len(losses) == 40
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.85 * first, (first, last)
    assert not (tmp_path / "isr_results.json").exists()  # overfitting is not evaluated


@pytest.mark.slow
def test_profiler_report_in_the_run_dir(demo_data_dir, tmp_path):
    args = [*tiny(demo_data_dir, tmp_path), *QUIET, "debug=profiler", "final_eval.isr=[train]"]
    assert run_main(train_main, *args) == 0
    report = (tmp_path / "fit-profiler.txt").read_text()
    assert "run_training_batch" in report and "Mean duration" in report


@pytest.mark.slow
def test_limit_with_mlflow(demo_data_dir, tmp_path):
    """debug=limit trains, validates and evaluates on a few batches; logger=mlflow records it in a local store."""
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    args = [*tiny(demo_data_dir, tmp_path / "run"), *QUIET, "debug=limit", "trainer.max_steps=8"]
    args += ["trainer.val_check_interval=4", "logger=mlflow", f"logger.mlflow.tracking_uri={uri}"]
    assert run_main(train_main, *args) == 0
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("edaformer")
    assert experiment.artifact_location.endswith("/mlflow-artifacts")  # under the log dir, not the cwd
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    found = runs[0]
    assert found.info.run_name == "debug_edaformer_mini_demo" and found.info.status == "FINISHED"
    assert found.data.tags["model"] == "edaformer_mini" and found.data.tags["data"] == "demo"
    assert {"train/loss", "val/mIoU"} <= set(found.data.metrics)
    assert found.data.params["trainer/limit_train_batches"] == "4"
    history = client.get_metric_history(found.info.run_id, "train/loss")
    assert [m.step for m in history] == list(range(8))
    assert (tmp_path / "run" / "csv" / "metrics.csv").is_file()  # CSV next to it


@pytest.mark.slow
def test_submitit_local_launcher_runs_an_isr_sweep(demo_data_dir, tmp_path):
    """``edaformer-eval -m hydra/launcher=submitit_local ... isr=train,paper``: one job per setting, then the table."""
    hub = tmp_path / "edaformer_mini_demo"
    config = {
        "class_names": list(DEMO_CLASSES),
        "palette": [list(c) for c in DEMO_PALETTE],
        "dataset": "demo",
    }
    create_model("edaformer_mini", num_classes=6).save_pretrained(
        hub, config={**config, "input_size": [64, 64]}
    )
    sweep = tmp_path / "sweep"
    args = [
        "-m",
        "hydra/launcher=submitit_local",
        "hydra.launcher.timeout_min=10",
        f"hydra.sweep.dir={sweep}",
        f"ckpt_path={hub}",
        "isr=train,paper",
        *tiny_eval(demo_data_dir),
    ]
    assert run_main(eval_main, *args) == 0
    assert len(list((sweep / ".submitit").glob("*/*_log.out"))) == 2  # two jobs, their logs
    results = sorted(sweep.glob("*/results.json"))
    assert [json.loads(p.read_text())["results"][0]["setting"] for p in results] == ["train", "paper"]
    assert run_main(isr_table_main, f"sweep_dir={sweep}") == 0
    assert "| paper | 16,8,2,1-2,4,8 |" in (sweep / "isr_table.md").read_text()
