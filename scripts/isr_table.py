"""Gather an ISR sweep into the paper's Table 4 (Markdown + CSV + mIoU-vs-GFLOPs plot).

python eval.py -m ckpt_path=PATH isr=train,dec2x,paper,aggressive
python scripts/isr_table.py outputs/eval/multiruns/<date_time> [--wandb]
"""

from edaformer.cli.isr_table import main

if __name__ == "__main__":
    main()
