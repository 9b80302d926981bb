"""The paper's Tables 1 and 4 (GFLOPs) and the params of every model, reproduced by counting shapes."""

from __future__ import annotations

import time

import pytest
import torch

from edaformer.cli.complexity import main as complexity_main
from edaformer.data.benchmarks import BENCHMARKS
from edaformer.flops import count_flops, count_params
from edaformer.models import create_model
from edaformer.paper import PAPER_GFLOPS, PAPER_PARAMS, as_printed
from tests.conftest import run_main


@pytest.mark.slow
@pytest.mark.parametrize(("name", "preset", "dataset"), list(PAPER_GFLOPS))
def test_every_paper_gflops_cell(name, preset, dataset):
    bench = BENCHMARKS[dataset]
    with torch.device("meta"):
        model = create_model(name, num_classes=bench.num_classes, isr=preset)
    ours = count_flops(model, (3, *bench.eval_size))
    paper = PAPER_GFLOPS[(name, preset, dataset)]
    assert as_printed(ours) == paper, f"{ours:.3f} vs paper {paper}"  # the paper prints one decimal


@pytest.mark.parametrize("name", list(PAPER_PARAMS))
def test_params_and_classifier_gflops(name):
    paper_m, classes, paper_g = PAPER_PARAMS[name]
    with torch.device("meta"):  # shapes only: counting needs no values
        model = create_model(name, num_classes=classes)
    assert as_printed(count_params(model) / 1e6) == paper_m
    if paper_g is not None:
        assert as_printed(count_flops(model, (3, 224, 224))) == paper_g


def test_isr_changes_flops_not_params_or_output_shape():
    model = create_model("edaformer_mini", num_classes=150)
    params = count_params(model)
    flops = {}
    for preset in ("train", "dec2x", "paper", "aggressive"):
        model.set_isr(preset)
        flops[preset] = count_flops(model, (3, 256, 256))
        assert count_params(model) == params
        with torch.no_grad():
            assert model.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 150, 64, 64)
    assert flops["train"] > flops["dec2x"] > flops["paper"] > flops["aggressive"]


@pytest.mark.slow
def test_counting_leaves_model_untouched_and_is_fast(paper_model):
    model = paper_model("edaformer_b")
    before = model.encoder.stages[0].blocks[0].attn.kv_proj.weight.clone()
    start = time.perf_counter()
    count_flops(model, (3, 1024, 2048))
    assert time.perf_counter() - start < 10  # shape-only counting: no real kernels
    assert model.encoder.stages[0].blocks[0].attn.kv_proj.weight.device.type == "cpu"
    assert torch.equal(model.encoder.stages[0].blocks[0].attn.kv_proj.weight, before)


def test_attention_products_formula():
    # one EFA layer: 2·N·N'·C for N = 16·16 tokens, s = 2, C = 256 → plus pooling (numel), conv and linear MACs
    from edaformer.models import EmbeddingFreeAttention

    class Wrap(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = EmbeddingFreeAttention(256, 8, pool_ratio=2)

        def forward(self, x):
            return self.attn(x.flatten(2).transpose(1, 2), (16, 16))

    n, c = 256, 256
    expected = 2 * n * (n / 4) * c + n * c + (c * c * 64 + c * 64) + n * c * c
    assert count_flops(Wrap(), (256, 16, 16)) * 1e9 == pytest.approx(expected)


@pytest.mark.slow
def test_complexity_cli_single_and_table(capsys):
    args = [
        "model=edaformer_t",
        "num_classes=150",
        "size=[512,512]",
        "isr.encoder=[16,8,2,1]",
        "isr.decoder=[2,4,8]",
    ]
    assert run_main(complexity_main, *args) == 0
    single = capsys.readouterr().out
    assert "4,929,914" in single and "GFLOPs: 4.71" in single  # the paper's EDAFormer-T under ISR
    assert run_main(complexity_main, "table=paper") == 0  # exit 0: every cell matches the paper as printed
    table = capsys.readouterr().out
    assert table.count("| edaformer_") == 16 + 2 and "✗" not in table
    assert run_main(complexity_main, "isr.encoder=[16,0,2,1]") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "0" in err[0]


def test_complexity_of_a_modified_model_config(capsys):
    """A factory argument added to the model config reaches the count: a wider decoder costs more."""
    gflops = {}
    args = ["model=edaformer_mini", "size=[256,256]"]
    for embed in (32, 256):
        assert run_main(complexity_main, *args, f"+model.net.embed_dim={embed}") == 0
        gflops[embed] = float(capsys.readouterr().out.split("GFLOPs: ")[1].split()[0])
    assert gflops[256] > gflops[32] > 0


def test_attention_table_is_table_3(capsys):
    """SA vs SRA vs EFA on stage 3 of a 224×224 input (14×14 tokens): params and MACs by the stated convention."""
    from edaformer.tools.attention_cost import attention_costs

    c, n = 128, 14 * 14  # EDAFormer-T / EFT-T stage 3
    sa, sra, sra4, efa, efa_isr = attention_costs(c, 4, (14, 14), train_ratio=2, isr_ratio=4)
    assert sa.params == 4 * c * c + 4 * c and efa.params == efa_isr.params == 2 * c * c + 2 * c
    assert sa.gflops * 1e9 == pytest.approx(4 * n * c * c + 2 * n * n * c)  # q, k, v, out + the products
    assert sra.keys == efa.keys == 49 and sra4.params > sra.params  # SRA at 4 needs another conv: new weights
    assert sa.gflops > sra.gflops > efa.gflops > efa_isr.gflops
    assert run_main(complexity_main, "table=attention") == 0
    out = capsys.readouterr().out
    assert (
        "| EFA (ours) | 4×4 avg pool (ISR: same weights) | 9 | 33.0 |" in out and "Counting convention" in out
    )
