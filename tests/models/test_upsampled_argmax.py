"""Labels without full-resolution logits: exact bilinear taps, band-wise evaluation, the class-pruning argmax."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from edaformer.models import create_model
from edaformer.models.upsampled_argmax import (
    DenseScores,
    ScoreMap,
    argmax_labels,
    bilinear_taps,
    first_argmax,
    resize_scores,
    upsample_argmax,
)


def interpolate(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape and a.dtype == b.dtype == torch.int64
    return (a == b).double().mean().item()


def smooth_logits(batch: int, classes: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    """Spatially smooth scores like a network's (few candidates per cell) plus noise (many candidates)."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, classes, max(1, h // 4), max(1, w // 4), generator=gen)
    return 3 * interpolate(coarse, (h, w)) + 0.3 * torch.randn(batch, classes, h, w, generator=gen)


@pytest.mark.parametrize(
    ("n_in", "n_out"),
    [(64, 512), (64, 511), (17, 129), (5, 37), (100, 37), (7, 7), (1, 5), (683, 512), (128, 2048)],
)
def test_taps_are_pytorchs_weights(n_in, n_out):
    # interpolate the identity along one axis: column y of the result holds the weights of output y
    basis = torch.eye(n_in).view(n_in, 1, n_in, 1)
    expected = interpolate(basis, (n_out, 1))[:, 0, :, 0].T  # (n_out, n_in)
    taps = bilinear_taps(n_in, n_out)
    ours = torch.zeros(n_out, n_in)
    ours[torch.arange(n_out), taps.index0] += taps.weight0
    ours[torch.arange(n_out), taps.index1] += taps.weight1
    torch.testing.assert_close(ours, expected, rtol=0, atol=1e-6)
    assert bool((taps.index1 >= taps.index0).all()) and bool((taps.index0[1:] >= taps.index0[:-1]).all())


@pytest.mark.parametrize(
    ("h", "w", "size"), [(5, 12, (37, 91)), (17, 9, (129, 67)), (64, 64, (200, 300)), (30, 20, (29, 41))]
)
def test_band_wise_resize_equals_interpolate(h, w, size):
    logits = smooth_logits(2, 7, h, w)
    expected = interpolate(logits, size)
    scores = resize_scores(logits, size)
    torch.testing.assert_close(scores.dense(), expected, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(scores.rows(3, 11), expected[:, :, 3:11], rtol=1e-6, atol=1e-6)
    # a resize of a resize (evaluation at the label size) is the composition of the two interpolations
    twice = resize_scores(scores, (size[0] + 6, size[1] - 5))
    torch.testing.assert_close(twice.dense(), interpolate(expected, twice.size), rtol=1e-6, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("classes", "h", "w", "size"),
    [
        (150, 5, 12, (37, 91)),
        (171, 17, 9, (129, 67)),
        (150, 16, 12, (129, 91)),
        (19, 40, 30, (301, 211)),
        (150, 32, 40, (256, 320)),
    ],
)
def test_upsample_argmax_agrees_with_dense_argmax(classes, h, w, size):
    for seed, noise_only in ((0, False), (1, True)):
        logits = torch.randn(2, classes, h, w) if noise_only else smooth_logits(2, classes, h, w, seed)
        expected = interpolate(logits, size).argmax(1)
        assert agreement(upsample_argmax(logits, size), expected) >= 0.9999
        assert agreement(argmax_labels(resize_scores(logits, size)), expected) >= 0.9999


def test_ties_go_to_the_first_class_like_argmax():
    # scores in {0, 1} upsampled 8x: every weight is a multiple of 1/16, so all values are exact and ties abound
    gen = torch.Generator().manual_seed(0)
    logits = torch.randint(0, 2, (1, 6, 9, 11), generator=gen).float()
    expected = interpolate(logits, (72, 88)).argmax(1)
    assert torch.equal(upsample_argmax(logits, (72, 88)), expected)


class BandedOnly(ScoreMap):
    """Hides the map's type, so :func:`argmax_labels` takes its general band-by-band path."""

    def __init__(self, scores: ScoreMap) -> None:
        super().__init__(scores.batch, scores.channels, scores.size, scores.device)
        self.scores = scores

    def rows(self, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
        return self.scores.rows(start, stop, out)


def test_band_path_and_small_tiles():
    logits = smooth_logits(1, 150, 9, 13)
    expected = interpolate(logits, (71, 103)).argmax(1)
    for tile in (1, 5000, 1 << 22):
        assert (
            agreement(argmax_labels(BandedOnly(resize_scores(logits, (71, 103))), tile), expected) >= 0.9999
        )
        assert agreement(upsample_argmax(logits, (71, 103), tile), expected) >= 0.9999
    dense = DenseScores(torch.randn(2, 5, 7, 3))
    assert torch.equal(argmax_labels(dense, 20), dense.scores.argmax(1))


def test_first_argmax_matches_argmax():
    x = torch.randint(0, 3, (4, 300, 5)).float()  # many ties, > 256 entries along the reduced dimension
    assert torch.equal(first_argmax(x, 1), x.argmax(1))
    assert torch.equal(first_argmax(x, 0), x.argmax(0))


@pytest.mark.slow
@pytest.mark.parametrize(("classes", "size"), [(150, (37, 91)), (150, (129, 67)), (171, (75, 43))])
def test_model_predict_is_argmax_of_forward(classes, size):
    torch.manual_seed(0)
    model = create_model("edaformer_mini", num_classes=classes).eval()
    images = torch.randn(2, 3, *size)
    with torch.no_grad():
        logits = model(images)
    assert agreement(model.predict(images), logits.argmax(1)) >= 0.9999
    out = (size[0] + 10, size[1] - 7)
    assert agreement(model.predict(images, out_size=out), interpolate(logits, out).argmax(1)) >= 0.9999


def peak_allocated_bytes(fn) -> int:
    """Largest live total of CPU tensor allocations made by ``fn`` (profiler memory events, in time order)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    live = peak = 0
    for event in sorted(prof.events(), key=lambda e: e.time_range.start):
        live += event.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


@pytest.mark.slow
def test_cityscapes_prediction_memory_is_far_below_the_logits():
    logits = smooth_logits(1, 19, 128, 256)  # EDAFormer's 1/8 logits of a 1024×2048 image
    full_logits = 19 * 1024 * 2048 * 4  # 152 MiB
    reference = peak_allocated_bytes(lambda: interpolate(logits, (1024, 2048)).argmax(1))
    assert reference >= full_logits  # the measurement sees the big tensor when there is one
    labels_only = 1024 * 2048 * 8  # the int64 result itself, 16 MiB
    assert peak_allocated_bytes(lambda: upsample_argmax(logits, (1024, 2048))) < labels_only + 16 * 2**20
    twice = resize_scores(resize_scores(logits, (1024, 2048)), (1000, 2000))
    assert peak_allocated_bytes(lambda: argmax_labels(twice)) < labels_only + 16 * 2**20


@pytest.mark.slow
def test_model_predict_memory_at_cityscapes_size_is_far_below_the_logits():
    """A 19-class 1024×2048 ``model.predict``: what it allocates after the network (whose activations are the same
    for ``forward``) stays far below the 152 MiB full-resolution logits that ``forward(x).argmax(1)`` needs."""
    model = create_model("edaformer_mini", num_classes=19).eval()
    images = torch.randn(1, 3, 1024, 2048)
    low_res = smooth_logits(1, 19, 128, 256)  # the network's 1/8 logits
    # the network's own activations are the same for both: what is measured is what predict (or forward +
    # argmax) does with its logits
    model.forward_low_res = lambda x: low_res.clone()
    with torch.no_grad():
        dense = peak_allocated_bytes(lambda: model(images).argmax(1))
        expected = model(images).argmax(1)
    labels = model.predict(images)
    assert agreement(labels, expected) >= 0.9999
    full_logits = 19 * 1024 * 2048 * 4  # 152 MiB
    assert dense >= full_logits
    labels_only = 1024 * 2048 * 8  # the int64 result itself, 16 MiB
    assert peak_allocated_bytes(lambda: model.predict(images)) < labels_only + 16 * 2**20


def test_finite_reports_non_finite_sources_per_image():
    logits = smooth_logits(3, 5, 6, 7)
    logits[1, 2, 3, 4] = float("nan")
    logits[2, 0, 0, 0] = float("inf")
    expected = torch.tensor([True, False, False])
    scores = resize_scores(resize_scores(logits, (45, 51)), (40, 60))
    assert torch.equal(scores.finite(), expected)
    assert torch.equal(BandedOnly(scores).finite(), expected)  # band by band: NaN and inf reach the output
    assert torch.equal(DenseScores(logits).finite(), expected)
