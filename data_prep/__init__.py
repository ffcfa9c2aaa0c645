"""Dataset rendering and preprocessing for kerasseq (importable and runnable scripts)."""
