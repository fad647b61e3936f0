"""Run one consumer's own code on converted files; print one JSON line per file (run by check_consumers.py).

    <consumer venv>/bin/python scripts/consumer_probes.py {swift|openai|llava} MANIFEST.json [--af3-dir DIR]

This file runs inside a consumer's throwaway environment, without audio_dialogues installed: it reads
the files written by ``audio-dialogues convert`` as plain JSON Lines and hands each record to the
consumer's loader, template and audio loader. What needs the Hugging Face Hub is stood in, the same
for every consumer: a byte-level tokenizer carrying the models' special tokens (so every text can be
found again in the tokens) and ``WhisperFeatureExtractor(feature_size=128)``, the feature extractor
class and size of Qwen2-Audio and Audio Flamingo 3.

Per file it reports ``records`` (read by the consumer), ``turns`` (turns whose question and answer are
both in the consumer's output, and for training pipelines whose answer is in the labels) and
``clips`` (clips the consumer's own audio loader loaded, non-silent), plus the first few failures.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

QWEN_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>"]
AF3_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "[BOS]",
    "[PAD]",
    "<vila/sentinel>",
    "<image>",
    "<vila/video>",
    "<sound>",
    "<speech>",
]
# Stand-in for the Qwen2.5 tokenizer's chat template (ChatML, which AF3's "auto" conversation mode renders through
# apply_chat_template): written here, not taken from the model.
CHATML = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
IGNORE_INDEX = -100


def stand_in_tokenizer(special_tokens: list[str], chat_template: str | None = None):
    """A byte-level BPE tokenizer with no merges (every byte a token) plus ``special_tokens``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {symbol: i for i, symbol in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend)
    tokenizer.add_tokens(special_tokens, special_tokens=True)
    tokenizer.eos_token, tokenizer.pad_token = "<|im_end|>", "<|endoftext|>"
    if chat_template:
        tokenizer.chat_template = chat_template
    return tokenizer


def stand_in_feature_extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=128)


def records(path: str) -> Iterator[dict]:
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def turns_of(record: dict, fmt: str) -> list[tuple[str, str]]:
    """The (question, answer) texts of a converted record, audio tags removed (what must survive)."""
    if fmt == "openai":
        texts = [
            "".join(p.get("text") or "" for p in m["content"] if p.get("type") == "text") for m in record["messages"]
        ]
    elif fmt == "llava":
        texts = [m["value"] for m in record["conversations"]]
    else:
        texts = [m["content"] for m in record["messages"]]
    texts = [re.sub(r"<sound-\d+>|<audio>", "", t).strip() for t in texts]
    return list(zip(texts[0::2], texts[1::2]))


@dataclass
class FileResult:
    """What a consumer made of one converted file; ``failures``: the first few problems, by record."""

    entry: dict
    records: int = 0
    turns: int = 0
    clips: int = 0
    failed: int = 0  # problems found, all of them
    failures: list[str] = field(default_factory=list)

    def fail(self, record_id: Any, problem: str) -> None:
        self.failed += 1
        if len(self.failures) < 5:
            self.failures.append(f"{record_id}: {problem}")

    def as_json(self) -> str:
        return "probe-result " + json.dumps(
            {
                "file": self.entry["file"],
                "records": self.records,
                "turns": self.turns,
                "clips": self.clips,
                "failed": self.failed,
                "failures": self.failures,
            }
        )


def run(entries: list[dict], check_record: Callable[[dict, dict, FileResult], None]) -> None:
    for entry in entries:
        result = FileResult(entry)
        for index, record in enumerate(records(entry["file"])):
            try:
                check_record(record, entry, result)
            except Exception as err:  # a consumer error is a finding, reported per record
                result.fail(record.get("id", index), f"{type(err).__name__}: {err}".splitlines()[0][:300])
                if len(result.failures) == 1:
                    traceback.print_exc(file=sys.stderr)
        print(result.as_json(), flush=True)


# ---------------------------------------------------------------------------------------------------
# openai: Qwen2-Audio through transformers


def probe_openai(entries: list[dict], _args) -> None:
    """transformers' Qwen2AudioProcessor, with the chat template it carries for Qwen2-Audio (a copy of the
    Hub's); the rendered text, transformers' own audio loading, and the model card's urlopen loop."""
    from io import BytesIO
    from urllib.request import urlopen

    import librosa
    from transformers import Qwen2AudioProcessor

    processor = Qwen2AudioProcessor(
        feature_extractor=stand_in_feature_extractor(), tokenizer=stand_in_tokenizer(QWEN_TOKENS)
    )
    rate = processor.feature_extractor.sampling_rate

    def check(record: dict, entry: dict, result: FileResult) -> None:
        result.records += 1
        messages = record["messages"]
        text = processor.apply_chat_template(messages, tokenize=False)
        audio_parts = [p for m in messages for p in m["content"] if p.get("type") == "audio"]
        if text.count("<|AUDIO|>") != len(audio_parts):
            result.fail(record["id"], f"template: {text.count('<|AUDIO|>')} audio slots for {len(audio_parts)} clips")
        inputs = processor.apply_chat_template(messages, tokenize=True, return_dict=True)
        decoded = processor.tokenizer.decode(inputs["input_ids"][0])
        kept = sum(
            1 for q, a in turns_of(record, "openai") if q in text and a in text and q in decoded and a in decoded
        )
        result.turns += kept
        features = inputs.get("input_features")
        loaded = 0 if features is None else int(features.shape[0])
        card, card_error = 0, ""
        for part in audio_parts:  # the card's loop: librosa.load(BytesIO(urlopen(ele['audio_url']).read()), sr=...)
            try:
                samples, _ = librosa.load(BytesIO(urlopen(part["audio_url"]).read()), sr=rate)
            except Exception as err:
                card_error = f" ({type(err).__name__}: {err})"
                continue
            card += int(len(samples) > 0 and float(abs(samples).max()) > 0)
        if loaded != len(audio_parts) or card != len(audio_parts):
            result.fail(
                record["id"],
                f"clips loaded: by transformers {loaded}, by the card loop {card}{card_error}, of {len(audio_parts)}",
            )
        else:
            result.clips += loaded

    run(entries, check)


# ---------------------------------------------------------------------------------------------------
# llava: Audio Flamingo 3's LazySupervisedDataset


def probe_llava(entries: list[dict], args) -> None:
    """AF3's own dataset class (its branch audio_flamingo_3, imported from --af3-dir): __getitem__ on each record."""
    import importlib
    import types

    af3 = Path(args.af3_dir).resolve()
    # Import llava.data.dataset and what it imports, without running the packages' __init__ files, which load
    # the model code (flash-attn, deepspeed, ...) that reading data does not use.
    for package in ("llava", "llava.data", "llava.train", "llava.utils", "llava.train.sequence_parallel"):
        module = types.ModuleType(package)
        module.__path__ = [str(af3.joinpath(*package.split(".")))]
        sys.modules[package] = module
    sequence_parallel = sys.modules["llava.train.sequence_parallel"]
    for name in ("extract_local_from_list", "extract_local_input_ids", "extract_local_position_ids"):
        input_utils = importlib.import_module("llava.train.sequence_parallel.input_utils")
        setattr(sequence_parallel, name, getattr(input_utils, name))
    try:
        globals_module = importlib.import_module("llava.train.sequence_parallel.globals")
        sequence_parallel.get_pg_manager = globals_module.get_pg_manager
    except ImportError:  # it needs deepspeed; only AF3's other dataset classes call it, never LazySupervisedDataset

        def get_pg_manager():
            raise RuntimeError("deepspeed is not installed in this check's environment")

        sequence_parallel.get_pg_manager = get_pg_manager
    dataset_module = importlib.import_module("llava.data.dataset")
    from llava.train.args import DataArguments

    feature_extractor = stand_in_feature_extractor()
    # AF3 calls AutoFeatureExtractor.from_pretrained('Qwen/Qwen2-Audio-7B'): the Hub; stood in by the same class.
    dataset_module.AutoFeatureExtractor = types.SimpleNamespace(from_pretrained=lambda *a, **k: feature_extractor)
    tokenizer = stand_in_tokenizer(AF3_TOKENS, CHATML)
    data_args = DataArguments(is_multimodal=True)

    def check_file(entry: dict) -> None:
        dataset = dataset_module.LazySupervisedDataset(entry["file"], "", tokenizer, data_args, None)
        result = FileResult(entry)
        for i in range(len(dataset)):
            record = dataset.list_data_dict[i]
            try:
                item = dataset[i]
            except Exception as err:
                result.fail(record.get("id", i), f"{type(err).__name__}: {err}".splitlines()[0][:300])
                continue
            result.records += 1
            labels = item["labels"]
            answer_tokens = tokenizer.decode(labels[labels != IGNORE_INDEX])
            rendered = tokenizer.decode(item["input_ids"])
            kept = sum(1 for q, a in turns_of(record, "llava") if q in rendered and a in answer_tokens)
            result.turns += kept
            windows = item["sound_feature_masks"]
            nclips = len(record["sound"]) if isinstance(record["sound"], list) else 1
            loaded = 0 if windows is None else int(sum(1 for w in windows if int(w.sum()) > 0))
            if kept != len(turns_of(record, "llava")):
                result.fail(record.get("id", i), f"{kept} of {len(turns_of(record, 'llava'))} turns in the labels")
            if loaded != nclips:  # AF3 replaces a clip it cannot load with zeros and goes on
                result.fail(record.get("id", i), f"{loaded} of {nclips} clips loaded")
            else:
                result.clips += loaded
        print(result.as_json(), flush=True)

    for entry in entries:
        check_file(entry)


# ---------------------------------------------------------------------------------------------------
# swift: ms-swift's dataset loader and the qwen2_audio template


def probe_swift(entries: list[dict], args) -> None:
    """ms-swift's loader (strict: a record it cannot read is an error) and its qwen2_audio template's encode,
    with the processor ms-swift's get_processor loads from a local model folder holding the stand-ins."""
    import tempfile

    from swift.dataset import load_dataset
    from swift.model import get_processor
    from swift.template import get_template
    from transformers import Qwen2AudioConfig, Qwen2AudioProcessor

    model_dir = Path(tempfile.mkdtemp(prefix="qwen2-audio-stand-in-"))
    Qwen2AudioConfig().save_pretrained(model_dir)  # the architecture's defaults; no weights are loaded
    Qwen2AudioProcessor(
        feature_extractor=stand_in_feature_extractor(), tokenizer=stand_in_tokenizer(QWEN_TOKENS)
    ).save_pretrained(model_dir)
    processor = get_processor(str(model_dir), model_type="qwen2_audio")
    template = get_template(processor, template_type="qwen2_audio")
    template.set_mode("train")
    tokenizer = processor.tokenizer

    for entry in entries:
        result = FileResult(entry)
        written = list(records(entry["file"]))
        try:
            dataset, _ = load_dataset([entry["file"]], strict=True, load_from_cache_file=False)
        except Exception as err:
            result.fail("file", f"load_dataset: {type(err).__name__}: {err}".splitlines()[0][:300])
            print(result.as_json(), flush=True)
            continue
        for index, (row, record) in enumerate(zip(dataset, written)):
            result.records += 1
            try:
                encoded = template.encode(row)
            except Exception as err:
                result.fail(index, f"encode: {type(err).__name__}: {err}".splitlines()[0][:300])
                continue
            labels = [t for t in encoded["labels"] if t != IGNORE_INDEX]
            answers, rendered = tokenizer.decode(labels), tokenizer.decode(encoded["input_ids"])
            expected = turns_of(record, "swift")
            kept = sum(1 for q, a in expected if q in rendered and a in answers)
            result.turns += kept
            masks = encoded.get("feature_attention_mask")
            loaded = 0 if masks is None else int(sum(1 for m in masks if int(m.sum()) > 0))
            if kept != len(expected):
                result.fail(index, f"{kept} of {len(expected)} turns in the labels")
            if loaded != len(record["audios"]):
                result.fail(index, f"{loaded} of {len(record['audios'])} clips loaded")
            else:
                result.clips += loaded
        if len(dataset) != len(written):
            result.fail("file", f"ms-swift read {len(dataset)} of {len(written)} records")
        print(result.as_json(), flush=True)


PROBES = {"openai": probe_openai, "llava": probe_llava, "swift": probe_swift}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("format", choices=PROBES)
    parser.add_argument("manifest")
    parser.add_argument("--af3-dir")
    args = parser.parse_args()
    entries = [e for e in json.loads(Path(args.manifest).read_text(encoding="utf-8")) if e["format"] == args.format]
    PROBES[args.format](entries, args)


if __name__ == "__main__":
    main()
