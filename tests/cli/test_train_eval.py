"""End to end through the CLI: train (W&B offline), evaluate, ISR sweep → table, errors, DDP, resume."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from edaformer.cli.isr_table import main as isr_table_main
from edaformer.data.demo import DEMO_CLASSES
from edaformer.models import ISR_PRESETS, create_model
from tests.conftest import run_main

from .helpers import run, tiny, tiny_ade20k, tiny_paper_recipe


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, data_dir) -> Path:
    """A 4-step EDAFormer-T run on tiny demo data with logger=wandb (offline)."""
    run_dir = tmp_path_factory.mktemp("train")
    proc = run("train.py", [*tiny(data_dir, run_dir), "logger=wandb"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    return run_dir


@pytest.mark.slow
def test_train_outputs_and_final_isr_evaluation(trained):
    ckpts = sorted(p.name for p in (trained / "checkpoints").glob("*.ckpt"))
    assert "last.ckpt" in ckpts and "best_step000004.ckpt" in ckpts
    assert not list((trained / "checkpoints").glob("*.tmp"))
    assert (trained / ".hydra" / "config.yaml").is_file() and (trained / "config_resolved.yaml").is_file()
    metrics_csv = (trained / "csv" / "metrics.csv").read_text()
    assert "train/loss" in metrics_csv and "val/mIoU" in metrics_csv and "lr-AdamW" in metrics_csv
    results = json.loads((trained / "isr_results.json").read_text())["results"]
    assert [r["setting"] for r in results] == ["train", "paper"]
    assert results[1]["gflops"] < results[0]["gflops"]  # same weights, fewer FLOPs
    assert results[0]["params"] == results[1]["params"]
    assert all(0.0 <= r["mIoU"] <= 1.0 for r in results)
    assert (trained / "per_class_paper.md").read_text().count("|") > 20
    # W&B offline run directory with the logged history
    runs = list((trained / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("run-*.wandb"))


@pytest.mark.slow
def test_checkpoint_is_plain_and_loadable(trained):
    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    hp = ckpt["hyper_parameters"]
    assert hp["model_name"] == "edaformer_t" and hp["num_classes"] == 6
    assert all(k.startswith("net.") for k in ckpt["state_dict"])
    assert "RestoreRNGState" in str(ckpt["callbacks"].keys())
    from edaformer.checkpoints import load_model

    model, info = load_model(trained / "checkpoints" / "last.ckpt")
    assert info.kind == "lightning" and info.model_name == "edaformer_t" and info.num_classes == 6


@pytest.mark.slow
def test_isr_sweep_and_table(trained, data_dir, tmp_path):
    ckpt = trained / "checkpoints" / "last.ckpt"
    args = [
        f"paths.data_dir={data_dir}",
        f"hydra.sweep.dir={tmp_path}",
        "data.num_train=16",
        "data.num_val=4",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "flops_size=[512,512]",
        "trainer.accelerator=cpu",
    ]
    proc = run("eval.py", ["-m", f"ckpt_path={ckpt}", "isr=train,dec2x,paper,aggressive", *args])
    assert proc.returncode == 0, proc.stderr[-4000:]
    rows = [json.loads(p.read_text())["results"][0] for p in sorted(tmp_path.rglob("results.json"))]
    assert {r["isr"] for r in rows} == {str(s) for s in ISR_PRESETS.values()}
    gflops = {r["setting"]: r["gflops"] for r in rows}
    # EDAFormer-T at 512x512 with 6 classes: the paper's Table 4 ordering (5.6 > 5.3 > 4.7 > 4.1 at 150 classes)
    assert gflops["train"] > gflops["dec2x"] > gflops["paper"] > gflops["aggressive"]
    assert gflops["paper"] == pytest.approx(4.7, abs=0.1)
    assert run_main(isr_table_main, f"sweep_dir={tmp_path}") == 0
    table = (tmp_path / "isr_table.md").read_text()
    assert (
        table.count("\n") == 6 and "| paper | 16,8,2,1-2,4,8 | 8,4,2,1-1,2,4 |" in table and "+0.0 %" in table
    )
    assert (
        (tmp_path / "isr_table.csv")
        .read_text()
        .startswith("setting,isr,train_isr,params_M,gflops,delta_gflops_pct,mIoU")
    )
    assert (tmp_path / "isr_table.png").stat().st_size > 1000


@pytest.mark.slow
def test_eval_multi_scale_flip_as_the_authors(trained, data_dir, tmp_path):
    """eval.py tta=true: the dataset yields original images and each ratio is resized as the authors do."""
    args = [
        f"ckpt_path={trained / 'checkpoints' / 'last.ckpt'}",
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={tmp_path}",
        "data.num_train=16",
        "data.num_val=4",
        "data.num_workers=0",
        "data.persistent_workers=false",
        "trainer.accelerator=cpu",
        "tta=true",
        "tta_scales=[0.75,1.25]",
    ]
    proc = run("eval.py", args)
    assert proc.returncode == 0, proc.stderr[-4000:]
    row = json.loads((tmp_path / "results.json").read_text())["results"][0]
    # demo images (~140x160) resized by the val pipeline would differ from their labels and be refused
    assert row["tta"] is True and 0.0 <= row["mIoU"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "args", "message"),
    [
        (
            "train.py",
            ["model=edaformer_x"],
            "error: unknown model 'edaformer_x'; valid: edaformer_b, edaformer_t, eft_b, eft_t",
        ),
        (
            "eval.py",
            ["isr=fast", "ckpt_path=x"],
            "error: unknown isr 'fast'; valid: aggressive, dec2x, own, paper, train",
        ),
        (
            "eval.py",
            ["ckpt_path=/nonexistent/last.ckpt"],
            "error: ckpt_path does not exist: /nonexistent/last.ckpt",
        ),
        (
            "train.py",
            ["ckpt_path=/nonexistent/last.ckpt"],
            "error: ckpt_path does not exist: /nonexistent/last.ckpt",
        ),
        (
            "train.py",
            ["model=edaformer_t", "data=ade20k", "trainer.devices=1"],
            "error: model.pretrained=... is required: the paper recipes start from the ImageNet-pretrained EFT "
            "encoder, as the authors' (EFT_T.pth / EFT_B.pth, an eft_* checkpoint of edaformer-train or a hub folder / "
            "repo id): model.pretrained=PATH; to train from scratch on purpose, model.pretrained=null",
        ),
        (
            "train.py",
            ["experiment=edaformer_t_ade20k_aggressive_finetune"],
            "error: model.init_from=... is required: fine-tuning starts from a trained segmentation checkpoint "
            "(ours, Lightning .ckpt, the authors' .pth or a hub folder / repo id): model.init_from=PATH",
        ),
    ],
)
def test_bad_arguments_give_one_line_errors(script, args, message, tmp_path):
    proc = run(script, [*args, f"hydra.run.dir={tmp_path}", f"paths.data_dir={tmp_path}"], timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == message, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ddp_cpu_two_gloo_processes(data_dir, tmp_path):
    """Two processes of 4 images reach a global batch of 16 by accumulating 2 batches per optimizer step."""
    args = [
        *tiny(data_dir, tmp_path, steps=2),
        "trainer=ddp_cpu",
        "global_batch=16",
        "trainer.val_check_interval=2",  # optimizer steps: 4 batches
        "final_eval.isr=[train]",
        "logger=csv",
    ]
    proc = run("train.py", args, timeout=400)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in out and "GLOBAL_RANK: 1, MEMBER: 2/2" in out
    line = "global batch 16 = 4 per device x 2 devices x 1 node x 2 accumulation"
    assert proc.stdout.count(line) == 1, out[-4000:]  # printed once, by rank 0
    assert "validation every 2 optimizer steps = 4 batches" in proc.stdout
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()
    ckpt = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 2
    batches = ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"]
    assert batches == 4  # per process: 2 optimizer steps x 2 accumulated batches
    assert json.loads((tmp_path / "isr_results.json").read_text())["results"][0]["setting"] == "train"


@pytest.mark.slow
def test_kill_and_resume_equals_uninterrupted(data_dir, tmp_path):
    """12 steps at once == killed (SIGKILL) at step 6, resumed from the step-4 last.ckpt."""
    common = [
        "trainer.max_steps=12",
        "data.num_workers=1",
        "final_eval.isr=[]",
        "logger=csv",
        "+model.net.drop_path_rate=0.3",
    ]  # drop-path: the RNG state matters
    full, killed = tmp_path / "full", tmp_path / "killed"
    proc = run("train.py", [*tiny(data_dir, full), *common])
    assert proc.returncode == 0, proc.stderr[-4000:]
    proc = run(
        "train.py",
        [
            *tiny(data_dir, killed),
            *common,
            "+callbacks.kill._target_=tests.cli.killer.KillAtStep",
            "+callbacks.kill.step=6",
        ],
    )
    assert proc.returncode != 0  # killed
    last = killed / "checkpoints" / "last.ckpt"
    assert torch.load(last, map_location="cpu", weights_only=True)["global_step"] == 4
    resumed = tmp_path / "resumed"
    proc = run("train.py", [*tiny(data_dir, resumed), *common, f"ckpt_path={last}"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    a = torch.load(full / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    b = torch.load(resumed / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert a["global_step"] == b["global_step"] == 12
    for key, value in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][key], value, rtol=0, atol=0, msg=key)
    exp_a, exp_b = a["optimizer_states"][0]["state"], b["optimizer_states"][0]["state"]
    for idx in exp_a:
        torch.testing.assert_close(exp_b[idx]["exp_avg"], exp_a[idx]["exp_avg"], rtol=0, atol=0)


@pytest.mark.slow
def test_final_evaluation_saves_confusion_matrices_and_logs_them_to_wandb(trained):
    for setting in ("train", "paper"):
        header = (trained / f"confusion_{setting}.csv").read_text().splitlines()[0]
        assert header == "label \\ prediction," + ",".join(DEMO_CLASSES)
        assert (trained / f"confusion_{setting}.png").stat().st_size > 10_000
    media = list((trained / "wandb").glob("offline-run-*/files/media/images/confusion/*.png"))
    assert len(media) == 2, media


@pytest.mark.slow
def test_export_the_best_checkpoint_as_a_hub_folder(trained, tmp_path, capsys):
    """The training run's best checkpoint → hub folder: classes and the run's final results in config and card."""
    from huggingface_hub import ModelCard

    from edaformer.cli.export import main as export_main
    from edaformer.models import EDAFormer

    best = next((trained / "checkpoints").glob("best_*.ckpt"))
    out = tmp_path / "edaformer_t_demo"
    args = [f"ckpt_path={best}", "isr=paper", "formats=[hf]", f"output={out}", f"hydra.run.dir={tmp_path}"]
    assert run_main(export_main, *args) == 0
    config = json.loads((out / "config.json").read_text())
    results = json.loads((trained / "isr_results.json").read_text())["results"]
    assert config["dataset"] == "demo" and config["class_names"] == list(DEMO_CLASSES)
    assert config["input_size"] == [64, 64]  # the run's flops_size
    assert [m["setting"] for m in config["metrics"]] == ["train", "paper"]
    assert config["metrics"][1]["mIoU"] == results[1]["mIoU"]
    card = ModelCard.load(out / "README.md")
    assert f"| `paper` | 16,8,2,1-2,4,8 | {100 * results[1]['mIoU']:.2f} |" in card.text
    assert f"of run `{trained.name}`" in card.text
    model = EDAFormer.from_pretrained(out)
    assert str(model.isr) == "16,8,2,1-2,4,8"


@pytest.mark.slow
def test_global_batch_that_cannot_be_reached_is_one_line(data_dir, tmp_path):
    proc = run("train.py", [*tiny(data_dir, tmp_path), "global_batch=10"], timeout=200)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: global_batch=10 cannot be reached with 4 per device x 1 device x 1 node = 4 per pass: it is not a "
        "multiple; change data.batch_size or trainer.devices, or set global_batch=null"
    )


@pytest.fixture(scope="module")
def ade_recipe_run(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """model=edaformer_t data=ade20k on one CPU device, from scratch on purpose, one optimizer step."""
    ade = tiny_ade20k(tmp_path_factory.mktemp("ade"))
    run_dir = tmp_path_factory.mktemp("ade_run")
    args = [
        *tiny_paper_recipe(ade, run_dir, "model=edaformer_t", "data=ade20k"),
        "model.pretrained=null",
        "final_eval.isr=[]",
    ]
    return ade, run_dir, run("train.py", args)


@pytest.mark.slow
def test_paper_recipe_reaches_its_global_batch_on_one_device(ade_recipe_run):
    _, run_dir, proc = ade_recipe_run
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "global batch 16 = 4 per device x 1 device x 1 node x 4 accumulation" in proc.stdout
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 1
    assert ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"] == 4
    assert ckpt["hyper_parameters"]["pretrained"] is None
    assert ckpt["hyper_parameters"]["train_isr"] == "8,4,2,1-1,2,4"


@pytest.mark.slow
def test_finetune_at_other_ratios_then_eval_and_resume(ade_recipe_run, tmp_path):
    """The starred row's fine-tuning path: start from the standard run's weights (not a resume), train at the
    aggressive ratios, evaluate at its own ratios; resuming it as a standard run is refused."""
    ade, standard, _ = ade_recipe_run
    init = standard / "checkpoints" / "last.ckpt"
    tuned = tmp_path / "tuned"
    args = tiny_paper_recipe(ade, tuned, "experiment=edaformer_t_ade20k_aggressive_finetune")
    proc = run("train.py", [*args, f"model.init_from={init}", "final_eval.isr=[own]"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    n = len(create_model("edaformer_t").state_dict())
    report = f"initialised all {n} tensors from {init} (lightning edaformer_t checkpoint, trained at 8,4,2,1-1,2,4)"
    assert report in proc.stdout + proc.stderr
    ckpt = torch.load(tuned / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == 1  # a new schedule, not the standard run's step
    assert ckpt["hyper_parameters"]["train_isr"] == "16,8,4,2-2,4,8"
    row = json.loads((tuned / "isr_results.json").read_text())["results"][0]
    assert (row["setting"], row["isr"], row["train_isr"]) == (
        "aggressive",
        "16,8,4,2-2,4,8",
        "16,8,4,2-2,4,8",
    )

    evaluated = tmp_path / "eval"
    proc = run("eval.py", [f"ckpt_path={tuned / 'checkpoints' / 'last.ckpt'}", "data=ade20k", f"data.root={ade}",
                           "data.test_scale=[64,48]", "data.num_workers=0", "trainer.accelerator=cpu",
                           "flops_size=[64,64]", f"hydra.run.dir={evaluated}"])  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    row = json.loads((evaluated / "results.json").read_text())["results"][0]
    assert (row["isr"], row["train_isr"]) == ("16,8,4,2-2,4,8", "16,8,4,2-2,4,8")  # eval defaults to own
    assert "| aggressive | 16,8,4,2-2,4,8 | 16,8,4,2-2,4,8 |" in proc.stdout

    resumed = tiny_paper_recipe(ade, tmp_path / "resumed", "model=edaformer_t", "data=ade20k", steps=2)
    proc = run(
        "train.py", [*resumed, "model.pretrained=null", f"ckpt_path={tuned / 'checkpoints' / 'last.ckpt'}"]
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: the checkpoint was trained at ISR ratios 16,8,4,2-2,4,8, this run builds the model at "
        "8,4,2,1-1,2,4: resume with model.train_isr=16,8,4,2-2,4,8"
    )


@pytest.mark.slow
def test_eval_bf16_reports_its_precision_and_close_miou(trained, data_dir, tmp_path):
    """eval.py precision=bf16: bfloat16 weights, metrics as in float32 (within a few points on the tiny run)."""
    rows = {}
    for precision in ("fp32", "bf16"):
        out = tmp_path / precision
        args = [
            f"ckpt_path={trained / 'checkpoints' / 'last.ckpt'}",
            f"paths.data_dir={data_dir}",
            f"hydra.run.dir={out}",
            "data.num_train=16",
            "data.num_val=4",
            "data.num_workers=0",
            "data.persistent_workers=false",
            "trainer.accelerator=cpu",
            f"precision={precision}",
        ]
        proc = run("eval.py", args)
        assert proc.returncode == 0, proc.stderr[-4000:]
        rows[precision] = json.loads((out / "results.json").read_text())["results"][0]
    assert rows["bf16"]["precision"] == "bf16" and rows["bf16"]["compile"] is False
    assert rows["bf16"]["gflops"] == rows["fp32"]["gflops"]  # counted on the float32 network
    assert abs(rows["bf16"]["mIoU"] - rows["fp32"]["mIoU"]) <= 0.05
