"""Scoring predictions the paper's way (BLEU-4, ROUGE-L, CIDEr: :mod:`.score`) and the multi-turn protocol."""
