"""Scoring a model the paper's way (``audio-dialogues evaluate``): :mod:`.protocol` has a model answer a split
turn by turn (on the run engine); :mod:`.score` scores the answers (BLEU-4, ROUGE-L, CIDEr).
"""
