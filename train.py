"""Train EDAFormer / EFT: ``python train.py [model=edaformer_b] [data=cityscapes] [key=value ...]``.

The same command as ``edaformer-train``. With no arguments: EDAFormer-T on the built-in demo data (CPU, a few
minutes). ``python train.py --help`` lists the arguments; see README and conf/README.md.
"""

from edaformer.cli.train import main

if __name__ == "__main__":
    raise SystemExit(main())
