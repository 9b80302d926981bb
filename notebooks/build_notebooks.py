"""Write, run and render the notebooks of this folder.

    python notebooks/build_notebooks.py            # write the notebooks from the cells below (no outputs)
    python notebooks/build_notebooks.py --execute  # ... run them top to bottom, keep their outputs, and render
                                                   # them (text and figures) into docs/notebooks/<name>.md + PNGs

The notebooks are generated so that their code stays reviewable as plain Python: edit here, then re-run with
``--execute`` and commit the notebooks with their outputs and the rendered pages (``make notebooks``).
``tests/test_notebooks.py`` checks that the committed notebooks are these cells, ran, and match their pages.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DOCS = REPO / "docs" / "notebooks"
NAMES = ("01_quickstart", "02_isr_tradeoff", "03_attention_maps")

SETUP = """\
%matplotlib inline
import os
from pathlib import Path

# Runs from the repository root or from notebooks/; outputs go to <repo>/outputs/notebooks/.
REPO = Path.cwd() if (Path.cwd() / "conf").is_dir() else Path.cwd().parent
OUT = Path(os.environ.get("EDAFORMER_NOTEBOOK_OUT", REPO / "outputs" / "notebooks"))
OUT.mkdir(parents=True, exist_ok=True)"""

DEMO_RUN = '''\
import logging
import warnings

from edaformer.results import read_result_rows
from edaformer.workflows.demo import quick_demo_training


def demo_run():
    """The demo training the notebooks share: EDAFormer-T, 40 iterations on the built-in demo data, evaluated
    under four ISR settings (a minute or two on a laptop CPU). The first notebook that needs it trains it; the
    others reuse it. Returns its last checkpoint and its result rows."""
    run_dir = OUT / "demo_run"
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    if not ckpt.is_file():
        logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quick_demo_training(run_dir, max_steps=40, crop=64, batch_size=4, data_dir=OUT / "data")
    return ckpt, read_result_rows([run_dir])'''

DEMO_IMAGES = """\
from edaformer.data import ensure_demo_dataset

root = ensure_demo_dataset(OUT / "data" / "demo", num_train=16, num_val=4)  # the data the demo run trains on
validation = sorted((root / "images" / "validation").glob("*.jpg"))"""


def nb01() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# 01 · Quickstart\n\nBuild EDAFormer-T, count its parameters and GFLOPs (the paper's convention: "
                "multiply-accumulates), switch Inference Spatial Reduction (ISR) on and off, and segment an image "
                "with a model trained on the demo data."
            ),
            new_code_cell(SETUP),
            new_code_cell(
                """\
import torch

from edaformer.flops import count_flops, count_params
from edaformer.models import ISR_PRESETS, create_model
from edaformer.paper import PAPER_GFLOPS

model = create_model("edaformer_t", num_classes=150).eval()
print(f"EDAFormer-T, 150 classes: {count_params(model) / 1e6:.2f} M parameters (paper: 4.9 M)")
print(model.isr)"""
            ),
            new_markdown_cell(
                "## ISR: same weights, fewer GFLOPs\n\nISR raises the key/value pooling ratios of the embedding-free "
                "attention at inference only. Ratios are absolute (encoder s1..s4, decoder c4, c3, c2); the authors' "
                "scripts take multipliers of the training ratios (the paper's setting is encoder ×(2,2,1,1), decoder "
                "×(2,2,2)). GFLOPs are counted from shapes only, so this takes a second."
            ),
            new_code_cell(
                """\
print(f"{'setting':<11} {'ratios':<16} {'ours':>6} {'paper':>6}   (GFLOPs, ADE20K 512x512)")
for name, setting in ISR_PRESETS.items():
    model.set_isr(setting)
    ours = count_flops(model, (3, 512, 512))
    paper = PAPER_GFLOPS[("edaformer_t", name, "ade20k")]
    print(f"{name:<11} {str(setting):<16} {ours:6.2f} {paper:6.1f}")
model.set_isr("train")"""
            ),
            new_code_cell(
                """\
keys = list(model.state_dict())
x = torch.randn(1, 3, 160, 224)  # any size with sides >= 32
with torch.no_grad():
    logits = model(x)
    model.set_isr("paper")
    logits_isr = model(x)
model.set_isr("train")
assert keys == list(model.state_dict())  # ISR changes no weight and no key
print("logits", tuple(logits.shape), "at the input resolution; with ISR", tuple(logits_isr.shape))"""
            ),
            new_markdown_cell(
                "## Segment a demo image\n\nThe demo training workflow (`edaformer.workflows.demo`: the "
                "`edaformer-train` config and code, shrunk to a few iterations of small crops) trains EDAFormer-T on "
                "the built-in demo dataset (6 classes, generated in a second); notebooks 02 and 03 reuse the run. "
                "Its checkpoint segments a validation image with its own test recipe, under the paper's ISR setting. "
                "A run this short learns the coarse layout only: the point is the workflow."
            ),
            new_code_cell(DEMO_RUN),
            new_code_cell(
                DEMO_IMAGES
                + """
from edaformer.evaluation import Segmenter, load_image
from edaformer.viz import prediction_figure

ckpt, rows = demo_run()
segmenter, info = Segmenter.from_checkpoint(ckpt, isr="paper", device="cpu")
image = load_image(validation[0])
label = segmenter.predict(image)
print(info.model_name, "trained on the demo data; classes:", ", ".join(segmenter.classes.names))
print("image", image.shape, "-> network input", segmenter.input_size(*image.shape[:2]), "-> label", label.shape)
prediction_figure(image, label, segmenter.classes.palette, segmenter.classes.names,
                  title=f"{info.model_name} on the demo data, ISR {segmenter.model.isr}")"""
            ),
            new_markdown_cell(
                "From the command line the same runs on files and folders:\n\n"
                "```bash\nedaformer-predict ckpt_path=CKPT inputs=photos/ isr=paper show_legend=true\n```"
            ),
        ]
    )


def nb02() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# 02 · The ISR trade-off\n\nThe demo training of notebook 01 (trained here if that notebook has "
                "not run) evaluated its weights under the paper's four ISR settings at the end; plot accuracy against "
                "GFLOPs and CPU latency. A run this short learns little: the point is the workflow. For the real "
                "trade-off, train fully and sweep with\n\n"
                "```bash\nedaformer-eval -m ckpt_path=CKPT isr=train,dec2x,paper,aggressive\n"
                "edaformer-plot-isr-tradeoff results=outputs/eval/multiruns/<date> latency=true output=isr_tradeoff.png\n```"
            ),
            new_code_cell(SETUP),
            new_code_cell(DEMO_RUN),
            new_code_cell(
                """\
ckpt, rows = demo_run()
print(f"{'setting':<11} {'ratios':<16} {'GFLOPs':>7} {'mIoU %':>7}")
for r in rows:
    print(f"{r.setting:<11} {r.isr:<16} {r.gflops:7.3f} {100 * r.mIoU:7.2f}")"""
            ),
            new_markdown_cell(
                "Latency: one forward pass per setting on this CPU at the evaluation size, the settings timed "
                "interleaved so background load spreads evenly."
            ),
            new_code_cell(
                """\
from edaformer.checkpoints import load_model
from edaformer.tools.timing import measure_latency
from edaformer.viz.tradeoff import tradeoff_figure

model, info = load_model(ckpt)
times = measure_latency(model, [r.isr for r in rows], rows[0].flops_hw, repeats=5)
for r in rows:
    r.latency_ms = times[r.isr]
tradeoff_figure(rows, title=f"{info.model_name} on the demo data ({len(rows)} ISR settings, same weights)")"""
            ),
            new_markdown_cell(
                "The paper's GFLOPs (Table 4) are drawn as reference lines only where the benchmark matches "
                '(ADE20K at 512×512 or Cityscapes at 1024×2048): `tradeoff_figure(rows, reference=("edaformer_t", '
                '"ade20k"))`.'
            ),
        ]
    )


def nb03() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell(
                "# 03 · Attention maps\n\nWhere does a query pixel look? Forward pre-hooks on every "
                "embedding-free attention module record `softmax(q·kᵀ/√d)` over the pooled keys, with the training "
                "ratios and under ISR; the model itself is not modified. The model is the demo training of notebook "
                "01 (trained here if that notebook has not run)."
            ),
            new_code_cell(SETUP),
            new_code_cell(DEMO_RUN),
            new_code_cell(
                """\
from edaformer.evaluation import Segmenter

ckpt, rows = demo_run()
segmenter, info = Segmenter.from_checkpoint(ckpt, device="cpu")
print(info.model_name, info.kind, segmenter.classes.names)"""
            ),
            new_code_cell(
                DEMO_IMAGES
                + """
from edaformer.evaluation import denormalize, load_image
from edaformer.viz import attention_figure, run_with_attention

images = segmenter.preprocess(load_image(validation[1]))  # [1, 3, h, w], resized like the test set
h, w = images.shape[-2:]
point = (0.3 * w, 0.75 * h)  # query pixel (x, y) in network-input pixels
runs = [run_with_attention(segmenter.model, images, point, isr=s) for s in ("train", "paper")]
attention_figure(denormalize(images), point, runs, row_labels=["train ratios", "ISR (paper)"],
                 class_names=segmenter.classes.names, palette=segmenter.classes.palette)"""
            ),
            new_markdown_cell(
                "Each run holds every layer's map (`run.maps`: stage/level, block, query token, pooled grid, "
                "`probs[B, heads, H', W']`). Per head, for the last encoder stage-2 block:"
            ),
            new_code_cell(
                """\
from matplotlib.figure import Figure

from edaformer.viz import draw_attention

m = runs[0].by_level("last")[("encoder", 2)]
fig = Figure(figsize=(3 * m.probs.shape[1], 2.6), layout="constrained")
for i, ax in enumerate(fig.subplots(1, m.probs.shape[1], squeeze=False)[0]):
    single = type(m)(m.layer, m.hw, m.pooled_hw, m.pool_ratio, m.query, m.probs[:, i : i + 1])
    draw_attention(ax, denormalize(images), single, point)
    ax.set_title(f"{m.layer.title}, head {i + 1}", fontsize=9)
    ax.axis("off")
fig"""
            ),
            new_markdown_cell(
                "Command line:\n\n```bash\nedaformer-visualize-attention ckpt_path=CKPT image=IMG point=[120,80] "
                "isr=paper output=attention.png\n```"
            ),
        ]
    )


BUILDERS = {"01_quickstart": nb01, "02_isr_tradeoff": nb02, "03_attention_maps": nb03}


def build(name: str) -> nbformat.NotebookNode:
    """Notebook ``name`` without outputs, with stable cell ids (regenerating gives no diff)."""
    nb = BUILDERS[name]()
    for i, cell in enumerate(nb.cells):
        cell.id = f"{name[:2]}-{i:02d}"
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = 600) -> nbformat.NotebookNode:
    """Run ``nb`` top to bottom in a kernel of this interpreter, from the repository root (outputs kept)."""
    from nbclient import NotebookClient

    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(REPO)}})
    client.execute(env={**os.environ, "PYTHONPATH": path})  # the kernel imports this checkout's package
    return nb


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(nb: nbformat.NotebookNode, name: str, out: Path) -> str:
    """``nb`` as Markdown: its text, its code, what the code printed (stdout; warnings on stderr left out) and
    its figures, written to ``out/<name>_<n>.png``; returns the Markdown (``out/<name>.md`` is the caller's)."""
    parts = [f"<!-- {name}.ipynb as run by notebooks/build_notebooks.py --execute; do not edit -->"]
    figures = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
            continue
        parts.append(f"```python\n{cell.source}\n```")
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if output.output_type == "stream" and output.name == "stdout":
                parts.append(f"```text\n{_ANSI.sub('', output.text).rstrip()}\n```")
            elif "image/png" in data:
                figures += 1
                png = f"{name}_{figures}.png"
                (out / png).write_bytes(base64.b64decode(data["image/png"]))
                parts.append(f"![{name}, figure {figures}]({png})")
            elif "text/plain" in data:
                parts.append(f"```text\n{_ANSI.sub('', data['text/plain']).rstrip()}\n```")
            elif output.output_type == "error":
                parts.append(f"```text\n{output.ename}: {output.evalue}\n```")
    return "\n\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--execute", action="store_true", help="run the notebooks and render them into docs/")
    args = parser.parse_args(argv)
    if args.execute:
        shutil.rmtree(DOCS, ignore_errors=True)
        DOCS.mkdir(parents=True)
    for name in NAMES:
        nb = build(name)
        if args.execute:
            print(f"running {name} ...", file=sys.stderr)
            execute(nb)
            (DOCS / f"{name}.md").write_text(render(nb, name, DOCS))
        nbformat.write(nb, HERE / f"{name}.ipynb")


if __name__ == "__main__":
    main()
