"""The dataset card (README.md) of an export: the YAML the Hub and ``datasets`` read, and the prose.

The YAML holds ``configs`` (which files make which config and split) and ``dataset_info`` (features
and split sizes, written with ``datasets``' own writer), so plain ``datasets.load_dataset(OUT_DIR, config)``
and the Hub viewer read the export without this package. The prose says what the copy holds and,
for the audio, what is not in it and how to get it.
"""

from __future__ import annotations

from datasets.info import DatasetInfosDict

from ..core.subsets import SUBSETS
from ..loading.builder import _CITATION

_AUDIO_LICENCE = {True: "; embedded here for private or local use only", False: ", not included"}


def dataset_card(infos: DatasetInfosDict, embed_audio: bool) -> str:
    """The README.md of an export of ``infos`` (by config; the first is the default): YAML (configs,
    dataset_info, licence, tags) and the prose; ``embed_audio``: the Parquet files hold the clips."""
    from huggingface_hub import DatasetCardData

    configs = list(infos)
    card_data = DatasetCardData(
        pretty_name="Audio Dialogues",
        language=["en"],
        license="other",
        license_name="audio-dialogues-mixed",
        tags=["audio", "music", "dialogue", "audioset", "musiccaps"],
        task_categories=["question-answering"],
        configs=[
            {
                "config_name": c,
                "data_files": [{"split": s, "path": f"data/{c}/{s}-*"} for s in infos[c].splits],
                **({"default": True} if i == 0 else {}),
            }
            for i, c in enumerate(configs)
        ],
    )
    infos.to_dataset_card_data(card_data)
    front = card_data.to_yaml() + "\n"
    sizes = "\n".join(
        f"| `{c}` | {SUBSETS[c].description} | "
        + " | ".join(f"{s}: {infos[c].splits[s].num_examples:,}" for s in infos[c].splits)
        + " |"
        for c in configs
    )
    columns = ", ".join(f"`{name}`" for name in infos[configs[0]].features)
    if embed_audio:
        audio = (
            "**This copy embeds the audio** (`audio-dialogues export --embed-audio`): each clip's file bytes are in "
            'the Parquet files (`{"bytes", "path": file name}`; `None` where the clip was not found), so it is '
            "self-contained and the viewer shows players. The clips are YouTube material that may not be "
            "redistributed: keep this copy **private or local**; do not publish it.\n\n"
            "On datasets 4.x/5.x, decoding an `Audio` column needs torch + torchcodec; without them,\n"
            "`ds = audio_dialogues.restore_audio_decoding(ds)` (the `audio-dialogues` package) decodes every audio "
            "column with soundfile, or use `datasets.Audio(decode=False)` for the raw bytes."
        )
    else:
        audio = (
            "**No audio is included**: the clips are YouTube material that may not be redistributed, so this copy "
            "has the text and ids only (no audio column). To get the audio, download the clips yourself (AudioSet "
            "and MusicCaps clips are 10 s segments of YouTube videos, e.g. with `yt-dlp --download-sections`) into "
            "a folder, then load with the `audio-dialogues` package, which joins each dialogue with its clip by "
            "`youtube_id` and reports the missing ones:\n\n"
            "```python\nfrom audio_dialogues import load_dataset\n"
            'ds = load_dataset("music_dialogues", data_dir="path/to/release", audio_dir="path/to/clips")\n```'
        )
    return f"""---
{front}---

# Audio Dialogues

Multi-turn dialogues about sounds (AudioSet) and music (MusicCaps), generated with GPT-4 and filtered
([arXiv 2404.07616](https://arxiv.org/abs/2404.07616)). This copy was written by `audio-dialogues export`
from the loader's output, as Parquet that `datasets.load_dataset` reads without any script:

```python
import datasets
ds = datasets.load_dataset("<this folder or repository>", "{configs[0]}")
```

## Structure

| config | content | splits |
|---|---|---|
{sizes}

Files: `data/<config>/<split>-NNNNN-of-MMMMM.parquet`. Columns (`{configs[0]}`): {columns}.
`dialogue` is a list of `{{"user", "assistant"}}` turns, `num_turns` its length; `youtube_id(s)` identify the
10 s YouTube clip(s) a dialogue is about and `audio_id(s)` the release's file name(s) for them.

## Audio

{audio}

## Citation

```bibtex
{_CITATION.strip()}
```

## Licences

- The dialogue text: the terms of the Audio Dialogues release.
- The audio: YouTube clips, not redistributable{_AUDIO_LICENCE[embed_audio]}.
- MusicCaps metadata, where present: CC BY-SA 4.0 (Google).
"""
