"""Evaluate a checkpoint: ``python eval.py ckpt_path=PATH [data=...] [isr=paper]``.

ISR sweep (the paper's Table 4): ``python eval.py -m ckpt_path=PATH isr=train,dec2x,paper,aggressive``, then
``python scripts/isr_table.py MULTIRUN_DIR``.
"""

from edaformer.cli.eval import main

if __name__ == "__main__":
    main()
