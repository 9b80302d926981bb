"""DeiT's ImageNet augmentations: RandAugment rand-m9-mstd0.5-inc1, random erasing, the repeated-augmentation
sampler. (The op outputs were also checked pixel for pixel against timm's own ops: 148 op × magnitude × sign
combinations identical; timm is not a dependency, so the tests pin hand-computed values.)"""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from torch.utils.data.distributed import DistributedSampler

from edaformer.data.imagenet_augment import (
    RAND_AUGMENT_OPS,
    RandAugment,
    RandomErasing,
    apply_op,
    rand_augment_argument,
)
from edaformer.data.sampler import RepeatAugSampler

FILL = (124, 116, 104)


def seeded(op, seed: int = 0):
    op.set_random_state(np.random.default_rng(seed), random.Random(seed))
    return op


def ramp(height: int = 4, width: int = 20) -> np.ndarray:
    return ((np.arange(height * width * 3).reshape(height, width, 3) * 7) % 256).astype(np.uint8)


def test_op_set_is_timms_increasing_set():
    assert RAND_AUGMENT_OPS == (
        "AutoContrast",
        "Equalize",
        "Invert",
        "Rotate",
        "PosterizeIncreasing",
        "SolarizeIncreasing",
        "SolarizeAdd",
        "ColorIncreasing",
        "ContrastIncreasing",
        "BrightnessIncreasing",
        "SharpnessIncreasing",
        "ShearX",
        "ShearY",
        "TranslateXRel",
        "TranslateYRel",
    )


@pytest.mark.parametrize(
    ("name", "plus", "minus"),
    [
        ("Rotate", 27.0, -27.0),  # degrees: 30 · 9/10
        ("ShearX", 0.27, -0.27),
        ("TranslateYRel", 0.405, -0.405),  # fraction of the side: 0.45 · 9/10
        ("ColorIncreasing", 1.81, 0.19),  # 1 ± 0.9 · 9/10
        ("SharpnessIncreasing", 1.81, 0.19),
        ("PosterizeIncreasing", 1, 1),  # bits kept: 4 − int(3.6)
        ("SolarizeIncreasing", 26, 26),  # threshold: 256 − int(230.4)
        ("SolarizeAdd", 99, 99),  # int(110 · 0.9)
        ("Invert", None, None),
    ],
)
def test_arguments_at_magnitude_9(name, plus, minus):
    assert rand_augment_argument(name, 9.0) == pytest.approx(plus)
    assert rand_augment_argument(name, 9.0, negate=True) == pytest.approx(minus)


def test_op_outputs_by_hand():
    img = ramp()
    pil = Image.fromarray(img)

    def run(name: str, magnitude: float = 9.0, negate: bool = False) -> np.ndarray:
        return np.asarray(apply_op(pil, name, rand_augment_argument(name, magnitude, negate), FILL))

    np.testing.assert_array_equal(run("Invert"), 255 - img)
    np.testing.assert_array_equal(run("SolarizeIncreasing"), np.where(img >= 26, 255 - img, img))
    np.testing.assert_array_equal(run("PosterizeIncreasing"), img & 0x80)
    np.testing.assert_array_equal(run("PosterizeIncreasing", 10.0), np.zeros_like(img))  # 0 bits: black
    np.testing.assert_array_equal(
        run("SolarizeAdd"), np.where(img < 128, np.minimum(img.astype(int) + 99, 255), img)
    )
    # translate by 0.45 · 20 = 9 columns, bringing in the ImageNet mean colour
    left = run("TranslateXRel", 10.0)
    np.testing.assert_array_equal(left[:, :11], img[:, 9:])
    assert (left[:, 11:] == FILL).all()
    right = run("TranslateXRel", 10.0, negate=True)
    np.testing.assert_array_equal(right[:, 9:], img[:, :11])
    assert (right[:, :9] == FILL).all()
    np.testing.assert_array_equal(run("Rotate", 0.0), img)
    np.testing.assert_array_equal(run("BrightnessIncreasing", 0.0), img)  # factor 1: unchanged


def test_sampling_statistics_of_rand_m9_mstd05():
    op = seeded(RandAugment())  # DeiT's defaults
    assert (op.num_ops, op.magnitude, op.magnitude_std, op.op_prob, op.fill) == (2, 9.0, 0.5, 0.5, FILL)
    draws = [op.get_params()["chosen"] for _ in range(6000)]
    applied = [c for d in draws for c in d]
    assert len(applied) / (2 * len(draws)) == pytest.approx(0.5, abs=0.02)  # each drawn op with p = 0.5
    counts = {name: sum(n == name for n, _ in applied) for name in RAND_AUGMENT_OPS}
    assert set(counts) == set(RAND_AUGMENT_OPS) and min(counts.values()) > 0.8 * len(applied) / 15
    magnitudes = np.array([abs(a) / 3.0 for n, a in applied if n == "Rotate"])  # |degrees| = 3 · magnitude
    assert magnitudes.max() <= 10.0 and magnitudes.min() > 7.0
    assert magnitudes.mean() == pytest.approx(9.0, abs=0.05) and magnitudes.std() == pytest.approx(
        0.49, abs=0.04
    )
    signs = [a > 0 for n, a in applied if n == "ShearX"]
    assert np.mean(signs) == pytest.approx(0.5, abs=0.1)
    assert any(len(d) == 2 and d[0][0] == d[1][0] for d in draws)  # drawn with replacement


def test_rand_augment_transform_on_an_image():
    img = np.random.default_rng(0).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    op = seeded(RandAugment(op_prob=1.0), seed=1)
    out = op(image=img)["image"]
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)
    again = seeded(RandAugment(op_prob=1.0), seed=1)(image=img)["image"]
    np.testing.assert_array_equal(out, again)  # reproducible from the seeded generators
    with pytest.raises(TypeError, match="before Normalize"):
        RandAugment()(image=img.astype(np.float32))
    with pytest.raises(ValueError, match="unknown RandAugment ops"):
        RandAugment(ops=["Cutout"])


def test_random_erasing_statistics():
    erase = seeded(RandomErasing(p=1.0))
    areas, aspects, values = [], [], []
    for _ in range(400):
        img = np.full((64, 80, 3), 7.0, np.float32)
        out = erase(image=img)["image"]
        box = out[..., 0] != 7.0
        rows, cols = np.where(box)
        h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert box.sum() == h * w  # one rectangle, all channels erased, the rest untouched
        assert (out[box] != 7.0).all() and (out[~box] == 7.0).all()
        areas.append(h * w / (64 * 80))
        aspects.append(h / w)
        values.append(out[box].ravel())
    noise = np.concatenate(values)
    assert noise.mean() == pytest.approx(0.0, abs=0.01) and noise.std() == pytest.approx(1.0, abs=0.01)
    assert (
        min(areas) > 0.015
        and max(areas) < 0.36
        and np.mean(areas) == pytest.approx((0.02 + 1 / 3) / 2, abs=0.02)
    )
    assert min(aspects) > 0.25 and max(aspects) < 1 / 0.25
    assert np.mean(np.log(aspects)) == pytest.approx(0.0, abs=0.1)  # log-uniform, symmetric
    deit = seeded(RandomErasing())  # p = 0.25
    hits = sum((deit(image=np.zeros((32, 32, 3), np.float32))["image"] != 0).any() for _ in range(2000))
    assert hits / 2000 == pytest.approx(0.25, abs=0.03)
    with pytest.raises(TypeError, match="after Normalize"):
        RandomErasing(p=1.0)(image=np.zeros((32, 32, 3), np.uint8))


def test_repeat_aug_sampler_by_hand():
    """5 images, 3 repeats, 2 processes, no shuffling: 0 0 0 1 1 1 2 2 2 3 3 3 4 4 4 (+0 to reach 16), dealt
    round-robin, each process keeping floor(5 / 2) = 2 indices."""
    ranks = [RepeatAugSampler(range(5), 2, r, repeats=3, shuffle=False, round_to=1) for r in (0, 1)]
    assert [list(s) for s in ranks] == [[0, 0], [0, 1]] and len(ranks[0]) == 2
    assert isinstance(ranks[0], DistributedSampler)  # so Lightning keeps it under DDP


def test_repeat_aug_sampler_shards_repeats_and_shuffles():
    size, replicas = 1000, 4
    ranks = [RepeatAugSampler(range(size), replicas, r, repeats=3, seed=7) for r in range(replicas)]
    streams = [list(s) for s in ranks]
    assert [len(s) for s in streams] == [768 // 4] * 4  # 1000 rounded down to 768 (multiple of 256)
    for stream in streams:
        assert len(set(stream)) == len(stream)  # the copies of an image go to different processes
    seen = np.bincount(np.concatenate(streams), minlength=size)
    assert seen.max() == 3 and (seen == 3).sum() == 768 // 3  # ~N/3 distinct images, 3 times each
    for s in ranks:
        s.set_epoch(1)
    shuffled = [list(s) for s in ranks]
    assert shuffled != streams and sorted(map(len, shuffled)) == [192] * 4
    fresh = RepeatAugSampler(range(size), replicas, 2, repeats=3, seed=7)
    fresh.set_epoch(1)
    assert list(fresh) == shuffled[2]  # same seed and epoch, same order (on every process)
    # DeiT's numbers: ImageNet-1k on 8 GPUs, batch 128 each → 1,251 iterations per epoch
    assert len(RepeatAugSampler(range(1_281_167), 8, 0)) // 128 == 1251


def test_imagenet_datamodule_uses_the_trainers_processes(tmp_path):
    from edaformer.data import ImageNetDataModule

    for wnid in ("n01", "n02"):
        (tmp_path / "train" / wnid).mkdir(parents=True)
        for i in range(6):
            Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "train" / wnid / f"{i}.JPEG")
    dm = ImageNetDataModule(tmp_path, expected_num_classes=None, batch_size=2, num_workers=0, seed=3)
    sampler = dm.train_dataloader().sampler
    assert isinstance(sampler, RepeatAugSampler) and (sampler.num_replicas, sampler.rank) == (1, 0)
    assert sampler.repeats == 3 and sampler.seed == 3 and len(sampler) == 12
    dm.trainer = SimpleNamespace(world_size=4, global_rank=2)
    sampler = dm.train_sampler()
    assert (sampler.num_replicas, sampler.rank, len(sampler)) == (4, 2, 3)
