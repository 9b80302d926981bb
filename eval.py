"""Evaluate a checkpoint: ``python eval.py ckpt_path=PATH [data=...] [isr=paper]`` (the same as ``edaformer-eval``).

ISR sweep (the paper's Table 4): ``python eval.py -m ckpt_path=PATH isr=train,dec2x,paper,aggressive``, then
``edaformer-isr-table sweep_dir=MULTIRUN_DIR``. ``python eval.py --help`` lists the arguments.
"""

from edaformer.cli.eval import main

if __name__ == "__main__":
    raise SystemExit(main())
