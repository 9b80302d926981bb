"""``edaformer-browse-dataset``: samples after the augmentation pipeline, mask overlaid, legend, overview."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from edaformer.cli.browse_dataset import main as browse_main
from tests.conftest import run_main


@pytest.mark.slow
def test_training_samples_after_the_pipeline(tmp_path, capsys):
    out = tmp_path / "browse"
    data = [f"paths.data_dir={tmp_path}", "data.num_train=16", "data.num_val=4", "data.crop_size=[64,64]"]
    args = [*data, "n=5", "columns=2", f"output_dir={out}", f"hydra.run.dir={tmp_path / 'run'}"]
    assert run_main(browse_main, *args) == 0
    assert "5 train samples of DemoDataModule" in capsys.readouterr().out
    samples = sorted(out.glob("sample_*.png"))
    assert len(samples) == 5 and samples[0].name.startswith("sample_000_ADE_train_")
    panel = np.asarray(Image.open(samples[0]))
    assert panel.shape[0] == 64 and panel.shape[1] > 128  # the 64x64 crop, its overlay, the legend
    overview = np.asarray(Image.open(out / "overview.png"))
    assert overview.shape[0] == 3 * 64 + 2 * 4  # 5 samples, 2 per row
    # the same seed draws the same samples with the same augmentations
    again = tmp_path / "again"
    assert run_main(browse_main, *args[:-2], f"output_dir={again}", f"hydra.run.dir={tmp_path / 'run2'}") == 0
    assert np.array_equal(np.asarray(Image.open(again / samples[0].name)), panel)
    # validation samples at the label's resolution
    val = tmp_path / "val"
    assert (
        run_main(
            browse_main, *data, "split=val", "n=2", f"output_dir={val}", f"hydra.run.dir={tmp_path / 'r3'}"
        )
        == 0
    )
    assert len(list(val.glob("sample_*_ADE_val_*.png"))) == 2
