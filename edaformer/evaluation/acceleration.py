"""Faster inference, one word away: ``torch.compile`` and bfloat16, for every command that runs a segmentor.

:func:`accelerate` takes a segmentor and the two user options (``compile``, ``precision``) and returns the module
to run: the model itself when both are off (float32 eager, the default), otherwise an :class:`AcceleratedModel`
that wraps it. The wrapper takes float32 images and returns float32 logits, so callers (whole/slide/multi-scale
inference, metrics, :class:`~edaformer.evaluation.Segmenter`) do not change; attributes it does not have
(``set_isr``, ``isr``, ``train_isr``, ``num_classes``, ``efa_levels`` …) are the wrapped model's, so
:func:`~edaformer.models.isr_applied` and ISR switches work on it unchanged.

- ``precision="bf16"`` converts the **weights** to bfloat16 (in place) and runs the network in bfloat16; the
  logits come back as float32. Measured on the CPU (``docs/benchmarks.md``), this is faster than
  ``torch.autocast``, which re-casts every weight on every call and keeps the final upsampling in float32.
- ``compile=True`` runs the model through ``torch.compile`` (inductor by default). Compiled code is guarded:
  TorchDynamo re-checks the input size and the modules' attributes on every call, so an ISR switch
  (``set_isr``, ``isr_applied``) or a new image size triggers a recompilation; after the second size it compiles
  a size-generic graph. Past TorchDynamo's recompile limit, and whenever the backend fails to compile (e.g. no C
  compiler), the model runs eagerly — with a warning, never a wrong result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
import torch._dynamo
from torch import nn

from ..models.upsampled_argmax import upsampled_labels

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[str, ...] = ("fp32", "bf16")
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16}

log = logging.getLogger("edaformer.acceleration")


class AcceleratedModel(nn.Module):
    """``model`` run compiled and/or in bfloat16: ``forward(images[B, 3, H, W] float32) → logits float32``.

    Build it with :func:`accelerate`. The wrapped model is ``self.model`` (its weights converted to bfloat16 in
    place for ``precision="bf16"``); every attribute the wrapper lacks is looked up there.

    Args:
        model: a segmentor (or any ``images → tensor`` module), in eval mode for inference.
        compile: run through ``torch.compile``.
        precision: ``"fp32"`` or ``"bf16"``.
        backend: the ``torch.compile`` backend (``"inductor"``; ``"eager"`` / ``"aot_eager"`` trace without
            generating code, e.g. to check guards quickly).
    """

    def __init__(
        self,
        model: nn.Module,
        compile: bool = False,
        precision: Precision = "fp32",
        backend: str = "inductor",
    ) -> None:
        super().__init__()
        if precision not in DTYPES:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.dtype = DTYPES[precision]
        self.precision = precision
        self.compiled = bool(compile)
        self.backend = backend
        self.model = model.to(self.dtype) if self.dtype != torch.float32 else model
        # not registered as submodules: the compiled callables share self.model's parameters
        self._run = self._compiled(self.model)
        low_res = getattr(self.model, "forward_low_res", None)
        self._run_low_res = None if low_res is None else self._compiled(low_res)

    def _compiled(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        return torch.compile(fn, backend=self.backend) if self.compiled else fn

    def _call(self, name: str, images: torch.Tensor) -> torch.Tensor:
        """Run the callable in ``self.<name>`` on ``images`` in the wrapper's precision; float32 out. A backend
        that fails to compile is replaced by the eager callable, with a warning."""
        eager = self.model if name == "_run" else self.model.forward_low_res
        x = images.to(self.dtype)
        try:
            out = getattr(self, name)(x)
        except torch._dynamo.exc.BackendCompilerFailed as err:
            log.warning(
                "torch.compile (%s) failed, running eagerly from now on: %s",
                self.backend,
                str(err).splitlines()[0],
            )
            object.__setattr__(self, name, eager)
            out = eager(x)
        return out.float()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self._call("_run", images)

    def forward_low_res(self, images: torch.Tensor) -> torch.Tensor:
        """The wrapped segmentor's 1/8-resolution logits ``[B, K, ⌈H/8⌉, ⌈W/8⌉]``, compiled and/or in bfloat16
        (float32 out): what the labels path and the lazy inference modes upsample."""
        if self._run_low_res is None:
            raise AttributeError(f"{type(self.model).__name__} has no forward_low_res")
        return self._call("_run_low_res", images)

    @torch.no_grad()
    def predict(self, images: torch.Tensor, out_size: Sequence[int] | None = None) -> torch.Tensor:
        """Labels ``int64 [B, H, W]`` as the wrapped segmentor's ``predict``, from the accelerated
        :meth:`forward_low_res`."""
        return upsampled_labels(self.forward_low_res(images), images.shape[-2:], out_size)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["model"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in (
            "_run",
            "_run_low_res",
        ):  # compiled callables stay out of the module tree (state dict, repr)
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def extra_repr(self) -> str:
        return f"compile={self.compiled}, precision={self.precision}"


def accelerate(
    model: nn.Module,
    compile: bool = False,
    precision: Precision | str = "fp32",
    backend: str = "inductor",
) -> nn.Module:
    """The module to run ``model`` with: itself for float32 eager (``compile=False, precision="fp32"``), else an
    :class:`AcceleratedModel`. Raises ``ValueError`` for a precision other than ``fp32`` / ``bf16``.

    bfloat16 converts ``model``'s weights in place; use :func:`unwrap` to get the network back (e.g. to count
    FLOPs or save weights).
    """
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if not compile and precision == "fp32":
        return model
    return AcceleratedModel(model, compile=compile, precision=precision, backend=backend)  # type: ignore[arg-type]


def unwrap(model: nn.Module) -> nn.Module:
    """The network inside an :class:`AcceleratedModel` (anything else is returned as it is)."""
    return model.model if isinstance(model, AcceleratedModel) else model


def describe(compile: bool, precision: str) -> str:
    """``"fp32"``, ``"bf16"``, ``"fp32+compile"`` …: how a model runs, for logs and result rows."""
    return precision + ("+compile" if compile else "")
