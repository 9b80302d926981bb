"""docs/model_zoo.md: every command composes with its command's config, and the tables quote edaformer/paper.py."""

from __future__ import annotations

import re

import pytest
from hydra import initialize_config_dir
from omegaconf import OmegaConf

from edaformer.config import CONF_DIR, compose, register
from edaformer.config.checks import check_ranges
from edaformer.paper import PAPER_GFLOPS, PAPER_MIOU, PAPER_PARAMS
from tests.cli.test_commands import SCRIPTS, config_name
from tests.conftest import REPO

PAGE = (REPO / "docs" / "model_zoo.md").read_text()
COMMANDS = [
    line.split("#")[0].split()
    for block in re.findall(r"```bash\n(.*?)```", PAGE, re.S)
    for line in block.splitlines()
    if line.startswith("edaformer-")
]


def test_the_page_has_a_command_per_row():
    assert len(COMMANDS) == 2 * 6 + 3  # convert + eval for each segmentation row, then the encoders' three


@pytest.fixture(scope="module")
def hydra_context():
    """One Hydra initialisation for the page's commands (``compose`` uses it)."""
    register()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        yield


@pytest.mark.slow
@pytest.mark.usefixtures("hydra_context")
@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words[:3]))
def test_every_command_composes(words):
    script, *args = words
    name = config_name(script) if script in SCRIPTS else pytest.fail(f"{script}: no such command")
    job = [a for a in args if a != "-m"]
    for i, arg in enumerate(
        job
    ):  # a -m sweep: compose its first job; the other values are options of the group
        key, values = arg.split("=", 1)
        first, *others = values.split(",")
        assert all((REPO / "conf" / key / f"{value}.yaml").is_file() for value in others), arg
        job[i] = f"{key}={first}"
    cfg = compose(name, job)  # an unknown key, option or a bad type fails here
    check_ranges(cfg, name)
    for key, value in (a.split("=", 1) for a in job):
        if key not in ("model", "data", "isr"):  # config groups: options, not values
            assert str(OmegaConf.select(cfg, key)) == value


def test_the_tables_quote_the_paper():
    rows = re.findall(
        r"^\| `(edaformer_[tb])` \| `(\w+)` \| .*? \| ([\d.]+) \| (.*?) \| (.*?) \|$", PAGE, re.M
    )
    assert len(rows) == 6
    for model, data, params, gflops, miou in rows:
        assert float(params) == PAPER_PARAMS[model][0]
        expected = [PAPER_GFLOPS.get((model, s, data)) for s in ("train", "paper")]
        assert gflops == ("—" if expected[0] is None else f"{expected[0]} / {expected[1]}")
        assert miou == f"{PAPER_MIOU[(model, 'train', data)]} / {PAPER_MIOU[(model, 'paper', data)]}"
    encoders = re.findall(r"^\| `(eft_[tb])` \| `\w+\.pth` \| ([\d.]+) \| ([\d.]+) \|$", PAGE, re.M)
    assert [(m, float(p), float(g)) for m, p, g in encoders] == [
        (m, PAPER_PARAMS[m][0], PAPER_PARAMS[m][2]) for m in ("eft_t", "eft_b")
    ]
