"""Shared test fixtures and paths."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

# The tests never reach the network: huggingface_hub reads this when first imported (hub folders are local).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Under pytest-xdist (``make test`` runs one worker per core) each worker computes on one thread: two workers with a
# thread per core each would fight over the cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)

REPO = Path(__file__).resolve().parents[1]
REFS = REPO / "tests" / "refs"


# Folders a run would create in the directory it starts from; the suite must leave none in the checkout.
RUN_LITTER = ("outputs", "multirun", "data", "wandb", "lightning_logs", "exports")


@pytest.fixture(autouse=True, scope="session")
def _outputs_stay_in_tmp(tmp_path_factory):
    """Point the default data/log folders of every command (and W&B) at a session temp dir, and fail the session
    if a test still wrote into the checkout (tests write only under ``tmp_path``)."""
    before = {name for name in RUN_LITTER if (REPO / name).exists()}
    root = tmp_path_factory.mktemp("session")
    saved = {k: os.environ.get(k) for k in ("EDAFORMER_LOG_DIR", "EDAFORMER_DATA", "WANDB_DIR")}
    os.environ.update(
        EDAFORMER_LOG_DIR=str(root / "outputs"), EDAFORMER_DATA=str(root / "data"), WANDB_DIR=str(root)
    )
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    litter = sorted(name for name in RUN_LITTER if (REPO / name).exists() and name not in before)
    assert not litter, f"tests wrote into the checkout: {litter} (write under tmp_path)"


@pytest.fixture(autouse=True)
def _deterministic_torch():
    torch.manual_seed(0)
    yield


def official_layout(variant: str) -> dict[str, list[int]]:
    """Key → shape of the authors' EDAFormer-{T,B} checkpoint (150 classes)."""
    return json.loads((REFS / f"official_keys_edaformer_{variant}.json").read_text())


def random_official_state_dict(variant: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict in the authors' layout filled with random values (BN stats positive)."""
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in official_layout(variant).items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            out[key] = torch.randn(shape, generator=gen) * 0.2
    return out


def run_main(main: Callable[[], int], *args: str) -> int:
    """Run a command's ``main`` in this process, as ``edaformer-<command> *args`` would; returns its exit status.

    Hydra reads ``sys.argv``, so it is set for the call. Afterwards the root logger (which Hydra configures) and
    Hydra's current-run config are put back as they were, so later tests see neither.
    """
    from hydra.core.hydra_config import HydraConfig

    root = logging.getLogger()
    argv, handlers, level = sys.argv, root.handlers[:], root.level
    sys.argv = ["edaformer", *args]
    try:
        return main()
    finally:
        sys.argv = argv
        root.handlers[:] = handlers
        root.setLevel(level)
        HydraConfig.instance().cfg = None


PAPER_MODELS = ("edaformer_t", "edaformer_b", "eft_t", "eft_b")


@pytest.fixture(scope="session")
def paper_model() -> Callable[[str], torch.nn.Module]:
    """``paper_model(name)``: one of the paper's models (``edaformer_t`` / ``_b`` at 150 classes, ``eft_t`` / ``_b``
    at 1000), built once per session in eval mode, for the tests that check the paper's numbers or the authors'
    layout. Shared: a test changes its ISR only through ``isr_applied`` and never its weights."""
    from edaformer.models import create_model

    built: dict[str, torch.nn.Module] = {}

    def get(name: str) -> torch.nn.Module:
        if name not in PAPER_MODELS:
            raise ValueError(f"{name} is no model of the paper; tests use edaformer_mini / eft_mini")
        if name not in built:
            torch.manual_seed(0)
            built[name] = create_model(name).eval()
        return built[name]

    return get


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory) -> Path:
    """A ``paths.data_dir`` holding the demo dataset of the seconds-long runs (16 training, 4 validation images),
    generated once for the whole session."""
    from edaformer.data import ensure_demo_dataset

    root = tmp_path_factory.mktemp("demo_data")
    ensure_demo_dataset(root / "demo", num_train=16, num_val=4)
    return root


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, demo_data_dir) -> Path:
    """One training shared by every module that needs a trained model: EDAFormer-Mini on the demo data, 6 steps
    validated at steps 4 and 6, W&B offline (and CSV), evaluated after training under ``train`` and ``paper``."""
    from edaformer.cli.train import main as train_main
    from tests.cli.helpers import QUIET, tiny

    run_dir = tmp_path_factory.mktemp("trained")
    saved = {k: os.environ.get(k) for k in ("WANDB_MODE", "WANDB_SILENT")}
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    try:
        args = [
            *tiny(demo_data_dir, run_dir, steps=6),
            *QUIET,
            "logger=wandb",
            "final_eval.isr=[train,paper]",
        ]
        assert run_main(train_main, *args) == 0
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return run_dir
