"""Write the published split sizes and features into dataset_infos.json and the README's YAML.

Both are derived from the SUBSETS table (_audio_dialogues/subsets.py) and the builder's constants, so
they cannot drift from them (tests/test_metadata.py checks the three agree). Run it with datasets 3.6 so
the files use the feature spelling every supported version reads (3.6 does not know 4.x's ``List``):

    .venv/datasets36/bin/python scripts/write_dataset_infos.py
"""

from __future__ import annotations

from pathlib import Path

import datasets
from datasets.info import DatasetInfosDict

from _audio_dialogues.core.subsets import SUBSETS
from _audio_dialogues.loading import builder
from _audio_dialogues.loading.features import dataset_features

REPO = Path(__file__).resolve().parent.parent


def published_infos() -> DatasetInfosDict:
    infos = DatasetInfosDict()
    for name, subset in SUBSETS.items():
        features = dataset_features(subset.rules.multi_audio, sampling_rate=16000, decode=True)
        # Serialise as plain datasets.Audio: what the Hub and other readers know.
        features = datasets.Features.from_dict(features.to_dict())
        splits = datasets.SplitDict()
        for split, size in subset.published.items():
            splits.add(datasets.SplitInfo(name=split, num_examples=size, dataset_name="audio_dialogues"))
        infos[name] = datasets.DatasetInfo(
            description=f"{builder._DESCRIPTION} {subset.description}",
            citation=builder._CITATION,
            homepage=builder._HOMEPAGE,
            license=builder._LICENSE,
            features=features,
            splits=splits,
            builder_name="audio_dialogues",
            dataset_name="audio_dialogues",
            config_name=name,
            version=builder._VERSION,
        )
    return infos


def main() -> None:
    infos_path = REPO / "dataset_infos.json"
    if not infos_path.exists():
        infos_path.write_text("{}\n")  # datasets only rewrites the JSON file when it exists
    # datasets' own writer: the JSON file and the README's YAML `dataset_info`, card prose kept.
    published_infos().write_to_directory(str(REPO), pretty_print=True)  # every config is rewritten


if __name__ == "__main__":
    main()
