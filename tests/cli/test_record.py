"""The record of an experiment: which checkpoint the final evaluation describes, SyncBN stated at start, sweep job
folders without paths, failed sweep jobs listed (the others still run), no run dir left by an early mistake."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from edaformer.cli.eval import main as eval_main
from edaformer.cli.isr_table import main as isr_table_main
from edaformer.cli.train import main as train_main
from edaformer.config.schemas import FinalEval, final_eval
from edaformer.lit import plan_sync_batchnorm
from edaformer.workflows.final_eval import final_checkpoint
from tests.conftest import run_main

from .helpers import QUIET, tiny, tiny_eval


def run_dirs(log_dir: Path, task: str) -> list[Path]:
    return sorted((log_dir / task / "runs").glob("*")) if (log_dir / task / "runs").is_dir() else []


def test_final_eval_isr_alone_is_a_list_of_one():
    """The schema's reading of ``final_eval``: ``final_eval.isr=paper`` is ``[paper]``; the last checkpoint by
    default."""
    for given, expected in (("paper", ["paper"]), (["own", "16,8,2,1-2,4,8"], ["own", "16,8,2,1-2,4,8"])):
        node = OmegaConf.merge(OmegaConf.structured(FinalEval), {"isr": given})
        settings = final_eval(OmegaConf.create({"final_eval": node}))
        assert settings.isr == expected and str(settings.checkpoint) == "last"
    with pytest.raises(ValidationError):
        OmegaConf.merge(OmegaConf.structured(FinalEval), {"checkpoint": "first"})


@pytest.mark.slow
def test_final_checkpoint_last_or_best(trained_run):
    """``last``: the newest file of the checkpoint callbacks without a monitor; ``best``: the monitored one's."""
    folder = trained_run / "checkpoints"
    best_file, last_file = next(folder.glob("best_*.ckpt")), folder / "last.ckpt"
    best, last, periodic = ModelCheckpoint(monitor="val/mIoU"), ModelCheckpoint(), ModelCheckpoint()
    best.best_model_path, last.best_model_path, periodic.best_model_path = str(best_file), str(last_file), ""
    trainer = SimpleNamespace(callbacks=[best, last, periodic])
    assert final_checkpoint(trainer, "best") == str(best_file)
    assert final_checkpoint(trainer, "last") == str(last_file)
    assert final_checkpoint(SimpleNamespace(callbacks=[]), "last") is None  # the weights in memory
    log = (trained_run / "train.log").read_text()
    assert "SyncBN off, 1 device" in log and "final evaluation (last checkpoint): last.ckpt (step 6)" in log


@pytest.mark.parametrize(
    ("kind", "processes", "requested", "enabled"),
    [("cuda", 4, None, True), ("cuda", 1, None, False), ("cpu", 2, None, False), ("cuda", 8, False, False),
     ("cpu", 1, True, False), ("mps", 1, None, False)],
)  # fmt: skip
def test_sync_batchnorm_whenever_several_gpus(kind, processes, requested, enabled):
    sync = plan_sync_batchnorm(kind, processes, requested)
    assert sync.enabled is enabled and str(sync).startswith("BatchNorm: ")


@pytest.mark.slow
def test_sync_batchnorm_asked_on_cpu_processes_is_refused(demo_data_dir, tmp_path):
    args = [a for a in tiny(demo_data_dir, tmp_path) if not a.startswith("hydra.run.dir=")]
    code = run_main(
        train_main, *args, "trainer=ddp_cpu", "+trainer.sync_batchnorm=true", f"paths.log_dir={tmp_path}"
    )
    assert code == 2 and run_dirs(tmp_path, "train") == []  # refused before any work: no run dir left


@pytest.mark.slow
def test_final_eval_best_needs_a_monitored_checkpoint(demo_data_dir, tmp_path):
    args = [a for a in tiny(demo_data_dir, tmp_path) if not a.startswith("hydra.run.dir=")]
    code = run_main(train_main, *args, *QUIET, "final_eval.checkpoint=best", "callbacks.model_checkpoint.monitor=null",
                    f"paths.log_dir={tmp_path}")  # fmt: skip
    assert code == 2 and run_dirs(tmp_path, "train") == []


@pytest.mark.slow
def test_a_failed_sweep_job_lets_the_others_run_and_is_listed(trained_run, demo_data_dir, tmp_path, capsys):
    """Job 1 fails (a ratio of 0); job 0 runs, the end of the sweep lists job 1 with its error, exit 2; job folders
    name no path (``paths.data_dir=/abs/...``); the ISR table is built from job 0 and says job 1 is missing."""
    ckpt = trained_run / "checkpoints" / "last.ckpt"
    args = ["-m", f"ckpt_path={ckpt}", "isr.encoder=[8,4,2,1],[8,4,2,0]", *tiny_eval(demo_data_dir), *QUIET]
    assert run_main(eval_main, *args, f"hydra.sweep.dir={tmp_path}") == 2
    err = capsys.readouterr().err.strip().splitlines()
    jobs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir())
    assert (
        err[-1].startswith("error: ")
        and "1 of 2" in err[-1]
        and err[-2].startswith(f"failed job {jobs[1]}: ")
    )
    assert jobs == ["0_isr.encoder=_8,4,2,1_", "1_isr.encoder=_8,4,2,0_"]  # the swept key; no path (data_dir)
    assert (tmp_path / jobs[0] / "results.json").is_file() and not (
        tmp_path / jobs[1] / "results.json"
    ).exists()
    assert (tmp_path / jobs[1] / "error.txt").read_text().startswith("error: ")
    assert run_main(isr_table_main, f"sweep_dir={tmp_path}") == 0
    table = (tmp_path / "isr_table.md").read_text()
    assert (
        f"{jobs[1]}: error: " in table and "Checkpoint: last.ckpt (step 6)." in table
    )  # what is missing, and why
    assert len(json.loads((tmp_path / jobs[0] / "results.json").read_text())["results"]) == 1
