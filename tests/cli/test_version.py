"""``edaformer.__version__`` is the installed package's version, and every command prints it on ``--version``."""

from __future__ import annotations

from importlib.metadata import version

import pytest

import edaformer
from tests.conftest import run_main

from .test_commands import SCRIPTS, command


def test_version_is_the_installed_one():
    assert edaformer.__version__ == version("edaformer")


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_command_prints_the_version(script, capsys):
    assert run_main(command(script), "--version") == 0
    assert capsys.readouterr().out == f"edaformer {edaformer.__version__}\n"
