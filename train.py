"""Train EDAFormer / EFT: ``python train.py [model=edaformer_b] [data=cityscapes] [key=value ...]``.

With no arguments: EDAFormer-T on the built-in demo data (CPU, a few minutes). See README and conf/train.yaml.
"""

from edaformer.cli.train import main

if __name__ == "__main__":
    main()
