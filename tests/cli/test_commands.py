"""Every ``edaformer-*`` command as users call it: ``--help``, one-line errors with exit status 2, no run dir for
the commands that write no results, and the user's own config folder through Hydra's search path.

Commands run in this process (:func:`tests.conftest.run_main`): composing a config costs milliseconds, while a
subprocess would cost seconds of imports per case.
"""

from __future__ import annotations

import importlib

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest's own dependency
    import tomli as tomllib

from edaformer.data import ensure_demo_dataset
from tests.conftest import REPO, run_main

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


def command(script: str):
    module, _, function = SCRIPTS[script].partition(":")
    return getattr(importlib.import_module(module), function)


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


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_describes_the_command_and_lists_its_arguments(script, capsys):
    assert run_main(command(script), "--help") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{script}: ")  # the command's own description first
    assert f"Usage: {script}" in out and "Example" in out
    assert "== Config groups" in out and "== Arguments" in out
    assert "task_name:" in out  # the composed config: every argument with its default
    assert "$" not in out.split("== Arguments")[0]  # Hydra's template placeholders all filled


BAD = [
    (
        "edaformer-train",
        ["model=edaformer_x"],
        "unknown model 'edaformer_x'; valid: edaformer_b, edaformer_t, eft_b, eft_t",
    ),
    (
        "edaformer-eval",
        ["isr=fast", "ckpt_path=x"],
        "unknown isr 'fast'; valid: aggressive, dec2x, own, paper, train",
    ),
    ("edaformer-predict", ["ckpt_path=x", "inputs=y", "save=[jpeg]"], "save: unknown output ['jpeg']"),
    (
        "edaformer-export",
        ["formats=[tflite]"],
        "formats=tflite: expected one of onnx, torchscript, exported_program",
    ),
    ("edaformer-benchmark", ["precisions=[fp8]"], "precisions=fp8: expected one of fp32, bf16"),
    ("edaformer-benchmark-data", ["workers=[-1]"], "workers=-1: expected an integer >= 0"),
    ("edaformer-gpu-check", ["device=tpu"], "device=tpu: expected one of auto, cuda, cpu"),
    (
        "edaformer-profile",
        ["memory_format=nhwc"],
        "memory_format=nhwc: expected one of contiguous, channels_last",
    ),
    ("edaformer-complexity", ["size=abc"], "size=abc: expected [H,W] in pixels, e.g. size=[512,512]"),
    ("edaformer-check-dataset", ["data=pascal"], "unknown data 'pascal'; valid: ade20k, cityscapes"),
    ("edaformer-browse-dataset", ["split=training"], "split=training: expected one of train, val, test"),
    ("edaformer-isr-table", ["sweep_dir=/nonexistent"], "sweep_dir=/nonexistent: not a directory"),
    (
        "edaformer-plot-isr-tradeoff",
        ["results=x", "reference=both"],
        "reference=both: expected one of auto, none",
    ),
    ("edaformer-visualize-attention", ["ckpt_path=/no.pth", "image=y"], "ckpt_path does not exist: /no.pth"),
    ("edaformer-convert", ["output=x.pt"], "ckpt_path=... is required (see --help)"),
    (
        "edaformer-isr-search",
        ["ckpt_path=x", "budget.gflops=4.5", "budget.fraction=0.8"],
        "give exactly one of budget.gflops=..., budget.latency_ms=..., budget.fraction=... (got budget.gflops=4.5, "
        "budget.fraction=0.8)",
    ),
    ("edaformer-prepare-cityscapes", ["nproc=0"], "nproc=0: expected an integer >= 1"),
    (
        "edaformer-prepare-coco-stuff",
        ["data.root=/nonexistent"],
        "/nonexistent/annotations/train2017 does not exist",
    ),
]


def test_every_command_has_a_bad_value_case():
    assert {script for script, _, _ in BAD} == set(SCRIPTS)


@pytest.mark.slow
@pytest.mark.parametrize(("script", "args", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_value_is_one_line_and_exit_status_2(script, args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDAFORMER_LOG_DIR", str(tmp_path / "outputs"))
    monkeypatch.setenv("EDAFORMER_DATA", str(tmp_path / "data"))
    assert run_main(command(script), *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["foo=1"], "error: Could not override 'foo'. To append to your config use +foo=1"),
        (["size=[512,"], "error: size=[512,: no viable alternative at input '[512,'"),
        (["size=512,1024"], "error: Ambiguous value for argument 'size=512,1024'"),
        (["size=[512,512]", "isr.encoder=[16,0,2,1]"], "error: isr: encoder ISR ratio #2"),
        (["data=ade20k"], "error: data=...: this command has no 'data' argument (see --help)"),
    ],
)
def test_hydra_errors_about_the_arguments_are_one_line(args, message, capsys):
    assert run_main(command("edaformer-complexity"), *args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message), err


def test_full_hydra_errors_on_request(monkeypatch):
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException):
        run_main(command("edaformer-complexity"), "foo=1")


@pytest.mark.slow
def test_tools_leave_no_run_dir(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_main(command("edaformer-complexity"), "model=edaformer_t", "isr=paper") == 0
    assert "GFLOPs: 4.71" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []  # no outputs/, no .hydra/, no log file


def write_user_conf(root, demo_root):
    """A user's own config folder: a wider EDAFormer-T and a small demo dataset, each extending ours."""
    (root / "model").mkdir(parents=True)
    (root / "model" / "edaformer_t_wide.yaml").write_text(
        "defaults:\n  - edaformer_t\n  - _self_\n\nnet:\n  embed_dim: 256\n"
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

    assert run_main(complexity, searchpath, "--help") == 0
    assert "edaformer_t_wide" in capsys.readouterr().out
    gflops = {}
    for model in ("edaformer_t", "edaformer_t_wide"):
        assert run_main(complexity, searchpath, f"model={model}", "size=[256,256]") == 0
        gflops[model] = float(capsys.readouterr().out.split("GFLOPs: ")[1].split()[0])
    assert gflops["edaformer_t_wide"] > gflops["edaformer_t"]  # the user's E=256 reached the network

    assert run_main(command("edaformer-check-dataset"), searchpath, "data=my_demo") == 0
    assert "[train] split 'training': 4 ok, 0 problem(s)" in capsys.readouterr().out
    # a name in neither folder: the error lists the options of both
    assert run_main(complexity, searchpath, "model=edaformer_x") == 2
    assert "edaformer_t, edaformer_t_wide, eft_b" in capsys.readouterr().err
