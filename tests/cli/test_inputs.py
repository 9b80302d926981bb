"""What users type before a run starts: value ranges, ``~`` in paths, outputs that already exist, names too long
for the file system. Each mistake is one ``error:`` line and exit status 2, before any work."""

from __future__ import annotations

import re

import pytest
import yaml
from omegaconf import OmegaConf

from edaformer.cli import check_dataset, complexity, export, train
from edaformer.config.checks import check_ranges
from edaformer.config.overrides import readable_overrides
from edaformer.config.paths import expand_home_paths
from edaformer.errors import UserError
from edaformer.files import check_new_files
from tests.conftest import run_main

from .helpers import one_error_line


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh directory and home: runs land in ``tmp_path/outputs``, ``~`` is ``tmp_path/home``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EDAFORMER_LOG_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("EDAFORMER_DATA", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture(scope="module")
def train_config():
    """``conf/train.yaml`` on the mini model, composed once for the range checks."""
    from edaformer.config import compose

    return compose("train", ["model=edaformer_mini", "paths.output_dir=unused"])


@pytest.mark.parametrize(
    "value",
    [
        "data.batch_size=0",
        "data.num_workers=-1",
        "model.optimizer.lr=-1",
        "model.optimizer.lr=0",
        "data.crop_size=[7,7]",
        "trainer.val_check_interval=0",
        "trainer.val_check_interval=-0.5",
    ],
)
def test_a_training_value_out_of_range_is_named(value, train_config):
    key, text = value.split("=")
    cfg = train_config.copy()
    OmegaConf.update(cfg, key, yaml.safe_load(text))
    with pytest.raises(UserError, match=re.escape(key)):
        check_ranges(cfg, "train")
    check_ranges(train_config, "train")  # the defaults pass


@pytest.mark.slow
@pytest.mark.parametrize("value", ["data.batch_size=0"])
def test_a_bad_value_stops_training_before_any_work(value, workdir, capsys):
    status = run_main(train.main, "model=edaformer_mini", value)
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and value.split("=")[0] in line, line
    assert not (workdir / "data").exists()  # before any work: the demo data was not even generated


@pytest.mark.slow
def test_home_is_expanded_in_every_path_argument(workdir, capsys):
    status = run_main(check_dataset.main, "data=custom", "data.root=~/tiles", "data.class_names=[a,b]")
    assert status == 1 and f"{workdir / 'home' / 'tiles'} does not exist" in capsys.readouterr().out
    status = run_main(export.main, "paths.log_dir=~/logs", "formats=[]")  # a run dir, then a mistake
    assert status == 2
    assert (workdir / "home" / "logs" / "export" / "runs").is_dir() and not (workdir / "~").exists()


def test_home_in_overrides_and_config_values(workdir):
    home = str(workdir / "home")
    assert readable_overrides(["data.root=~/x", "+k=~", "~data.root", "a=b", "c='~/q'"]) == [
        f"data.root='{home}/x'",
        f"+k='{home}'",
        "~data.root",  # Hydra's deletion of a key
        "a=b",
        "c='~/q'",  # quoted: expanded in the composed config
    ]
    cfg = OmegaConf.create({"a": "~/x", "b": ["~/y", "z~"], "c": "${a}", "hydra": {"run": "~/h"}})
    expand_home_paths(cfg)
    assert cfg.a == cfg.c == f"{home}/x" and list(cfg.b) == [f"{home}/y", "z~"] and cfg.hydra.run == "~/h"


@pytest.mark.slow
def test_an_existing_export_file_or_run_dir_is_not_overwritten(workdir, capsys):
    target = workdir / "model.onnx"
    target.write_bytes(b"keep")
    status = run_main(export.main, "model=edaformer_mini", "formats=[onnx]", f"output={target}")
    assert status == 2 and "overwrite=true" in one_error_line(capsys.readouterr().err)
    assert target.read_bytes() == b"keep"
    run = workdir / "run"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"keep")
    status = run_main(train.main, "model=edaformer_mini", f"hydra.run.dir={run}")
    assert status == 2 and "overwrite=true" in one_error_line(capsys.readouterr().err)
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == b"keep" and not (workdir / "data").exists()


def test_a_name_too_long_for_the_file_system_is_refused_before_writing(tmp_path):
    with pytest.raises(UserError, match="inputs"):
        check_new_files([tmp_path / ("x" * 250 + "_overlay.png")], overwrite=False, key="inputs")
    (tmp_path / "a.png").write_bytes(b"")
    with pytest.raises(UserError, match="a.png"):
        check_new_files([tmp_path / "a.png"], overwrite=False, key="output")
    check_new_files([tmp_path / "a.png", tmp_path / ("x" * 200)], overwrite=True, key="output")


@pytest.mark.slow
def test_an_isr_setting_in_text_form_is_read_as_one(capsys):
    assert readable_overrides(["isr=16,8,2,1-2,4,8", "isr='16,8,2,1'", "isr=paper"]) == [
        "isr.encoder=[16,8,2,1]",
        "isr.decoder=[2,4,8]",
        "isr.encoder=[16,8,2,1]",
        "isr=paper",
    ]
    status = run_main(complexity.main, "model=edaformer_mini", "isr='16,0,2,1-2,4,8'")
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and "isr" in line and "#2" in line, line  # read as a setting, then checked


@pytest.mark.slow
def test_no_split_to_check_is_one_line(capsys):
    assert run_main(check_dataset.main, "splits=[]") == 2
    assert "splits=[]" in one_error_line(capsys.readouterr().err)
