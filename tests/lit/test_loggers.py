"""Loggers: MLflow runs started together on a fresh store; W&B's folders inside the run dir unless the user set
them (the W&B runs of training and of a sweep are checked in tests/cli/test_train_eval.py)."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from edaformer.lit.loggers import WANDB_FOLDERS, keep_wandb_files_in, open_mlflow_run


def _start_mlflow_run(uri: str) -> str:
    from lightning.pytorch.loggers import MLFlowLogger

    try:
        logger = open_mlflow_run(lambda: MLFlowLogger(experiment_name="edaformer", tracking_uri=uri), uri)
        logger.log_metrics({"m": 1.0})
        logger.finalize("success")
    except Exception as err:  # what the parent reports
        return f"{type(err).__name__}: {err}"
    return "ok"


def _default_signal_handlers() -> None:
    """Workers that ``Pool.terminate`` can end, whatever SIGTERM handler an earlier test left in this process."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.slow
def test_mlflow_runs_started_together_on_a_fresh_store(tmp_path):
    """Three processes at once on a store that does not exist yet: each creates its run (without the lock, two of
    them fail creating the tables)."""
    import mlflow

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with multiprocessing.get_context("fork").Pool(3, initializer=_default_signal_handlers) as pool:
        assert pool.map(_start_mlflow_run, [uri] * 3) == ["ok"] * 3
    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("edaformer")
    assert len(client.search_runs([experiment.experiment_id])) == 3


def test_wandb_folders_go_into_the_run_dir_unless_set(tmp_path, monkeypatch):
    for variable in WANDB_FOLDERS:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("WANDB_CACHE_DIR", str(tmp_path / "mine"))
    keep_wandb_files_in(tmp_path / "run")
    assert os.environ["WANDB_CACHE_DIR"] == str(tmp_path / "mine")  # the user's own
    assert os.environ["WANDB_DATA_DIR"] == str(
        tmp_path / "run" / "wandb" / "data"
    )  # staging: <data>/artifacts
    keep_wandb_files_in(tmp_path / "next")  # the next job of a sweep: its own run dir
    assert os.environ["WANDB_ARTIFACT_DIR"] == str(tmp_path / "next" / "wandb" / "artifacts")
