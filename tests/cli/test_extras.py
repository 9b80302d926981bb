"""Optional dependencies (pyproject's extras): a command that needs one that is not installed says in one line which
extra brings it, exit status 2."""

from __future__ import annotations

import sys

import pytest
from hydra.errors import MissingConfigException
from omegaconf import OmegaConf

from edaformer.cli.entry import error_message
from edaformer.cli.isr_search import main as isr_search
from edaformer.errors import MissingExtraError
from edaformer.workflows.components import instantiate_loggers
from tests.conftest import run_main

from .helpers import one_error_line


@pytest.mark.slow
def test_isr_search_without_optuna_names_the_search_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "optuna", None)  # as if not installed: ``import optuna`` fails
    for name in [
        n for n in sys.modules if n.startswith(("edaformer.search", "edaformer.workflows.isr_search"))
    ]:
        monkeypatch.delitem(sys.modules, name)  # imported again by the command, without optuna
    status = run_main(isr_search, f"ckpt_path={tmp_path / 'run.ckpt'}", "budget.gflops=1")
    assert status == 2 and "edaformer[search]" in one_error_line(capsys.readouterr().err)


def test_mlflow_logger_without_mlflow_names_the_mlflow_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    config = OmegaConf.create({"mlflow": {"_target_": "lightning.pytorch.loggers.MLFlowLogger"}})
    try:
        instantiate_loggers(config)
    except MissingExtraError as err:
        assert (err.package, err.extra, err.exit_status) == ("mlflow", "mlflow", 2)
    else:
        raise AssertionError("no MissingExtraError")


def test_submitit_launcher_without_its_plugin_names_the_slurm_extra():
    """Hydra's own error for a launcher option it does not know (the plugin brings the option)."""
    for option in ("submitit_slurm", "submitit_local"):
        err = MissingConfigException("", missing_cfg_file=f"hydra/launcher/{option}", options=["basic"])
        assert "edaformer[slurm]" in error_message(err)
    err = MissingConfigException("", missing_cfg_file="hydra/launcher/other", options=["basic"])
    assert "edaformer[" not in error_message(err)
