"""The dataset card (README.md) of an export: the YAML the Hub and ``datasets`` read, and the prose.

The YAML holds ``configs`` (which files make which config and split) and ``dataset_info`` (features
and split sizes, written with ``datasets``' own writer), so plain ``datasets.load_dataset(OUT_DIR, config)``
and the Hub viewer read the export without this package. The prose says what the copy holds and,
for the audio, what is not in it and how to get it.
"""

from __future__ import annotations

from typing import Mapping

from datasets.info import DatasetInfosDict

from ..core.sources import ReleaseSource
from ..core.subsets import SUBSETS
from ..loading.builder import _CITATION


def dataset_card(
    infos: DatasetInfosDict, embed_audio: bool, releases: Mapping[str, ReleaseSource] | None = None
) -> str:
    """The README.md of an export of ``infos`` (by config; the first is the default): YAML (configs,
    dataset_info, licence, tags) and the prose; ``embed_audio``: the Parquet files hold the clips;
    ``releases``: what each config was read from (the sample, a generated release with its manifest,
    or a release without one), for the provenance and the licences."""
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
    releases = releases or {}
    provenance = "\n".join(f"- {provenance_line(c, releases.get(c))}" for c in configs)
    return f"""---
{front}---

# Audio Dialogues

Multi-turn dialogues about sounds (AudioSet) and music (MusicCaps), made by a chat model from the clips'
labels or captions and filtered, as in [arXiv 2404.07616](https://arxiv.org/abs/2404.07616) (the paper used
GPT-4; what made this copy is under *Provenance*). This copy was written by `audio-dialogues export`
from the loader's output, as Parquet that `datasets.load_dataset` reads without any script:

```python
import datasets
ds = datasets.load_dataset("<this folder or repository>", "{configs[0]}")
```

## Provenance

{provenance}

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

{licences(configs, releases, embed_audio)}
"""


def provenance_line(config: str, release: ReleaseSource | None) -> str:
    """What one config of the export was read from, in one bullet."""
    if release is None:
        return f"`{config}`: not stated."
    if release.is_sample:
        return (
            f"`{config}`: **the bundled sample** of the `audio-dialogues` package (12 + 12 dialogues written for its "
            "tests from MusicCaps captions and AudioSet labels; not the Audio Dialogues dataset, not made by a model)."
        )
    entry = release.manifest
    if entry is None:
        return (
            f"`{config}`: a release without a manifest, checked against the paper's published split sizes; its "
            "origin is that of the copy the exporter had (not recorded)."
        )
    filters = entry.get("filters", {})
    similarity = filters.get("similarity")
    removed = ", ".join(f"{name}: {n}" for name, n in (filters.get("removed") or {}).items()) or "nothing"
    counts = ", ".join(f"{split} {n:,}" for split, n in entry.get("splits", {}).items())
    sources = ", ".join(f"`{s['path']}` (sha256 `{s['sha256'][:12]}`)" for s in entry.get("sources", [])) or "none"
    return (
        f"`{config}`: generated on {entry.get('date', '?')} by `audio-dialogues generate` {entry.get('version', '?')} "
        f"with the model **`{entry.get('model', '?')}`**; prompt: {entry.get('prompt', '?')} (sha256 "
        f"`{str(entry.get('prompt_sha256', '?'))[:12]}`); filters: low-confidence phrases"
        + (f", similarity ({similarity}) >= {filters.get('min_similarity')}" if similarity else ", similarity off")
        + f" (removed: {removed}); sources: {sources}; records: {counts}."
    )


def licences(configs: list[str], releases: Mapping[str, ReleaseSource], embed_audio: bool) -> str:
    """Each part's licence: the text by where it came from, the metadata, the audio."""
    lines = []
    for config in configs:
        release = releases.get(config)
        if release is not None and release.is_sample:
            text = "the bundled sample's text: CC BY-SA 4.0 (built from MusicCaps captions)"
        elif release is not None and release.manifest is not None:
            text = (
                f"the generated text: under the terms of the provider of the model `{release.manifest.get('model')}` "
                "that wrote it"
            )
        else:
            text = "the dialogue text: the terms of the release it was read from"
        lines.append(f"- `{config}`, {text}.")
    lines += [
        "- AudioSet labels (the source of the audioset configs' prompts): CC BY 4.0 (Google).",
        "- MusicCaps captions and metadata (the source of `music_dialogues`' prompts): CC BY-SA 4.0 (Google).",
        "- The audio: YouTube clips, not redistributable"
        + (
            "; embedded here for private or local use only, under YouTube's terms."
            if embed_audio
            else ", not included."
        ),
    ]
    return "\n".join(lines)
