"""The published split sizes and features agree across SUBSETS, dataset_infos.json and the card's YAML."""

import json

import datasets
from conftest import REPO
from datasets.info import DatasetInfosDict
from huggingface_hub import DatasetCard

from _audio_dialogues.loading.features import dataset_features
from audio_dialogues import SUBSETS


def expected_features(name):
    ours = dataset_features(SUBSETS[name].rules.multi_audio, sampling_rate=16000, decode=True)
    return datasets.Features.from_dict(ours.to_dict())  # as any reader sees it: plain datasets.Audio


def test_dataset_infos_json_matches_the_table():
    infos = json.loads((REPO / "dataset_infos.json").read_text(encoding="utf-8"))
    assert set(infos) == set(SUBSETS)
    for name, subset in SUBSETS.items():
        assert {split: info["num_examples"] for split, info in infos[name]["splits"].items()} == subset.published
        assert datasets.Features.from_dict(infos[name]["features"]) == expected_features(name)


def test_readme_yaml_matches_the_table():
    card = DatasetCard.load(REPO / "README.md")
    infos = DatasetInfosDict.from_dataset_card_data(card.data)
    assert set(infos) == set(SUBSETS)
    for name, subset in SUBSETS.items():
        assert {split: info.num_examples for split, info in infos[name].splits.items()} == subset.published
        assert infos[name].features == expected_features(name)
