"""PhotoMetricDistortion against the authors' steps, transcribed here on BGR images as their pipeline holds them."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest

from edaformer.data.transforms import PhotoMetricDistortion


def image(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (24, 32, 3), dtype=np.uint8)


def seeded(op: PhotoMetricDistortion, seed: int = 0) -> PhotoMetricDistortion:
    op.set_random_state(np.random.default_rng(seed), random.Random(seed))
    return op


def _affine(x: np.ndarray, alpha: float = 1.0, beta: float = 0.0) -> np.ndarray:
    return np.clip(x.astype(np.float32) * alpha + beta, 0, 255).astype(np.uint8)


def authors_steps(rgb, beta=None, alpha=None, contrast_first=True, saturation=None, hue=None) -> np.ndarray:
    """Their order on the BGR image: brightness, contrast (first), saturation in its own HSV round trip, hue in
    another, contrast (last)."""
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    if beta is not None:
        bgr = _affine(bgr, beta=beta)
    if alpha is not None and contrast_first:
        bgr = _affine(bgr, alpha=alpha)
    if saturation is not None:
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        hsv[..., 1] = _affine(hsv[..., 1], alpha=saturation)
        bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if hue is not None:
        hsv = cv2.cvtColor(bgr, cv2.COLOR_BGR2HSV)
        hsv[..., 0] = (hsv[..., 0].astype(int) + hue) % 180
        bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if alpha is not None and not contrast_first:
        bgr = _affine(bgr, alpha=alpha)
    return bgr[..., ::-1]


@pytest.mark.parametrize(
    "params",
    [
        dict(beta=-31.7),
        dict(alpha=1.37, contrast_first=True, beta=12.2),
        dict(alpha=0.61, contrast_first=False, saturation=1.3),
        dict(saturation=1.0, hue=0),  # no change of value, still two lossy round trips
        dict(saturation=0.52, hue=-18),
        dict(saturation=1.49, hue=17, alpha=1.2, contrast_first=False, beta=5.5),
        dict(hue=7),
    ],
)
def test_each_combination_of_steps_is_the_authors(params):
    rgb = image(1)
    np.testing.assert_array_equal(PhotoMetricDistortion().apply(rgb, **params), authors_steps(rgb, **params))


def test_saturation_and_hue_are_two_round_trips():
    """One shared HSV round trip would give other pixels: the check above can fail."""
    rgb = image(2)
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hsv[..., 1] = _affine(hsv[..., 1], alpha=1.0)
    once = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    twice = PhotoMetricDistortion().apply(rgb, saturation=1.0, hue=0)
    assert (once != twice).any()
    np.testing.assert_array_equal(twice, authors_steps(rgb, saturation=1.0, hue=0))


def test_hue_shift_is_drawn_from_minus_delta_to_delta_minus_one():
    """NumPy's ``randint(-delta, delta)`` excludes ``delta``: both ends of [-delta, delta - 1] occur, nothing else."""
    op = seeded(PhotoMetricDistortion(hue_delta=2))
    hues = {p["hue"] for p in (op.get_params() for _ in range(400))} - {None}
    assert hues == {-2, -1, 0, 1}
    op = seeded(PhotoMetricDistortion(hue_delta=18), seed=1)
    hues = [h for h in (op.get_params()["hue"] for _ in range(4000)) if h is not None]
    assert min(hues) == -18 and max(hues) == 17


def test_each_step_and_the_contrast_position_are_even_odds():
    op = seeded(PhotoMetricDistortion())
    params = [op.get_params() for _ in range(4000)]
    for key in ("beta", "alpha", "saturation", "hue"):
        assert 0.46 < np.mean([p[key] is not None for p in params]) < 0.54, key
    assert 0.46 < np.mean([p["contrast_first"] for p in params]) < 0.54
    alphas = [p["alpha"] for p in params if p["alpha"] is not None]
    assert 0.5 <= min(alphas) < 0.52 and 1.48 < max(alphas) <= 1.5


def test_hue_delta_below_one_is_refused():
    with pytest.raises(ValueError, match="hue_delta"):
        PhotoMetricDistortion(hue_delta=0)
