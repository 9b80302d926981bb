"""An independent, functional transcription of the authors' EDAFormer forward pass that reads the authors'
checkpoint keys directly. It shares no code with ``edaformer.models``; tests compare the two on the same weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

T = torch.Tensor


def _ln(x: T, sd: dict, p: str, eps: float) -> T:
    return F.layer_norm(x, x.shape[-1:], sd[p + ".weight"], sd[p + ".bias"], eps)


def _attn(x: T, H: int, W: int, sd: dict, p: str, heads: int, ratio: int, decoder: bool) -> T:
    B, N, C = x.shape
    q = x.reshape(B, N, heads, C // heads).permute(0, 2, 1, 3)
    x_ = x.permute(0, 2, 1).reshape(B, C, H, W)
    if ratio > 1:
        x_ = F.avg_pool2d(x_, ratio, ratio)
    x_ = F.conv2d(x_, sd[p + ".sr.weight"], sd[p + ".sr.bias"]).reshape(B, C, -1).permute(0, 2, 1)
    if decoder:
        x_ = F.gelu(_ln(x_, sd, p + ".norm", 1e-5))
    kv = x_.reshape(B, -1, heads, C // heads).permute(0, 2, 1, 3)
    attn = (q @ kv.transpose(-2, -1)) * (C // heads) ** -0.5
    out = (attn.softmax(dim=-1) @ kv).transpose(1, 2).reshape(B, N, C)
    return F.linear(out, sd[p + ".proj.weight"], sd[p + ".proj.bias"])


def _mlp(x: T, H: int, W: int, sd: dict, p: str, relu: bool) -> T:
    x = F.linear(x, sd[p + ".fc1.weight"], sd[p + ".fc1.bias"])
    if relu:
        x = F.relu(x)
    B, N, C = x.shape
    x = x.transpose(1, 2).view(B, C, H, W)
    w = sd[p + ".dwconv.dwconv.weight"]
    x = F.conv2d(x, w, sd[p + ".dwconv.dwconv.bias"], padding=1, groups=C).flatten(2).transpose(1, 2)
    return F.linear(F.gelu(x), sd[p + ".fc2.weight"], sd[p + ".fc2.bias"])


def _block(x, H, W, sd, p, heads, ratio, decoder):
    eps = 1e-5 if decoder else 1e-6
    x = x + _attn(_ln(x, sd, p + ".norm1", eps), H, W, sd, p + ".attn", heads, ratio, decoder)
    return x + _mlp(_ln(x, sd, p + ".norm2", eps), H, W, sd, p + ".mlp", relu=not decoder)


def official_forward(sd: dict, img: T, enc_ratios=(8, 4, 2, 1), dec_ratios=(1, 2, 4)) -> T:
    """Logits at the input size, computed from the authors' key layout."""
    heads = (1, 2, 4, 8)
    x = img
    feats = []
    for i in range(1, 5):
        p = f"backbone.patch_embed{i}"
        k = 7 if i == 1 else 3
        x = F.conv2d(
            x, sd[p + ".proj.weight"], sd[p + ".proj.bias"], stride=4 if i == 1 else 2, padding=k // 2
        )
        B, C, H, W = x.shape
        x = _ln(x.flatten(2).transpose(1, 2), sd, p + ".norm", 1e-5)
        j = 0
        while f"backbone.block{i}.{j}.norm1.weight" in sd:
            x = _block(x, H, W, sd, f"backbone.block{i}.{j}", heads[i - 1], enc_ratios[i - 1], False)
            j += 1
        x = _ln(x, sd, f"backbone.norm{i}", 1e-6).reshape(B, H, W, C).permute(0, 3, 1, 2)
        feats.append(x)
    _, c2, c3, c4 = feats
    outs = []
    for names, c, h, r in (
        (("attn4", "attn44", "attn444"), c4, 8, dec_ratios[0]),
        (("attn3", "attn33"), c3, 4, dec_ratios[1]),
        (("attn2",), c2, 2, dec_ratios[2]),
    ):
        B, C, H, W = c.shape
        t = c.flatten(2).transpose(1, 2)
        for name in names:
            t = _block(t, H, W, sd, "decode_head." + name, h, r, True)
        m = t.transpose(1, 2).reshape(B, C, H, W)
        outs.append(F.interpolate(m, size=c2.shape[2:], mode="bilinear", align_corners=False))
    x = F.conv2d(torch.cat(outs, dim=1), sd["decode_head.linear_fuse.conv.weight"])
    p = "decode_head.linear_fuse.bn"
    x = F.relu(
        F.batch_norm(x, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"], sd[p + ".bias"])
    )
    x = F.conv2d(x, sd["decode_head.linear_pred.weight"], sd["decode_head.linear_pred.bias"])
    return F.interpolate(x, size=img.shape[2:], mode="bilinear", align_corners=False)
