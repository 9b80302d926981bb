"""Exact, low-memory bilinear upsampling + argmax: label maps from low-resolution class scores, equal to
``F.interpolate(logits, size, mode="bilinear", align_corners=False).argmax(1)``, without allocating the
full-resolution ``[B, K, H, W]`` scores (:func:`upsampled_labels`, what ``EDAFormer.predict`` returns).

A segmentor's label for a pixel is ``argmax_k`` of its logits bilinearly upsampled (``align_corners=False``) to the
image size. Materialising the upsampled logits costs ``K·H·W`` floats (157 MB for 150 classes at 512×512) for a
result of ``H·W`` integers. This module computes the same labels from the small logits:

- :func:`bilinear_taps` reproduces PyTorch's per-axis source indices and weights of
  ``F.interpolate(mode="bilinear", align_corners=False)``, and :func:`lerp` its arithmetic (the CPU kernel
  interpolates along W first, then along H, each step as ``fma(a, w0, b·w1)``), so values are bit-identical on
  this CPU build (within a float rounding elsewhere) and ties break the same way (first maximal class).
- :class:`ScoreMap` is a lazily evaluated ``[B, K, H, W]`` map that produces any band of rows on demand:
  :class:`DenseScores` wraps a tensor, :class:`ResizedScores` resizes another map bilinearly; the inference helpers
  add stitched sliding windows and averaged test-time-augmentation passes. :func:`argmax_labels` reduces a map
  band by band, so the working set is a few MB whatever the image size.
- For the common case, one upsampling of dense logits (:func:`upsample_argmax`), most classes can be ruled out
  before anything is interpolated: a bilinear value lies between the minimum and the maximum of its four source
  values, so class ``k`` cannot win anywhere in a cell of pixels sharing the same four source pixels if its
  maximum there is below the largest minimum of any class. Only the remaining (cell, class) pairs are
  interpolated, with the same arithmetic as above, which makes the result exact, not approximate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Working-set bound of one band / chunk, in float32 elements. On CPU 2 MiB, small enough to stay in a core's L2
# cache; on accelerators 128 MiB, where the cost is the number of kernel launches, not the cache.
TILE_ELEMENTS = 1 << 19
DEVICE_TILE_ELEMENTS = 1 << 25


def tile_size(device: torch.device, tile_elements: int | None = None) -> int:
    """``tile_elements``, or the default band size for ``device``."""
    if tile_elements is not None:
        return int(tile_elements)
    return TILE_ELEMENTS if device.type == "cpu" else DEVICE_TILE_ELEMENTS


# Slack of the class-pruning bounds, relative to the largest |logit|. The computed bilinear value of a class can
# leave the [min, max] interval of its four source values by a few float roundings (1 - w1 is rounded; three
# fused multiply-adds): at most ~15 units of 2**-24 relative to the largest magnitude; 2**-18 leaves 4x margin.
BOUND_SLACK = 2.0**-18


# ----------------------------------------------------------------------------------------- exact bilinear taps
@dataclass(frozen=True)
class AxisTaps:
    """Bilinear taps along one axis: output ``i`` = ``weight0[i]·x[index0[i]] + weight1[i]·x[index1[i]]``."""

    index0: torch.Tensor  # [n_out] int64
    index1: torch.Tensor  # [n_out] int64
    weight0: torch.Tensor  # [n_out] float32
    weight1: torch.Tensor  # [n_out] float32


def bilinear_taps(in_size: int, out_size: int, device: torch.device | str | None = None) -> AxisTaps:
    """Source indices and weights of ``F.interpolate(..., mode="bilinear", align_corners=False)`` along one axis.

    As PyTorch computes them (``area_pixel_compute_source_index`` and ``guard_index_and_lambda``): the scale
    ``in / out`` is a float32 division; ``src = max(scale·(dst + 0.5) − 0.5, 0)`` is rounded once (a fused
    multiply-add, emulated exactly in float64); ``i0 = min(⌊src⌋, in − 1)``; ``λ = clamp(src − i0, 0, 1)``;
    ``i1 = i0 + 1`` except at the last source index; weights ``(1 − λ, λ)`` in float32. Equal sizes copy.
    """
    if in_size < 1 or out_size < 1:
        raise ValueError(f"sizes must be >= 1, got in={in_size}, out={out_size}")
    dst = torch.arange(out_size, dtype=torch.int64)
    if in_size == out_size:
        one = torch.ones(out_size, dtype=torch.float32)
        taps = AxisTaps(dst, dst, one, torch.zeros(out_size, dtype=torch.float32))
    else:
        scale = torch.tensor(float(in_size), dtype=torch.float32) / torch.tensor(float(out_size))
        # scale·(dst + 0.5) − 0.5 is exact in float64 (24 + 21 significant bits), so one cast rounds it once
        src = (scale.double() * (dst.double() + 0.5) - 0.5).float().clamp_min(0.0)
        index0 = src.floor().long().clamp_max(in_size - 1)
        lam = (src - index0.float()).clamp(0.0, 1.0)
        index1 = torch.where(index0 < in_size - 1, index0 + 1, index0)
        taps = AxisTaps(index0, index1, 1.0 - lam, lam)
    if device is not None:
        taps = AxisTaps(*(t.to(device) for t in (taps.index0, taps.index1, taps.weight0, taps.weight1)))
    return taps


def lerp(a: torch.Tensor, b: torch.Tensor, w0: torch.Tensor, w1: torch.Tensor) -> torch.Tensor:
    """``a·w0 + b·w1`` in PyTorch's upsampling order: ``b·w1`` rounded, then one fused multiply-add with ``a·w0``."""
    return torch.addcmul(b * w1, a, w0)


# ----------------------------------------------------------------------------------------- lazy score maps
class ScoreMap:
    """A ``[B, K, H, W]`` score map evaluated band by band: :meth:`rows` computes rows ``start:stop`` only."""

    def __init__(self, batch: int, channels: int, size: Sequence[int], device: torch.device) -> None:
        self.batch = int(batch)
        self.channels = int(channels)
        self.size = (int(size[0]), int(size[1]))
        self.device = torch.device(device)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (self.batch, self.channels, *self.size)

    def rows(self, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
        """Scores ``[B, K, stop − start, W]`` of rows ``start:stop`` (written into ``out`` if given)."""
        raise NotImplementedError

    def bands(self, tile_elements: int | None = None) -> list[tuple[int, int]]:
        """Row ranges covering the map, each of :meth:`band_rows` rows."""
        step = self.band_rows(tile_elements)
        return [(a, min(a + step, self.size[0])) for a in range(0, self.size[0], step)]

    def band_rows(self, tile_elements: int | None = None) -> int:
        """Rows of about ``tile_elements`` scores (default: :func:`tile_size`), at least one."""
        per_row = self.batch * self.channels * self.size[1]
        return max(1, tile_size(self.device, tile_elements) // max(1, per_row))

    def finite(self) -> torch.Tensor:
        """``bool [B]``: whether each image's scores are all finite (no NaN/inf), checked band by band.

        Maps built from other maps answer from their sources instead (finite weights and softmax keep finite
        values finite), without computing a band.
        """
        ok = torch.ones(self.batch, dtype=torch.bool, device=self.device)
        for start, stop in self.bands():
            ok &= torch.isfinite(self.rows(start, stop).flatten(1)).all(1)
        return ok

    def dense(self, tile_elements: int | None = None) -> torch.Tensor:
        """All scores ``[B, K, H, W]``, computed band by band into one tensor."""
        out = torch.empty(self.shape, device=self.device)
        for start, stop in self.bands(tile_elements):
            self.rows(start, stop, out=out[:, :, start:stop])
        return out


def _into(result: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
    return result if out is None else out.copy_(result)


class DenseScores(ScoreMap):
    """An already computed ``[B, K, H, W]`` tensor."""

    def __init__(self, scores: torch.Tensor) -> None:
        if scores.ndim != 4:
            raise ValueError(f"expected scores [B, K, H, W], got shape {tuple(scores.shape)}")
        super().__init__(scores.shape[0], scores.shape[1], scores.shape[2:], scores.device)
        self.scores = scores

    def rows(self, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
        return _into(self.scores[:, :, start:stop], out)

    def dense(self, tile_elements: int | None = None) -> torch.Tensor:
        return self.scores

    def finite(self) -> torch.Tensor:
        return torch.isfinite(self.scores.flatten(1)).all(1)


class ResizedScores(ScoreMap):
    """``source`` resized bilinearly (``align_corners=False``) to ``size``, bit-identical to ``F.interpolate``.

    A band of output rows reads the band of source rows its taps touch, interpolates it along W (PyTorch's own
    kernel: the first pass of its 2-D resize), then along H. Bands follow the runs of output rows that share
    their two source rows (8 rows for the ×8 upsampling of logits), so a run is one broadcast multiply-add from
    two source rows.
    """

    def __init__(self, source: ScoreMap, size: Sequence[int]) -> None:
        super().__init__(source.batch, source.channels, size, source.device)
        self.source = source
        self.taps_y = bilinear_taps(source.size[0], self.size[0], self.device)
        first = self.taps_y.index0.tolist()
        # output rows where the first source row changes: runs share both source rows and one broadcast op
        self._run_starts = [y for y in range(self.size[0]) if y == 0 or first[y] != first[y - 1]]
        self._first_row = first

    def finite(self) -> torch.Tensor:
        # every output is a weighted sum of source values (stricter when downscaling: unread values count)
        return self.source.finite()

    def bands(self, tile_elements: int | None = None) -> list[tuple[int, int]]:
        height = self.size[0]
        if 4 * len(self._run_starts) > height:  # short runs (downscaling, scales near 1): plain bands
            return super().bands(tile_elements)
        step = self.band_rows(tile_elements)
        bands = []
        for start, stop in zip(self._run_starts, [*self._run_starts[1:], height]):
            bands += [(a, min(a + step, stop)) for a in range(start, stop, step)]  # long runs split
        return bands

    def rows(self, start: int, stop: int, out: torch.Tensor | None = None) -> torch.Tensor:
        ty = self.taps_y
        lo, hi = self._first_row[start], int(ty.index1[stop - 1]) + 1  # taps are monotonic
        if self.source.size[0] == self.size[0]:
            lo, hi = start, stop
        src = self.source.rows(lo, hi)  # (B, K, n, w)
        if self.source.size[1] != self.size[1]:
            src = F.interpolate(src, size=(hi - lo, self.size[1]), mode="bilinear", align_corners=False)
        if self.source.size[0] == self.size[0]:
            return _into(src, out)
        w0, w1 = ty.weight0[start:stop, None], ty.weight1[start:stop, None]
        if self._first_row[stop - 1] == lo:  # one run: two source rows, broadcast over the band
            top, bottom = src[:, :, :1], src[:, :, -1:]
        else:
            top = src.index_select(2, ty.index0[start:stop] - lo)  # (B, K, stop - start, W)
            bottom = src.index_select(2, ty.index1[start:stop] - lo)
        return torch.addcmul(bottom * w1, top, w0, out=out)  # lerp(top, bottom, w0, w1)


def resize_scores(scores: ScoreMap | torch.Tensor, size: Sequence[int]) -> ScoreMap:
    """``scores`` at ``size`` (bilinear, ``align_corners=False``); the map itself when the size already matches."""
    if isinstance(scores, torch.Tensor):
        scores = DenseScores(scores)
    if tuple(scores.size) == (int(size[0]), int(size[1])):
        return scores
    return ResizedScores(scores, size)


# ----------------------------------------------------------------------------------------- argmax
def first_argmax(scores: torch.Tensor, dim: int) -> torch.Tensor:
    """``scores.argmax(dim)`` (int64; the first maximal index on ties) through ``amax`` and a rank ``amax``.

    Same result as :func:`torch.argmax` for NaN-free scores, several times faster on CPU, where ``argmax`` over a
    non-innermost dimension is not vectorised (230 ms against 24 ms for ``amax`` on ``[1, 150, 512, 512]``).
    """
    size = scores.shape[dim]
    shape = [1] * scores.ndim
    shape[dim] = size
    rank = torch.arange(size - 1, -1, -1, device=scores.device).view(shape)  # the first gets the highest
    hit = scores == scores.amax(dim, keepdim=True)
    if size <= 256:  # bool → uint8 is a free view
        return (size - 1) - hit.view(torch.uint8).mul_(rank.to(torch.uint8)).amax(dim).long()
    return (size - 1) - hit.int().mul_(rank.int()).amax(dim).long()


@torch.no_grad()
def argmax_labels(scores: ScoreMap, tile_elements: int | None = None) -> torch.Tensor:
    """``scores.dense().argmax(1)`` as ``int64 [B, H, W]``, band by band (first maximal class on ties).

    One bilinear upsampling of dense finite logits takes the exact class-pruning path of
    :func:`upsample_argmax`; any other map is evaluated in bands of about ``tile_elements`` scores.
    """
    if isinstance(scores, ResizedScores) and isinstance(scores.source, DenseScores):
        logits = scores.source.scores
        if logits.dtype == torch.float32 and bool(torch.isfinite(logits).all()):
            return upsample_argmax(logits, scores.size, tile_elements)
    batch, _, height, width = scores.shape
    labels = torch.empty((batch, height, width), dtype=torch.int64, device=scores.device)
    for start, stop in scores.bands(tile_elements):
        labels[:, start:stop] = first_argmax(scores.rows(start, stop), 1)
    return labels


def upsampled_labels(
    low_res: torch.Tensor, size: Sequence[int], out_size: Sequence[int] | None = None
) -> torch.Tensor:
    """Labels ``int64 [B, H, W]`` of 1/8-resolution logits ``low_res [B, K, h, w]``: the argmax of the logits
    bilinearly upsampled to ``size`` (the input's ``[H, W]``), or resized on to ``out_size``, without allocating
    the ``K × H × W`` tensor."""
    scores = resize_scores(low_res, size)
    return argmax_labels(scores if out_size is None else resize_scores(scores, out_size))


@dataclass(frozen=True)
class _Groups:
    """Output positions of one axis grouped by source taps: runs of equal taps, split into at most ``length``.

    Shorter groups are padded by repeating their last output (same position, same weights), so a padded entry
    recomputes and rewrites a real pixel with its own value.
    """

    output: torch.Tensor  # [G, length] output index of each entry
    index0: torch.Tensor  # [G] the group's first source tap (the second is index0 + 1, or index0 at the end)
    weight0: torch.Tensor  # [G, length] the entries' weights
    weight1: torch.Tensor
    length: int


def _group_taps(taps: AxisTaps, in_size: int) -> _Groups:
    n = len(taps.index0)
    length = max(1, math.ceil(n / in_size))
    device = taps.index0.device
    pos = torch.arange(n, device=device)
    new_run = torch.ones(n, dtype=torch.bool, device=device)
    new_run[1:] = taps.index0[1:] != taps.index0[:-1]
    run_start = torch.cummax(torch.where(new_run, pos, 0), 0).values
    start = pos[(pos - run_start) % length == 0]  # runs longer than `length` (at the borders) are split
    end = torch.cat([start[1:], torch.tensor([n], device=device)])  # (G,)
    output = torch.minimum(start[:, None] + torch.arange(length, device=device), end[:, None] - 1)
    return _Groups(output, taps.index0[start], taps.weight0[output], taps.weight1[output], length)


def _neighbourhood(x: torch.Tensor, reduce) -> torch.Tensor:
    """``reduce`` (``torch.maximum`` / ``torch.minimum``) of ``x[K, h, w]`` over each source neighbourhood
    ``{i, i+1} × {j, j+1}``, clamped at the last row/column like the taps' second index."""
    rows = torch.empty_like(x)
    reduce(x[:, :-1], x[:, 1:], out=rows[:, :-1])
    rows[:, -1] = x[:, -1]
    out = torch.empty_like(x)
    reduce(rows[:, :, :-1], rows[:, :, 1:], out=out[:, :, :-1])
    out[:, :, -1] = rows[:, :, -1]
    return out


@torch.no_grad()
def upsample_argmax(
    logits: torch.Tensor, size: Sequence[int], tile_elements: int | None = None
) -> torch.Tensor:
    """``F.interpolate(logits, size, mode="bilinear", align_corners=False).argmax(1)`` without the big tensor.

    Args:
        logits: finite float32 scores ``[B, K, h, w]``.
        size: output ``(H, W)``.
        tile_elements: float32 elements interpolated at once (bounds the working set; default by device).

    Returns:
        ``int64 [B, H, W]`` labels. Every output pixel reads the 2×2 source neighbourhood at its ``index0``
        taps. A class whose maximum over that neighbourhood is below the largest minimum of any class there
        cannot win at any pixel reading it (bilinear values lie between those bounds, up to
        :data:`BOUND_SLACK`). Neighbourhoods with one candidate give it to all their pixels; in the others only
        the candidates are interpolated, with PyTorch's arithmetic, so the labels are exact.
    """
    batch, channels, h, w = logits.shape
    height, width = int(size[0]), int(size[1])
    device = logits.device
    taps_y, taps_x = bilinear_taps(h, height, device), bilinear_taps(w, width, device)
    gy, gx = _group_taps(taps_y, h), _group_taps(taps_x, w)
    out = torch.empty((batch, height, width), dtype=torch.int64, device=device)
    for b in range(batch):
        x = logits[b]  # (K, h, w)
        slack = 2 * BOUND_SLACK * max(abs(float(v)) for v in torch.aminmax(x))
        best_lower = _neighbourhood(x, torch.minimum).amax(0)  # (h, w): no class ends below this
        # (K, h, w): the classes that may win somewhere in the neighbourhood
        candidates = _neighbourhood(x, torch.maximum) >= best_lower - slack
        num_candidates = candidates.sum(0)  # (h, w)
        first = first_argmax(candidates.view(torch.uint8), 0)  # (h, w): the only candidate where there is one
        torch.index_select(first[:, taps_x.index0], 0, taps_y.index0, out=out[b])  # (H, W)
        # groups (at most gy.length × gx.length pixels) whose neighbourhood keeps several candidates
        several = (num_candidates > 1)[gy.index0[:, None], gx.index0[None, :]]
        cells = torch.nonzero(several)  # (n, 2): row group, column group
        if len(cells) == 0:
            continue
        ci, cj = gy.index0[cells[:, 0]], gx.index0[cells[:, 1]]
        counts = num_candidates[ci, cj]
        by_pixel = candidates.permute(1, 2, 0)  # (h, w, K)
        flat = x.permute(1, 2, 0).reshape(h * w, channels)  # (h·w, K)
        for low_count, bucket in _count_buckets(counts, channels):
            members = torch.nonzero((counts > low_count) & (counts <= bucket)).flatten()
            chunk = max(1, tile_size(device, tile_elements) // (bucket * gy.length * gx.length))
            for part in members.split(chunk):
                cand = by_pixel[ci[part], cj[part]]  # (n, K)
                _label_groups(
                    out[b].view(-1), width, flat, w, cand, bucket, cells[part, 0], cells[part, 1], gy, gx
                )
    return out


def _label_groups(
    labels: torch.Tensor,
    width: int,
    flat: torch.Tensor,
    w: int,
    candidates: torch.Tensor,
    bucket: int,
    gi: torch.Tensor,
    gj: torch.Tensor,
    gy: _Groups,
    gx: _Groups,
) -> None:
    """Write the labels of pixel groups ``(gi, gj)`` into ``labels[H·W]`` (rows of ``width``), interpolating only
    their candidates.

    ``flat[h·w, K]`` are the logits, ``candidates[n, K]`` the groups' candidate masks (at most ``bucket`` each).
    """
    n, channels = candidates.shape
    # the candidates in ascending class order (ties go to the first, as argmax), padded with the first
    slot = torch.where(candidates, candidates.cumsum(1) - 1, bucket)  # (n, K) position of each candidate
    classes = candidates.new_zeros((n, bucket + 1), dtype=torch.int64)
    classes.scatter_(1, slot, torch.arange(channels, device=flat.device).expand_as(slot))
    count = candidates.sum(1, keepdim=True)
    pad = torch.arange(bucket, device=flat.device) >= count
    classes = torch.where(pad, classes[:, :1], classes[:, :bucket])  # (n, M)
    i0, j0 = gy.index0[gi, None], gx.index0[gj, None]  # (n, 1)
    i1, j1 = torch.clamp_max(i0 + 1, len(flat) // w - 1), torch.clamp_max(j0 + 1, w - 1)
    a, b = flat[i0 * w + j0, classes], flat[i0 * w + j1, classes]  # (n, M)
    c, d = flat[i1 * w + j0, classes], flat[i1 * w + j1, classes]
    wx0, wx1 = gx.weight0[gj, None], gx.weight1[gj, None]  # (n, 1, gx)
    top = lerp(a[..., None], b[..., None], wx0, wx1)  # (n, M, gx)
    bottom = lerp(c[..., None], d[..., None], wx0, wx1)
    wy0, wy1 = gy.weight0[gi, None, :, None], gy.weight1[gi, None, :, None]  # (n, 1, gy, 1)
    values = lerp(top[:, :, None], bottom[:, :, None], wy0, wy1)  # (n, M, gy, gx)
    best = classes.gather(1, first_argmax(values, 1).flatten(1))  # (n, gy·gx)
    pixel = gy.output[gi, :, None] * width + gx.output[gj, None, :]  # (n, gy, gx)
    labels.index_put_((pixel.flatten(),), best.flatten())  # padding rewrites its pixel's own label


def _count_buckets(counts: torch.Tensor, channels: int) -> list[tuple[int, int]]:
    """``(exclusive lower, inclusive upper)`` candidate-count ranges in powers of two, capped at ``channels``."""
    top = int(counts.max())
    buckets, lower, upper = [], 1, 2
    while lower < top:
        upper = min(upper, channels)
        buckets.append((lower, upper))
        lower, upper = upper, upper * 2
    return buckets
