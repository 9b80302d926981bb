"""The Hydra config tree of every ``edaformer-*`` command.

It stays at the top level of the repository and is mapped into the package as ``edaformer.conf`` when the
package is built (``[tool.setuptools.package-dir]`` in ``pyproject.toml``), so an installed wheel finds it from
any directory. This file only makes the folder an importable package; Hydra reads the YAML files.
"""
