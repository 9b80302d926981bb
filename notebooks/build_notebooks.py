"""Write the notebooks of this folder (outputs empty): ``python notebooks/build_notebooks.py``.

The notebooks are generated so that their code stays reviewable as plain Python; edit here, then re-run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = '''\
%matplotlib inline
import os
from pathlib import Path

# Runs from the repository root or from notebooks/; outputs go to <repo>/outputs/notebooks/.
REPO = Path.cwd() if (Path.cwd() / "conf").is_dir() else Path.cwd().parent
OUT = Path(os.environ.get("EDAFORMER_NOTEBOOK_OUT", REPO / "outputs" / "notebooks"))
OUT.mkdir(parents=True, exist_ok=True)'''

FIND_CKPT = '''\
def demo_checkpoint():
    """A checkpoint trained on the demo data: $EDAFORMER_CKPT, else the one notebook 02 wrote, else None."""
    if os.environ.get("EDAFORMER_CKPT"):
        return Path(os.environ["EDAFORMER_CKPT"])
    found = sorted((OUT / "02_isr_tradeoff" / "checkpoints").glob("*.ckpt"))
    return found[-1] if found else None'''


def nb01() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# 01 · Quickstart\n\nBuild EDAFormer-T, count its parameters and GFLOPs (the paper's convention: "
            "multiply-accumulates), switch Inference Spatial Reduction (ISR) on and off, and segment a demo image."
        ),
        new_code_cell(SETUP),
        new_code_cell(
            "import torch\n\n"
            "from edaformer.flops import count_flops, count_params\n"
            "from edaformer.models import ISR_PRESETS, create_model\n"
            "from edaformer.paper import PAPER_GFLOPS\n\n"
            'model = create_model("edaformer_t", num_classes=150).eval()\n'
            'print(f"EDAFormer-T, 150 classes: {count_params(model) / 1e6:.2f} M parameters (paper: 4.9 M)")\n'
            "print(model.isr)"
        ),
        new_markdown_cell(
            "## ISR: same weights, fewer GFLOPs\n\nISR raises the key/value pooling ratios of the embedding-free "
            "attention at inference only. Ratios are absolute (encoder s1..s4, decoder c4, c3, c2); the authors' "
            "scripts take multipliers of the training ratios (the paper's setting is encoder ×(2,2,1,1), decoder "
            "×(2,2,2)). GFLOPs are counted from shapes only, so this takes a second."
        ),
        new_code_cell(
            'print(f"{\'setting\':<11} {\'ratios\':<16} {\'ours\':>6} {\'paper\':>6}   (GFLOPs, ADE20K 512x512)")\n'
            "for name, setting in ISR_PRESETS.items():\n"
            "    model.set_isr(setting)\n"
            "    ours = count_flops(model, (3, 512, 512))\n"
            '    paper = PAPER_GFLOPS[("edaformer_t", name, "ade20k")]\n'
            '    print(f"{name:<11} {str(setting):<16} {ours:6.2f} {paper:6.1f}")\n'
            'model.set_isr("train")'
        ),
        new_code_cell(
            "keys = list(model.state_dict())\n"
            "x = torch.randn(1, 3, 160, 224)  # any size with sides >= 32\n"
            "with torch.no_grad():\n"
            "    logits = model(x)\n"
            '    model.set_isr("paper")\n'
            "    logits_isr = model(x)\n"
            'model.set_isr("train")\n'
            "assert keys == list(model.state_dict())  # ISR changes no weight and no key\n"
            'print("logits", tuple(logits.shape), "at the input resolution; with ISR", tuple(logits_isr.shape))'
        ),
        new_markdown_cell(
            "## Segment a demo image\n\nThe built-in demo dataset (6 classes, generated in a second) provides the "
            "image. With a checkpoint trained on it (`$EDAFORMER_CKPT`, or the one notebook 02 writes) the "
            "prediction is meaningful; otherwise a randomly initialised 6-class model shows the mechanics."
        ),
        new_code_cell(
            "from edaformer.data import DEMO_CLASSES, ensure_demo_dataset\n"
            "from edaformer.evaluation import Segmenter, load_image, resolve_classes\n"
            "from edaformer.viz import prediction_figure\n\n"
            + FIND_CKPT
            + "\n\n"
            'root = ensure_demo_dataset(OUT / "data" / "demo", num_train=16, num_val=4)  # the data notebook 02 trains on\n'
            'image = load_image(sorted((root / "images" / "validation").glob("*.jpg"))[0])\n'
            "ckpt = demo_checkpoint()\n"
            "if ckpt is not None:\n"
            '    segmenter, info = Segmenter.from_checkpoint(ckpt, isr="paper", device="cpu")\n'
            "else:\n"
            '    net = create_model("edaformer_t", num_classes=len(DEMO_CLASSES), isr="paper")\n'
            '    segmenter = Segmenter.build(net, resolve_classes(len(DEMO_CLASSES), class_names=DEMO_CLASSES), device="cpu")\n'
            "label = segmenter.predict(image)\n"
            'print("image", image.shape, "-> network input", segmenter.input_size(*image.shape[:2]), "-> label", label.shape)\n'
            "prediction_figure(image, label, segmenter.classes.palette, segmenter.classes.names,\n"
            '                  title=f"EDAFormer-T, ISR {segmenter.model.isr}" + ("" if ckpt else " (random weights)"))'
        ),
        new_markdown_cell(
            "From the command line the same runs on files and folders:\n\n"
            "```bash\nedaformer-predict ckpt_path=CKPT inputs=photos/ isr=paper show_legend=true\n```"
        ),
    ]
    return new_notebook(cells=cells)


def nb02() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# 02 · The ISR trade-off\n\nTrain EDAFormer-T briefly on the demo data (the same config and code "
            "as `edaformer-train` (`python train.py`), shrunk to a few iterations of small crops), evaluate the same weights under the "
            "paper's four ISR settings, and plot accuracy against GFLOPs and CPU latency. A run this short "
            "learns little: the point is the workflow. For the real trade-off, train fully and sweep with\n\n"
            "```bash\nedaformer-eval -m ckpt_path=CKPT isr=train,dec2x,paper,aggressive\n"
            "edaformer-plot-isr-tradeoff results=outputs/eval/multiruns/<date> latency=true output=isr_tradeoff.png\n```"
        ),
        new_code_cell(SETUP),
        new_code_cell(
            "import logging\n\n"
            "from edaformer.workflows.demo import quick_demo_training\n\n"
            'logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)\n'
            'run = quick_demo_training(OUT / "02_isr_tradeoff", max_steps=20, crop=64, batch_size=4,\n'
            '                          data_dir=OUT / "data")\n'
            "rows = run.rows\n"
            'print("checkpoint:", run.ckpt_path)'
        ),
        new_code_cell(
            'print(f"{\'setting\':<11} {\'ratios\':<16} {\'GFLOPs\':>7} {\'mIoU %\':>7}")\n'
            "for r in rows:\n"
            '    print(f"{r.setting:<11} {r.isr:<16} {r.gflops:7.3f} {100 * r.mIoU:7.2f}")'
        ),
        new_markdown_cell(
            "Latency: one forward pass per setting on this CPU at the evaluation size, the settings timed "
            "interleaved so background load spreads evenly."
        ),
        new_code_cell(
            "from edaformer.checkpoints import load_model\n"
            "from edaformer.tools.timing import measure_latency\n"
            "from edaformer.viz.tradeoff import tradeoff_figure\n\n"
            "model, info = load_model(run.ckpt_path)\n"
            "times = measure_latency(model, [r.isr for r in rows], rows[0].flops_hw, repeats=5)\n"
            "for r in rows:\n"
            "    r.latency_ms = times[r.isr]\n"
            'tradeoff_figure(rows, title=f"EDAFormer-T on the demo data ({len(rows)} ISR settings, same weights)")'
        ),
        new_markdown_cell(
            "The paper's GFLOPs (Table 4) are drawn as reference lines only where the benchmark matches "
            "(ADE20K at 512×512 or Cityscapes at 1024×2048): `tradeoff_figure(rows, reference=(\"edaformer_t\", "
            "\"ade20k\"))`."
        ),
    ]
    return new_notebook(cells=cells)


def nb03() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# 03 · Attention maps\n\nWhere does a query pixel look? Forward pre-hooks on every "
            "embedding-free attention module record `softmax(q·kᵀ/√d)` over the pooled keys, with the training "
            "ratios and under ISR; the model itself is not modified. Uses `$EDAFORMER_CKPT` or notebook 02's "
            "checkpoint, and trains briefly when neither exists."
        ),
        new_code_cell(SETUP),
        new_code_cell(
            "from edaformer.evaluation import Segmenter, load_image\n"
            "from edaformer.workflows.demo import quick_demo_training\n\n"
            + FIND_CKPT
            + "\n\n"
            "ckpt = demo_checkpoint()\n"
            "if ckpt is None:\n"
            '    ckpt = quick_demo_training(OUT / "03_attention", max_steps=10, crop=64, isr=["train"],\n'
            '                               data_dir=OUT / "data").ckpt_path\n'
            'segmenter, info = Segmenter.from_checkpoint(ckpt, device="cpu")\n'
            'print(info.model_name, info.kind, segmenter.classes.names)'
        ),
        new_code_cell(
            "from edaformer.data import ensure_demo_dataset\n"
            "from edaformer.evaluation import denormalize\n"
            "from edaformer.viz import attention_figure, run_with_attention\n\n"
            'root = ensure_demo_dataset(OUT / "data" / "demo", num_train=16, num_val=4)  # the data notebook 02 trains on\n'
            'image = load_image(sorted((root / "images" / "validation").glob("*.jpg"))[1])\n'
            "images = segmenter.preprocess(image)  # [1, 3, h, w], resized like the test set\n"
            "h, w = images.shape[-2:]\n"
            "point = (0.3 * w, 0.75 * h)  # query pixel (x, y) in network-input pixels\n"
            'runs = [run_with_attention(segmenter.model, images, point, isr=s) for s in ("train", "paper")]\n'
            "attention_figure(denormalize(images), point, runs, row_labels=[\"train ratios\", \"ISR (paper)\"],\n"
            "                 class_names=segmenter.classes.names, palette=segmenter.classes.palette)"
        ),
        new_markdown_cell(
            "Each run holds every layer's map (`run.maps`: stage/level, block, query token, pooled grid, "
            "`probs[B, heads, H', W']`). Per head, for the last encoder stage-2 block:"
        ),
        new_code_cell(
            "from matplotlib.figure import Figure\n\n"
            "from edaformer.viz import draw_attention\n\n"
            'm = runs[0].by_level("last")[("encoder", 2)]\n'
            "fig = Figure(figsize=(3 * m.probs.shape[1], 2.6), layout=\"constrained\")\n"
            "for i, ax in enumerate(fig.subplots(1, m.probs.shape[1], squeeze=False)[0]):\n"
            "    single = type(m)(m.layer, m.hw, m.pooled_hw, m.pool_ratio, m.query, m.probs[:, i : i + 1])\n"
            "    draw_attention(ax, denormalize(images), single, point)\n"
            '    ax.set_title(f"{m.layer.title}, head {i + 1}", fontsize=9)\n'
            "    ax.axis(\"off\")\n"
            "fig"
        ),
        new_markdown_cell(
            "Command line:\n\n```bash\nedaformer-visualize-attention ckpt_path=CKPT image=IMG point=[120,80] "
            "isr=paper output=attention.png\n```"
        ),
    ]
    return new_notebook(cells=cells)


def main() -> None:
    for name, build in (("01_quickstart", nb01), ("02_isr_tradeoff", nb02), ("03_attention_maps", nb03)):
        nb = build()
        for i, cell in enumerate(nb.cells):
            cell.id = f"{name[:2]}-{i:02d}"  # stable ids: regenerating gives no diff
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nbformat.validate(nb)
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
