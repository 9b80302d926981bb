"""The commands' configuration: where the Hydra configs live (:data:`CONF_DIR`), their schemas (structured
configs), the checks of values and of ``_target_`` arguments, and the resolvers; :func:`register` puts schemas and
resolvers in place once, and :func:`compose` composes a command's config outside a command (notebooks, tests)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from omegaconf import DictConfig

from .resolvers import register_resolvers
from .schemas import SCHEMAS, store_schemas

__all__ = ["CONF_DIR", "SCHEMAS", "compose", "config_dir", "register"]


def config_dir() -> Path:
    """The Hydra config tree: the package ``edaformer.conf`` (the repository's ``conf/``, mapped into the package
    at build time), found from any directory once the package is installed (wheel or editable).

    A source checkout used without installing (only ``sys.path`` pointing at it) has no ``edaformer.conf``; then
    the checkout's own ``conf/`` is used.
    """
    try:
        from importlib.resources import files

        return Path(str(files("edaformer.conf")))
    except ModuleNotFoundError:
        checkout = Path(__file__).resolve().parents[2] / "conf"
        if checkout.is_dir():
            return checkout
        raise


CONF_DIR = config_dir()
_registered = False


def register() -> None:
    """Store the commands' schemas in Hydra's ConfigStore and register the resolvers (once per process)."""
    global _registered
    if not _registered:
        store_schemas()
        register_resolvers()
        _registered = True


def compose(command: str | None, overrides: Sequence[str] = ()) -> DictConfig:
    """``conf/<command>.yaml`` composed with ``overrides``, as the command would (without a run dir: keys that
    read Hydra's runtime, such as ``paths.output_dir``, need an override). ``command=None`` composes the
    overrides alone (``["+model=edaformer_t"]``: one option of a group). Inside a command the command's search
    path (``hydra.searchpath``) is used."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register()
    if GlobalHydra.instance().is_initialized():  # inside a Hydra app: compose with its search path
        return hydra_compose(config_name=command, overrides=list(overrides))
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return hydra_compose(config_name=command, overrides=list(overrides))
