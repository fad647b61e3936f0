"""MS-CLAP (Microsoft's CLAP, the ``msclap`` package): the audio embeddings the paper chose comparison neighbours by.

``--msclap-checkpoint FILE`` (e.g. ``CLAP_weights_2023.pth``) builds a :class:`MsClapScorer`; its audio
embeddings then choose the neighbours of each comparison (:mod:`.neighbours`), and it can score
texts like :class:`~.filters.ClapScorer`. Weights are never downloaded here: the checkpoint is the
file the user gives. (``msclap`` itself loads its text encoder, ``gpt2`` for version 2023 and
``bert-base-uncased`` for 2022, through ``transformers``: from the local Hugging Face cache, or
fetched by ``transformers`` when it is not there.)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

MSCLAP_VERSIONS = ("2022", "2023")


class MsClapScorer:
    """MS-CLAP cosine similarity between a clip and a text, and MS-CLAP audio embeddings.

    ``model`` is anything with msclap's ``get_audio_embeddings([paths], resample=True)`` and
    ``get_text_embeddings([texts])`` (torch tensors or arrays); without it ``msclap.CLAP`` is built
    from ``checkpoint``. Audio embeddings are computed once per file and kept.
    """

    def __init__(
        self, checkpoint: str | os.PathLike | None = None, *, model=None, version: str = "2023", batch_size: int = 32
    ):
        if model is None:
            model = _load_msclap(checkpoint, version)
        self.model, self.batch_size = model, batch_size
        self.name = f"ms-clap:{Path(checkpoint).name if checkpoint else type(model).__name__}"
        self._audio: dict[str, np.ndarray] = {}

    def audio_embeddings(self, audio_paths: Sequence[str]) -> np.ndarray:
        todo = [p for p in dict.fromkeys(audio_paths) if p not in self._audio]
        for start in range(0, len(todo), self.batch_size):
            batch = todo[start : start + self.batch_size]
            vectors = _as_array(self.model.get_audio_embeddings(batch, resample=True))
            if len(vectors) != len(batch):
                raise ValueError(f"MS-CLAP returned {len(vectors)} audio embeddings for {len(batch)} files")
            for path, vector in zip(batch, vectors):
                self._audio[path] = _unit(vector)
        return np.stack([self._audio[p] for p in audio_paths]) if audio_paths else np.zeros((0, 0), np.float32)

    def similarity(self, audio_path: str, text: str) -> float:
        audio = self.audio_embeddings([audio_path])[0]
        return float(audio @ _unit(_as_array(self.model.get_text_embeddings([text]))[0]))


def _as_array(value) -> np.ndarray:
    """A torch tensor (any device) or an array-like as a float32 array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def _load_msclap(checkpoint: str | os.PathLike | None, version: str):
    if version not in MSCLAP_VERSIONS:
        raise ValueError(f"--msclap-version {version!r}: expected one of {', '.join(MSCLAP_VERSIONS)}")
    if checkpoint is None:
        raise ValueError(
            "MS-CLAP needs a checkpoint file (e.g. CLAP_weights_2023.pth from the microsoft/CLAP releases): "
            "pass --msclap-checkpoint FILE. Weights are never downloaded here."
        )
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"MS-CLAP checkpoint {path} does not exist: download it once and pass its path.")
    try:
        from msclap import CLAP
    except ImportError as err:
        raise ImportError(
            "MS-CLAP neighbours need the msclap package (and torch): pip install 'audio-dialogues[msclap]'."
        ) from err
    return CLAP(model_fp=str(path), version=version, use_cuda=False)
