"""Mixup / CutMix with label smoothing for ImageNet pre-training (the DeiT recipe: Mixup 0.8, CutMix 1.0)."""

from __future__ import annotations

import math

import torch


class MixupCutmix:
    """Mix a batch with its reverse (``images.flip(0)``) and return soft targets ``[B, K]``.

    Per batch, with probability ``prob``: CutMix (λ ~ Beta(cutmix_alpha, cutmix_alpha), a box of area ``1 − λ``
    pasted from the partner; λ corrected to the exact pasted area after clipping) with probability
    ``switch_prob``, else Mixup (λ ~ Beta(mixup_alpha, mixup_alpha)). A zero alpha disables that branch.
    Targets: label-smoothed one-hot (``smoothing / K`` off, ``1 − smoothing + smoothing / K`` on), mixed by λ.
    Random numbers come from torch's generator, so ``seed_everything`` makes it reproducible.
    """

    def __init__(
        self,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.1,
    ) -> None:
        self.num_classes = num_classes
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.prob = prob
        self.switch_prob = switch_prob
        self.label_smoothing = label_smoothing

    def smooth_one_hot(self, labels: torch.Tensor) -> torch.Tensor:
        off = self.label_smoothing / self.num_classes
        targets = torch.full((labels.shape[0], self.num_classes), off, device=labels.device)
        return targets.scatter_(1, labels.view(-1, 1), 1.0 - self.label_smoothing + off)

    def _beta(self, alpha: float) -> float:
        dist = torch.distributions.Beta(torch.tensor(alpha), torch.tensor(alpha))
        return float(dist.sample())

    def __call__(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``images[B, 3, H, W]``, ``labels[B]`` (int) → mixed images, soft targets ``[B, K]`` (rows sum to 1)."""
        targets = self.smooth_one_hot(labels)
        use_mixup, use_cutmix = self.mixup_alpha > 0, self.cutmix_alpha > 0
        if not (use_mixup or use_cutmix) or float(torch.rand(())) >= self.prob:
            return images, targets
        cutmix = use_cutmix and (not use_mixup or float(torch.rand(())) < self.switch_prob)
        images = images.clone()
        partner = images.flip(0)
        if cutmix:
            lam = self._beta(self.cutmix_alpha)
            height, width = images.shape[-2:]
            cut = math.sqrt(1.0 - lam)
            ch, cw = int(height * cut), int(width * cut)
            cy, cx = int(torch.randint(height, ())), int(torch.randint(width, ()))
            y1, y2 = max(cy - ch // 2, 0), min(cy + ch // 2, height)
            x1, x2 = max(cx - cw // 2, 0), min(cx + cw // 2, width)
            images[:, :, y1:y2, x1:x2] = partner[:, :, y1:y2, x1:x2]
            lam = 1.0 - (y2 - y1) * (x2 - x1) / (height * width)
        else:
            lam = self._beta(self.mixup_alpha)
            images = images * lam + partner * (1.0 - lam)
        return images, targets * lam + targets.flip(0) * (1.0 - lam)
