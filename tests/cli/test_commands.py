"""Every ``edaformer-*`` command as users call it: installed as a console script, ``--help``, one-line errors with
exit status 2 naming the key, no run dir for the commands that write no results, and the user's own config folder
through Hydra's search path.

Commands run in this process (:func:`tests.conftest.run_main`): composing a config costs milliseconds, while a
process costs seconds of imports; only the console-script smoke test starts processes.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

from edaformer.config import CONF_DIR, register
from edaformer.data import ensure_demo_dataset
from tests.conftest import REPO, run_main

from .helpers import one_error_line

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def command(script: str):
    module, _, function = SCRIPTS[script].partition(":")
    return getattr(importlib.import_module(module), function)


def config_name(script: str) -> str:
    return SCRIPTS[script].split(":")[0].rsplit(".", 1)[-1]


def test_every_user_command_is_installed():
    required = {
        "edaformer-train",
        "edaformer-eval",
        "edaformer-predict",
        "edaformer-export",
        "edaformer-benchmark",
        "edaformer-complexity",
        "edaformer-check-dataset",
        "edaformer-browse-dataset",
        "edaformer-isr-table",
        "edaformer-visualize-attention",
        "edaformer-isr-search",
    }
    assert required <= set(SCRIPTS)
    # each command has its own primary config, and scripts/ (or train.py / eval.py) keeps a thin wrapper
    for target in SCRIPTS.values():
        name = target.split(":")[0].rsplit(".", 1)[-1]
        assert (REPO / "conf" / f"{name}.yaml").is_file(), name
        wrapper = REPO / f"{name}.py" if name in ("train", "eval") else None
        wrappers = [wrapper] if wrapper else list((REPO / "scripts").glob("*.py"))
        assert any(f"from {target.split(':')[0]} import main" in w.read_text() for w in wrappers), name


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_header_describes_the_command(script):
    """What ``--help`` prints first: the command's description, its usage and examples (``hydra.help.header``)."""
    register()
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        header = compose(config_name(script), return_hydra_config=True).hydra.help.header
    assert header.startswith(f"{script}: ") and f"Usage: {script}" in header and "Example" in header


@pytest.mark.slow
@pytest.mark.parametrize("script", ["edaformer-train", "edaformer-complexity"])
def test_help_lists_the_groups_and_the_arguments(script, capsys):
    assert run_main(command(script), "--help") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{script}: ")  # the command's own description first
    assert "== Config groups" in out and "== Arguments" in out
    assert "task_name:" in out  # the composed config: every argument with its default
    assert "$" not in out.split("== Arguments")[0]  # Hydra's template placeholders all filled


BAD = [  # one bad value per command -> what its one error line names
    ("edaformer-train", ["model=edaformer_x"], ["edaformer_x", "edaformer_mini"]),
    ("edaformer-eval", ["isr=fast", "ckpt_path=x"], ["fast", "paper"]),
    ("edaformer-predict", ["ckpt_path=x", "inputs=y", "save=[jpeg]"], ["save", "jpeg"]),
    ("edaformer-export", ["formats=[tflite]"], ["formats", "tflite", "onnx"]),
    ("edaformer-benchmark", ["precisions=[fp8]"], ["precisions", "fp8", "bf16"]),
    ("edaformer-benchmark-data", ["workers=[-1]"], ["workers=[-1]"]),
    ("edaformer-gpu-check", ["device=tpu"], ["device=tpu", "cuda"]),
    ("edaformer-profile", ["memory_format=nhwc"], ["memory_format=nhwc", "channels_last"]),
    ("edaformer-complexity", ["size=abc"], ["size=abc"]),
    ("edaformer-check-dataset", ["data=pascal"], ["pascal", "ade20k"]),
    ("edaformer-browse-dataset", ["split=training"], ["split=training", "train"]),
    ("edaformer-isr-table", ["sweep_dir=/nonexistent"], ["sweep_dir=/nonexistent"]),
    ("edaformer-plot-isr-tradeoff", ["results=x", "reference=both"], ["reference=both"]),
    ("edaformer-visualize-attention", ["ckpt_path=/no.pth", "image=y"], ["ckpt_path", "/no.pth"]),
    ("edaformer-convert", ["output=x.pt"], ["ckpt_path="]),
    (
        "edaformer-isr-search",
        ["ckpt_path=x", "budget.gflops=4.5", "budget.fraction=0.8"],
        ["budget.fraction=0.8"],
    ),
    ("edaformer-prepare-cityscapes", ["nproc=0"], ["nproc=0"]),
    ("edaformer-prepare-coco-stuff", ["data.root=/nonexistent"], ["/nonexistent/annotations/train2017"]),
]


def test_every_command_has_a_bad_value_case():
    assert {script for script, _, _ in BAD} == set(SCRIPTS)


@pytest.mark.parametrize(("script", "args", "named"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_is_one_line_and_exit_status_2(script, args, named, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDAFORMER_LOG_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("EDAFORMER_DATA", str(tmp_path / "data"))
    status = run_main(command(script), *args)
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and all(word in line for word in named), line


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["foo=1"], ["foo"]),  # a key the command does not have
        (["seed=1"], ["seed"]),  # a key of another command
        (["size=[512,"], ["size=[512,"]),  # an override Hydra cannot parse
        (["size=512,1024"], ["size=512,1024"]),  # a sweep without -m
        (["size=[512,512]", "isr.encoder=[16,0,2,1]"], ["isr", "#2"]),
        (["data=ade20k"], ["data"]),  # a config group this command does not use
        (["num_classes=abc"], ["num_classes", "abc"]),
    ],
)
def test_mistakes_in_the_arguments_are_one_line(args, named, capsys):
    status = run_main(command("edaformer-complexity"), *args)
    line = one_error_line(capsys.readouterr().err)
    assert status == 2 and all(word in line for word in named), line


def test_full_hydra_errors_on_request(monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        run_main(command("edaformer-complexity"), "foo=1")


@pytest.mark.slow
def test_tools_leave_no_run_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_main(command("edaformer-complexity"), "model=edaformer_t", "isr=paper") == 0
    assert "GFLOPs: 4.71" in capsys.readouterr().out  # EDAFormer-T with ISR at 512x512: the paper's 4.7
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra/, no log file


def write_user_conf(root: Path, demo_root: Path) -> str:
    """A user's own config folder: a wider EDAFormer-Mini and a small demo dataset, each extending ours."""
    (root / "model").mkdir(parents=True)
    (root / "model" / "edaformer_mini_wide.yaml").write_text(
        "defaults:\n  - edaformer_mini\n  - _self_\n\nnet:\n  embed_dim: 64\n"
    )
    (root / "data").mkdir()
    (root / "data" / "my_demo.yaml").write_text(
        f"defaults:\n  - demo\n  - _self_\n\nroot: {demo_root}\nnum_train: 4\nnum_val: 2\n"
    )
    return f"hydra.searchpath=[file://{root}]"


@pytest.mark.slow
def test_user_config_folder_on_the_search_path(tmp_path, monkeypatch, capsys):
    """hydra.searchpath=[file:///my/conf] adds the user's own model/ and data/ options to every command."""
    monkeypatch.chdir(tmp_path)
    ensure_demo_dataset(tmp_path / "demo", num_train=4, num_val=2)
    searchpath = write_user_conf(tmp_path / "my_conf", tmp_path / "demo")
    complexity = command("edaformer-complexity")
    gflops = {}
    for model in ("edaformer_mini", "edaformer_mini_wide"):
        assert run_main(complexity, searchpath, f"model={model}", "size=[256,256]") == 0
        gflops[model] = float(capsys.readouterr().out.split("GFLOPs: ")[1].split()[0])
    assert gflops["edaformer_mini_wide"] > gflops["edaformer_mini"]  # the user's E=64 reached the network
    assert run_main(command("edaformer-check-dataset"), searchpath, "data=my_demo") == 0
    assert "[train] split 'training': 4 ok, 0 problem(s)" in capsys.readouterr().out
    # a name in neither folder: the error lists the options of both
    assert run_main(complexity, searchpath, "model=edaformer_x") == 2
    assert "edaformer_mini, edaformer_mini_wide" in capsys.readouterr().err


@pytest.mark.slow
def test_every_console_script_runs(tmp_path, capsys):
    """Every ``edaformer-*`` entry point of pyproject.toml loads and reports a mistake as one line with exit status
    2 (in this process: the imports are shared); two installed executables do the same as processes of their own
    (run together), and every executable exists (``tests/test_packaging.py`` runs them from an installed wheel)."""
    for name in sorted(SCRIPTS):
        assert run_main(command(name), "not_an_argument=1") == 2, name
        assert "not_an_argument" in one_error_line(capsys.readouterr().err), name
    scripts = Path(sys.executable).parent
    assert all((scripts / name).is_file() for name in SCRIPTS), sorted(SCRIPTS)
    procs = {
        name: subprocess.Popen(
            [str(scripts / name), "not_an_argument=1"], cwd=tmp_path, stderr=subprocess.PIPE, text=True
        )
        for name in ("edaformer-train", "edaformer-eval")
    }
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2 and "not_an_argument" in one_error_line(err), (name, err)
