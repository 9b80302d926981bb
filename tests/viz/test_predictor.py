from __future__ import annotations

import numpy as np
import pytest

from edaformer.data.demo import DEMO_CLASSES, DEMO_PALETTE
from edaformer.evaluation import Segmenter, resolve_classes

from .conftest import NUM_CLASSES, random_image


def test_resolve_classes_rules():
    assert resolve_classes(150).dataset == "ade20k"
    assert resolve_classes(19).names[0] == "road"
    demo = resolve_classes(6, class_names=DEMO_CLASSES)
    assert demo.dataset == "demo" and demo.palette == list(DEMO_PALETTE)
    other = resolve_classes(4)
    assert other.dataset is None and other.names == ["class 0", "class 1", "class 2", "class 3"]
    assert len(set(other.palette)) == 4
    with pytest.raises(ValueError, match="cityscapes has 19"):
        resolve_classes(150, dataset="cityscapes")
    with pytest.raises(ValueError, match="unknown dataset"):
        resolve_classes(150, dataset="kitti")


@pytest.mark.slow
def test_segmenter_handles_any_size_and_aspect(tiny_model):
    seg = Segmenter.build(tiny_model, resolve_classes(NUM_CLASSES), device="cpu", test_scale=None)
    assert seg.input_size(37, 91) == (64, 96)
    assert seg.input_size(5, 200) == (32, 224)
    for h, w in [(37, 91), (70, 20)]:
        label = seg.predict(random_image(h, w))
        assert label.shape == (h, w) and label.dtype == np.uint8
        assert label.max() < NUM_CLASSES
    ade = Segmenter.build(tiny_model, resolve_classes(150), device="cpu")
    assert ade.test_scale == (2048, 512) and ade.input_size(512, 683) == (512, 704)
    city = Segmenter.build(tiny_model, resolve_classes(19), device="cpu")
    assert city.inference.mode == "slide" and city.input_size(1024, 2048) == (1024, 2048)


@pytest.mark.slow
def test_from_checkpoint_applies_isr(tiny_ckpt):
    seg, info = Segmenter.from_checkpoint(tiny_ckpt, isr="paper", device="cpu", test_scale=None)
    assert info.kind == "ours" and str(seg.model.isr) == "16,8,2,1-2,4,8"
    assert seg.classes.names[0] == "class 0"


@pytest.mark.slow
def test_authors_checkpoint_gets_ade20k_classes_and_recipe(tmp_path):
    import torch

    from ..conftest import random_official_state_dict

    path = tmp_path / "edaformer_t_ade20k_official.pth"
    torch.save({"meta": {}, "state_dict": random_official_state_dict("t")}, path)
    seg, info = Segmenter.from_checkpoint(path, isr="paper", device="cpu", test_scale=None)
    assert info.kind == "official" and seg.classes.dataset == "ade20k" and seg.classes.names[2] == "sky"
    label = seg.predict(random_image(40, 52))
    assert label.shape == (40, 52) and label.max() < 150


@pytest.mark.slow
def test_segmenter_multi_scale_resizes_the_original_per_ratio(tiny_model):
    """predict scales=[...]: the photo itself goes to the inference, which applies the authors' per-ratio sizes."""
    seg = Segmenter.build(
        tiny_model,
        resolve_classes(NUM_CLASSES),
        device="cpu",
        test_scale=(256, 64),
        scales=(0.75, 1.25),
        flip=True,
    )
    assert seg.inference.test_scale == (256, 64) and seg.inference.size_divisor == 32
    assert seg.preprocess(random_image(64, 85)).shape == (1, 3, 64, 85)  # not resized: TTA does it
    sizes = []
    hook = seg.model.encoder.register_forward_pre_hook(
        lambda _m, args: sizes.append(tuple(args[0].shape[-2:]))
    )
    label = seg.predict(random_image(64, 85))
    hook.remove()
    # 0.75: bound (192, 48) → 48x64 → 64x64; 1.25: bound (320, 80) → 80x106 → 96x128; each with its flip
    assert sizes == [(64, 64), (64, 64), (96, 128), (96, 128)] and label.shape == (64, 85)
    single = Segmenter.build(tiny_model, resolve_classes(NUM_CLASSES), device="cpu", test_scale=(256, 64))
    assert single.preprocess(random_image(64, 85)).shape == (1, 3, 64, 96)


@pytest.mark.slow
def test_the_one_liner_examples_run_as_written(tmp_path):
    """The module docstring of ``edaformer.evaluation.segmenter`` (README's first screen): its lines run with
    ``weights`` a hub folder of a 3-class model and ``photo`` a 120x160 JPEG."""
    import doctest

    from PIL import Image

    import edaformer.evaluation.segmenter as module
    from edaformer.models import create_model

    weights = tmp_path / "shapes_model"
    create_model("edaformer_mini", num_classes=3).save_pretrained(
        weights, config={"class_names": ["background", "red", "blue"]}
    )
    photo = tmp_path / "photo.jpg"
    Image.fromarray(random_image(120, 160)).save(photo)
    result = doctest.testmod(module, extraglobs={"weights": str(weights), "photo": str(photo)}, verbose=False)
    assert result.attempted >= 5 and result.failed == 0


@pytest.mark.slow
def test_segmenter_takes_paths_pil_images_and_arrays_and_refuses_nan(tiny_ckpt, tiny_model, tmp_path):
    import torch
    from PIL import Image

    from edaformer.errors import NonFiniteError

    seg = Segmenter.from_pretrained(tiny_ckpt, device="cpu", test_scale=None)
    image = random_image(40, 52)
    Image.fromarray(image).save(tmp_path / "a.png")
    expected = seg.predict(image)
    for given in (tmp_path / "a.png", str(tmp_path / "a.png"), Image.fromarray(image), image):
        assert np.array_equal(seg(given), expected)
    assert seg.info.kind == "ours" and seg.colorize(expected).shape == (40, 52, 3)
    with pytest.raises(ValueError, match="uint8"):
        seg(image.astype(np.float32))
    broken = Segmenter.build(tiny_model, seg.classes, device="cpu", test_scale=None)
    saved = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    try:
        with torch.no_grad():
            tiny_model.decode_head.classifier.bias.fill_(float("nan"))
        with pytest.raises(NonFiniteError):
            broken(image)
    finally:
        tiny_model.load_state_dict(saved)
