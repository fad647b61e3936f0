"""Temporary: load_dataset from the package (replaced by the real loader in the architecture change)."""


def load_dataset(*args, **kwargs):
    from audio_dialogues import load_dataset as load

    return load(*args, **kwargs)
