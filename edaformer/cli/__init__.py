"""Hydra entry points behind train.py and eval.py (and scripts/isr_table.py)."""
