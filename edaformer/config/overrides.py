"""Command-line overrides Hydra's grammar cannot read, rewritten into the ones it can before it parses them:
``key=~/x`` (a path in the home folder; :mod:`edaformer.config.paths`) and ``isr=16,8,2,1-2,4,8`` (an ISR setting
in the text form every other ISR value takes, where ``isr`` is a config group and commas would mean a sweep)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .paths import expand_home

__all__ = ["readable_overrides"]

# ``key=~...`` / ``+key=~...`` / ``++key=~...`` (not ``~key``: Hydra's deletion of a key)
_HOME_OVERRIDE = re.compile(r"^(?P<key>\+{0,2}[A-Za-z_][\w.@/-]*)=(?P<value>~[^,\[\]{}()'\"\s=]*)$")
# ``isr=E`` or ``isr=E-D`` with comma-separated ratios, bare or quoted as the shell left it
_ISR_TEXT = re.compile(r"^isr=(?P<q>['\"]?)(?P<encoder>\d+(?:,\d+)*)(?:-(?P<decoder>\d+(?:,\d+)*))?(?P=q)$")


def readable_overrides(args: Sequence[str]) -> list[str]:
    """``args`` (``sys.argv[1:]``) with ``key=~/x`` expanded and quoted (Hydra reads the expanded path whatever
    characters it holds) and ``isr=E-D`` turned into ``isr.encoder=[E]`` ``isr.decoder=[D]`` (``isr=E``: the
    encoder only); other arguments unchanged. The ISR values are checked where every setting is."""
    readable: list[str] = []
    for arg in args:
        home, isr = _HOME_OVERRIDE.match(arg), _ISR_TEXT.match(arg)
        if home is not None and expand_home(home["value"]) != home["value"]:
            quoted = expand_home(home["value"]).replace("'", "\\'")
            readable.append(f"{home['key']}='{quoted}'")
        elif isr is not None:
            readable.append(f"isr.encoder=[{isr['encoder']}]")
            if isr["decoder"] is not None:
                readable.append(f"isr.decoder=[{isr['decoder']}]")
        else:
            readable.append(arg)
    return readable
