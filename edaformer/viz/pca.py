"""Feature maps as colour images: the first three principal components of the channels → RGB.

Fit the basis on one map and project others with it (:meth:`PCABasis.to_rgb`), so colours mean the same thing
across settings (e.g. the training pooling ratios vs. an ISR setting on the same image).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def _pixels(features: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
    """``[C, H, W]`` or ``[1, C, H, W]`` → ``[H·W, C]`` float64 rows and ``(H, W)``."""
    if features.ndim == 4:
        if features.shape[0] != 1:
            raise ValueError(f"expected one feature map, got a batch of {features.shape[0]}")
        features = features[0]
    if features.ndim != 3:
        raise ValueError(f"expected features [C, H, W], got shape {tuple(features.shape)}")
    c, h, w = features.shape
    return features.detach().reshape(c, h * w).T.double().cpu(), (h, w)


@dataclass(frozen=True)
class PCABasis:
    """Mean ``[C]``, components ``[C, k]`` (unit columns, sign fixed so each has a positive largest loading) and
    the 1st/99th percentiles ``[k]`` of the fitted projections, used to stretch each component to 0–255."""

    mean: torch.Tensor
    components: torch.Tensor
    low: torch.Tensor
    high: torch.Tensor
    explained: tuple[float, ...]

    def project(self, features: torch.Tensor) -> torch.Tensor:
        """Component scores ``[H, W, k]`` of ``features [C, H, W]``."""
        rows, (h, w) = _pixels(features)
        return ((rows - self.mean) @ self.components).reshape(h, w, -1)

    def stretched_to(self, *features: torch.Tensor) -> PCABasis:
        """The same components, with the colour range (1st/99th percentiles) taken over all ``features`` maps, so
        several maps projected with one basis share one colour scale without any of them saturating."""
        scores = torch.cat([self.project(f).reshape(-1, self.components.shape[1]) for f in features])
        low, high = torch.quantile(scores, 0.01, dim=0), torch.quantile(scores, 0.99, dim=0)
        return PCABasis(self.mean, self.components, low, high, self.explained)

    def to_rgb(self, features: torch.Tensor) -> np.ndarray:
        """``features [C, H, W]`` → ``uint8 [H, W, 3]`` (components 1–3 → R, G, B; fewer → grey or zeros)."""
        scores = self.project(features)
        scaled = ((scores - self.low) / (self.high - self.low).clamp_min(1e-12)).clamp(0, 1)
        rgb = torch.zeros((*scaled.shape[:2], 3), dtype=scaled.dtype)
        rgb[..., : scaled.shape[-1]] = scaled[..., :3]
        if scaled.shape[-1] == 1:
            rgb[..., 1:] = scaled
        return (rgb * 255 + 0.5).byte().numpy()


def fit_pca(features: torch.Tensor, k: int = 3, max_samples: int = 65536, seed: int = 0) -> PCABasis:
    """PCA of the channel vectors of ``features [C, H, W]`` (pixels are samples).

    At most ``max_samples`` pixels (a fixed random subset) are used to fit; ``k`` is capped by the channel and
    pixel counts.
    """
    rows, _ = _pixels(features)
    if rows.shape[0] > max_samples:
        generator = torch.Generator().manual_seed(seed)
        rows = rows[torch.randperm(rows.shape[0], generator=generator)[:max_samples]]
    mean = rows.mean(0)
    centred = rows - mean
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    k = max(1, min(k, vh.shape[0]))
    components = vh[:k].T.clone()  # (C, k)
    flip = components.gather(0, components.abs().argmax(0, keepdim=True)).sign()
    components = components * torch.where(flip == 0, torch.ones_like(flip), flip)
    scores = centred @ components
    low = torch.quantile(scores, 0.01, dim=0)
    high = torch.quantile(scores, 0.99, dim=0)
    var = singular**2
    explained = tuple(float(v) for v in (var[:k] / var.sum().clamp_min(1e-12)))
    return PCABasis(mean, components, low, high, explained)


def pca_image(features: torch.Tensor, basis: PCABasis | None = None) -> np.ndarray:
    """RGB ``uint8 [H, W, 3]`` of ``features [C, H, W]`` using ``basis`` (fitted on these features if ``None``)."""
    return (basis or fit_pca(features)).to_rgb(features)
