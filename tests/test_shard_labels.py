"""AudioSet `generate --shard K/N`: each label description is asked by the one shard that owns it, the others
wait for it (reading the owner's ledger), and the merge asks nothing (generation/labels.py)."""

from __future__ import annotations

import json
import os
import random
import signal
import string
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from chat_server import ChatServer
from conftest import sigint_as_in_a_terminal
from test_generate import FAST, GROUNDED_FLAGS, write_strong

from _audio_dialogues.core.strong_labels import Event, StrongClip, shipped_label_names
from _audio_dialogues.engine.shard import Shard, owner
from _audio_dialogues.generation.clips import Clip, Job
from _audio_dialogues.generation.labels import plan_labels
from _audio_dialogues.generation.pipeline import generate

LABELS = sorted(shipped_label_names())[:12]  # owned by each of 4 shards, and by both of 2
NAMES = {label: shipped_label_names()[label] for label in LABELS}
IDS = ["".join(random.Random(f"labels{n}").choices(string.ascii_letters, k=11)) for n in range(16)]
CLIP_LABELS = {y: random.Random(y).sample(LABELS, random.Random(y).randint(2, 3)) for y in IDS}
DESCRIBE = "Describe the acoustic character"


def write_sources(tmp_path: Path) -> list[str]:
    """16 AudioSet clips (12 train, 4 test), each with 2 or 3 of the 12 labels."""
    rows = [(f"{y}_0", 1.0 * i, 1.0 * i + 2, label) for y in IDS for i, label in enumerate(CLIP_LABELS[y])]
    train = write_strong(tmp_path / "train_strong.tsv", [row for row in rows if row[0][:11] in IDS[:12]])
    test = write_strong(tmp_path / "eval_strong.tsv", [row for row in rows if row[0][:11] in IDS[12:]])
    return [f"train={train}", f"test={test}"]


def _generate(out: Path, sources: list[str], base_url: str, *more: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    script = Path(sys.executable).with_name("audio-dialogues")  # the installed console script
    command = [str(script), "generate", str(out), "--config", "audioset_dialogues", "--base-url", base_url,
               "--model", "test-model", "--backoff", "0.01", *GROUNDED_FLAGS, *more]  # fmt: skip
    command += [f"--source={source}" for source in sources]
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env,
                            preexec_fn=sigint_as_in_a_terminal)  # fmt: skip


def _finish(process: subprocess.Popen) -> str:
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return stdout


def _described(chat: ChatServer) -> Counter:
    """How many times each label's description was asked (by its name)."""
    prompts = [body["messages"][-1]["content"] for body in chat.requests]
    return Counter(prompt.split('"')[1] for prompt in prompts if prompt.startswith(DESCRIBE))


def _dialogue_prompts(chat: ChatServer) -> list[str]:
    return sorted(
        json.dumps(b["messages"]) for b in chat.requests if not b["messages"][-1]["content"].startswith(DESCRIBE)
    )


def _keys(path: Path) -> set[str]:
    return {json.loads(line)["key"] for line in path.read_text().splitlines()} if path.exists() else set()


def _wait_for_line(path: Path, text: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while text not in path.read_text() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text in path.read_text(), path.read_text()


def test_each_label_has_one_owner_and_a_shard_awaits_only_what_its_dialogues_need():
    clips = [
        Clip(y, "train", strong=StrongClip(y, 0, [Event(label, 0.0, 1.0) for label in CLIP_LABELS[y]])) for y in IDS
    ]
    jobs = [Job(clip.youtube_id, "train", (clip,)) for clip in clips]
    described, failed = {LABELS[0]}, {LABELS[1], LABELS[2]}
    needed = {label for y in IDS for label in CLIP_LABELS[y]}

    whole = plan_labels(clips, jobs[:4], None, described, failed)  # unsharded: what its pending dialogues need
    used = {label for y in IDS[:4] for label in CLIP_LABELS[y]} - described
    assert whole.ask == sorted(used - failed) and whole.failed == used & failed and whole.awaited == {}

    for count in (2, 3, 4):
        plans = [plan_labels(clips, [j for j in jobs if owner(j.key, count) == k], Shard(k, count), described, failed)
                 for k in range(1, count + 1)]  # fmt: skip
        asked = [label for plan in plans for label in plan.ask]
        assert sorted(asked) == sorted(needed - described - failed)  # every label once, by one shard
        for k, plan in enumerate(plans, start=1):
            assert all(owner(label, count) == k for label in plan.ask)
            assert all(owner(label, count) == by.index != k for label, by in plan.awaited.items())
            assert not set(plan.awaited) & failed  # a failed label is not waited for
            mine = {label for j in jobs if owner(j.key, count) == k for label in CLIP_LABELS[j.key]} - described
            assert mine <= set(plan.ask) | set(plan.awaited) | plan.failed
            now, later = plan.ready([j for j in jobs if owner(j.key, count) == k])
            assert all(not set(CLIP_LABELS[j.key]) & set(plan.awaited) for j in now)
            assert all(set(CLIP_LABELS[j.key]) & set(plan.awaited) for j in later)

    again = [plan_labels(clips, jobs, Shard(k, 2), described, failed, retry_failed=True) for k in (1, 2)]
    assert sorted(label for plan in again for label in plan.ask) == sorted(needed - described)  # failed asked again
    assert all(not set(plan.awaited) & failed for plan in again)  # by their owner; the others do not wait


@pytest.mark.parametrize("count", [2, 4])
def test_n_audioset_shards_at_once_ask_each_label_once_and_the_merge_writes_the_release_of_one_run(tmp_path, count):
    sources = write_sources(tmp_path)
    with ChatServer(delay=0.05) as chat:
        single = tmp_path / "single"
        _finish(_generate(single, sources, chat.base_url))
        assert _described(chat) == Counter(NAMES.values())  # 12 labels, each once
        asked_once = _dialogue_prompts(chat)
        assert len(asked_once) == 16

        sharded = tmp_path / "sharded"
        chat.requests.clear()
        runs = [_generate(sharded, sources, chat.base_url, "--shard", f"{k}/{count}") for k in range(1, count + 1)]
        outputs = [_finish(run) for run in runs]
        assert _described(chat) == Counter(NAMES.values())  # each label asked once, by one shard
        assert _dialogue_prompts(chat) == asked_once  # every dialogue asked once, with every description
        for k in range(1, count + 1):  # each shard wrote only its own labels, into its own ledger
            own = _keys(sharded / f"label_descriptions.shard-{k}-of-{count}.jsonl")
            assert own == {label for label in LABELS if owner(label, count) == k}
        assert not (sharded / "label_descriptions.jsonl").exists()
        assert all("the release is written by the merge" in output for output in outputs)

        chat.requests.clear()
        _finish(_generate(sharded, sources, chat.base_url))
        assert chat.requests == []  # the merge asked for nothing
    for name in ("train.jsonl", "test.jsonl", "filtered.tsv", "failed.tsv"):
        assert (sharded / "audioset_dialogues" / name).read_bytes() == (
            single / "audioset_dialogues" / name
        ).read_bytes()

    def descriptions(out: Path) -> dict[str, str]:
        rows = [json.loads(line) for line in (out / "label_descriptions.jsonl").read_text().splitlines()]
        return {row["key"]: row["description"] for row in rows}

    assert descriptions(sharded) == descriptions(single) and len(descriptions(single)) == 12


def test_a_shard_waits_for_its_owner_stops_on_ctrl_c_and_its_wait_expires_with_the_fix(tmp_path):
    sources, out = write_sources(tmp_path), tmp_path / "out"
    others = [label for label in LABELS if owner(label, 2) == 2]
    part = [y for y in IDS if owner(y, 2) == 1]
    ready = [y for y in part if all(owner(label, 2) == 1 for label in CLIP_LABELS[y])]
    assert 0 < len(ready) < len(part)  # shard 1 has dialogues to ask at once, and some that need shard 2's labels
    ledger = out / "audioset_dialogues" / "ledger.shard-1-of-2.jsonl"
    with ChatServer() as chat:
        summary = generate(out, "audioset_dialogues", sources=sources, base_url=chat.base_url, shard="1/2",
                           dry_run=True, **FAST)  # fmt: skip
        assert chat.requests == []  # a dry run does not wait (nor send)
        awaited = sum(owner(label, 2) == 2 for label in {lab for y in part for lab in CLIP_LABELS[y]})
        notes = "\n".join(summary.notes)
        assert (
            f"shard 1/2: {awaited} labels of its clips are described by the shards that own them (shard 2/2: " in notes
        )

        alone = _generate(out, sources, chat.base_url, "--shard", "1/2", "--label-wait", "0.5")
        stdout, stderr = alone.communicate(timeout=120)
        assert alone.returncode == 2, stderr
        assert f"shard 1/2 waited 0.5 s (--label-wait) for {awaited} label descriptions that other shards ask" in stderr
        assert "shard 2/2: label_descriptions.shard-2-of-2.jsonl lacks " in stderr
        assert "Run the same command with --shard 2/2" in stderr and "or run without --shard" in stderr
        assert set(_described(chat)) == {NAMES[label] for label in LABELS if owner(label, 2) == 1}
        assert _keys(ledger) == set(ready)  # the dialogues that needed no other shard's label were asked and kept

        log = tmp_path / "stderr.txt"
        with log.open("w") as err:
            stopped = _generate(out, sources, chat.base_url, "--shard", "1/2", stderr=err)
        _wait_for_line(log, "shard 1/2: waiting for", stopped)
        stopped.send_signal(signal.SIGINT)  # Ctrl-C while waiting: a clean stop, as during the requests
        stopped.communicate(timeout=60)
        assert stopped.returncode == 130, log.read_text()
        assert "the wait for label descriptions is stopped; rerun the same command to go on" in log.read_text()
        assert chat.count(DESCRIBE) == len(LABELS) - len(others) and _keys(ledger) == set(ready)  # nothing again

        with log.open("w") as err:
            waiting = _generate(out, sources, chat.base_url, "--shard", "1/2", stderr=err)
        _wait_for_line(
            log, f"shard 1/2: waiting for {awaited} label descriptions (shard 2/2: {awaited}), up to 3600 s", waiting
        )
        _finish(_generate(out, sources, chat.base_url, "--shard", "2/2"))  # the owner: its labels, then its part
        _finish(waiting)
        assert "shard 1/2: the awaited label descriptions are recorded" in log.read_text()
        assert _described(chat) == Counter(NAMES.values())  # through the expiry, the stop and the wait: once each
        chat.requests.clear()
        _finish(_generate(out, sources, chat.base_url))
        assert chat.requests == []
    records = [
        json.loads(line)
        for split in ("train", "test")
        for line in (out / "audioset_dialogues" / f"{split}.jsonl").open()
    ]
    assert len(records) == 16 and all(event["description"] for r in records for event in r["events"])


def test_a_label_whose_owner_failed_is_not_waited_for_and_is_shown_by_name(tmp_path):
    sources, out = write_sources(tmp_path), tmp_path / "out"
    part = [y for y in IDS if owner(y, 2) == 1]
    lost = next(label for label in LABELS if owner(label, 2) == 2 and any(label in CLIP_LABELS[y] for y in part))
    with ChatServer() as chat:
        chat.add(f'"{NAMES[lost]}"', "")  # an empty reply: the description fails (no retries)
        runs = [_generate(out, sources, chat.base_url, "--retries", "0", "--shard", f"{k}/2") for k in (1, 2)]
        outputs = [_finish(run) for run in runs]
        assert _described(chat) == Counter(NAMES.values())  # the failed one too: asked once, by its owner
        owned = sum(owner(label, 2) == 2 for label in LABELS)
        assert f"label descriptions: {owned} requested, 1 failed" in outputs[1]
        assert "have no description (their request failed" in outputs[0] and lost in outputs[0]
        assert "their events are shown by name only" in outputs[0]
        chat.requests.clear()
        merged = _finish(_generate(out, sources, chat.base_url, "--retries", "0"))
        assert chat.requests == []  # the merge does not ask the failed label again (--retry-failed would)
        assert "labels of the clips to ask have no description" not in merged  # it has nothing left to ask
    records = [
        json.loads(line)
        for split in ("train", "test")
        for line in (out / "audioset_dialogues" / f"{split}.jsonl").open()
    ]
    events = [event for r in records for event in r["events"]]
    assert {e["description"] is None for e in events if e["mid"] == lost} == {True}
    assert all(e["description"] for e in events if e["mid"] != lost)
    assert any(e["mid"] == lost for r in records if r["audio_id"][1:12] in part for e in r["events"])
