"""``review``: the sample, reviews.jsonl, Cohen's kappa, and each safety point, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from _audio_dialogues.cli.main import main
from _audio_dialogues.inspection.review import (
    RATINGS,
    ReviewFileError,
    ReviewLog,
    cohen_kappa,
    review_sample,
    review_summary,
    start_review,
)


@pytest.fixture
def server(tmp_path):
    server = start_review(tmp_path / "out", port=0, per_config=3, seed=1)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def request(server, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, data


def rate(server, **fields):
    body = json.dumps({"reviewer": "ana", "turn": 0, "rating": "correct", "note": "", **fields}).encode()
    return request(server, "POST", "/api/rate", body, {"Content-Type": "application/json"})


def test_the_sample_is_seeded_and_shows_what_each_clip_holds():
    first = review_sample(per_config=3, seed=1)
    assert [i["id"] for i in first] == [i["id"] for i in review_sample(per_config=3, seed=1)]
    assert [i["id"] for i in first] != [i["id"] for i in review_sample(per_config=3, seed=2)]
    assert {i["config"] for i in first} == {"audioset_dialogues", "music_dialogues", "audioset_comparison"}
    music = [i for i in first if i["config"] == "music_dialogues"]
    assert all(clip["caption"] for item in music for clip in item["clips"])
    comparisons = [i for i in first if i["config"] == "audioset_comparison"]
    assert all(2 <= len(i["clips"]) <= 4 for i in comparisons)


def test_a_rating_is_appended_at_once_and_the_file_is_never_rewritten(server):
    item = server.items[0]["id"]
    status, _ = rate(server, item=item, rating="partly", note="half right")
    assert status == 200
    log = server.log.path
    before = log.read_bytes()
    assert json.loads(before)["rating"] == "partly" and json.loads(before)["note"] == "half right"
    assert rate(server, item=item, rating="wrong")[0] == 200
    after = log.read_bytes()
    assert after.startswith(before) and len(after.splitlines()) == 2
    status, data = request(server, "GET", "/api/state?reviewer=ana")
    assert [e["rating"] for e in json.loads(data)["entries"]] == ["wrong"]  # the last one counts: resume there


def test_bad_ratings_are_refused_and_not_saved(server):
    item = server.items[0]["id"]
    assert rate(server, item=item, rating="great")[0] == 400
    assert rate(server, item="../../etc/passwd")[0] == 400
    assert rate(server, item=item, turn=99)[0] == 400
    assert rate(server, item=item, reviewer=" ")[0] == 400
    assert not server.log.path.exists()


def test_safety_binds_loopback_only(server):
    assert server.server_address[0] == "127.0.0.1"


def test_safety_refuses_another_host_name(server):
    """A page on another site that rebinds its DNS name to 127.0.0.1 sends its own Host: refused."""
    status, _ = request(server, "GET", "/api/items", headers={"Host": "evil.example:80"})
    assert status == 403
    status, _ = request(server, "GET", "/api/items")
    assert status == 200


def test_safety_ratings_only_as_json(server):
    """A cross-site form can post text/plain or form data, never application/json without asking first."""
    body = json.dumps({"reviewer": "x", "item": server.items[0]["id"], "turn": 0, "rating": "correct"}).encode()
    status, _ = request(server, "POST", "/api/rate", body, {"Content-Type": "text/plain"})
    assert status == 415 and not server.log.path.exists()


def test_safety_serves_only_the_clips_of_the_sample(server):
    items = json.loads(request(server, "GET", "/api/items")[1])["items"]
    served = [clip["audio"] for item in items for clip in item["clips"] if clip["audio"]]
    assert served and all(re.fullmatch(r"/audio/\d+/\d", url) for url in served)
    assert "path" not in json.dumps(items)  # the page never sees a file path
    status, data = request(server, "GET", served[0])
    assert status == 200 and len(data) > 100
    status, data = request(server, "GET", served[0], headers={"Range": "bytes=0-3"})
    assert status == 206 and len(data) == 4
    for path in ("/audio/../../etc/passwd", "/audio/%2e%2e/x", "/audio/999/0", "/audio/0/9", "/etc/passwd", "/x.wav"):
        assert request(server, "GET", path)[0] == 404, path


def test_safety_the_page_loads_nothing_from_the_internet(server):
    for path in ("/", "/summary"):
        status, data = request(server, "GET", path)
        assert status == 200
        assert not re.search(rb"(src|href)\s*=\s*[\"']?(https?:)?//", data)
        assert b"data-rating" in data or path == "/summary"


def test_safety_refuses_a_reviews_file_it_cannot_parse(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    good = {"reviewer": "ana", "item": "a/test-000000", "config": "a", "turn": 0, "rating": "correct", "note": ""}
    (out / "reviews.jsonl").write_text(json.dumps(good) + "\n" + '{"reviewer": "ana", "item": \n', encoding="utf-8")
    with pytest.raises(ReviewFileError, match="reviews.jsonl, line 2"):
        ReviewLog.open(out / "reviews.jsonl")
    assert main(["review", str(out), "--port", "0"]) == 2
    assert "line 2" in capsys.readouterr().err
    (out / "reviews.jsonl").write_text(json.dumps({**good, "rating": "great"}) + "\n", encoding="utf-8")
    with pytest.raises(ReviewFileError, match="line 1.*rating"):
        ReviewLog.open(out / "reviews.jsonl")
    (out / "reviews.jsonl").write_bytes(json.dumps(good).encode() + b"\n\xff\n")
    with pytest.raises(ReviewFileError, match="line 2: not UTF-8"):
        ReviewLog.open(out / "reviews.jsonl")


def test_cohen_kappa_against_hand_computed_values():
    assert cohen_kappa([("a", "a"), ("b", "b")]) == 1.0
    # observed 0.5; both raters say a half the time: expected 0.5 -> kappa 0
    assert cohen_kappa([("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")]) == 0.0
    # 3 of 4 agree; p(a) 0.75 / 0.5 -> expected 0.75*0.5 + 0.25*0.5 = 0.5 -> kappa 0.5
    assert cohen_kappa([("a", "a"), ("a", "a"), ("a", "b"), ("b", "b")]) == 0.5
    assert cohen_kappa([]) is None


def test_summary_counts_the_last_rating_and_agreement(tmp_path):
    log = ReviewLog.open(tmp_path / "reviews.jsonl")
    base = {"config": "music_dialogues", "note": ""}
    for reviewer, item, turn, rating in [
        ("ana", "m/test-000001", 0, "wrong"),
        ("ana", "m/test-000001", 0, "correct"),  # replaces the line above
        ("ana", "m/test-000002", 0, "partly"),
        ("ben", "m/test-000001", 0, "correct"),
        ("ben", "m/test-000002", 0, "wrong"),
        ("ben", "m/test-000003", 1, "unanswerable"),
    ]:
        log.append({**base, "reviewer": reviewer, "item": item, "turn": turn, "rating": rating})
    summary = review_summary(tmp_path / "reviews.jsonl")
    assert summary["ratings"] == 5 and summary["turns_rated"] == 3 and summary["reviewers"] == ["ana", "ben"]
    assert summary["ratings_by"]["music_dialogues"]["turn 1"] == {"correct": 2, "partly": 1, "wrong": 1}
    assert summary["agreement"] == [
        {"a": "ana", "b": "ben", "items": 2, "kappa": cohen_kappa([("correct", "correct"), ("partly", "wrong")])}
    ]
    assert set(RATINGS) == {"correct", "partly", "wrong", "unanswerable"}


def test_cli_prints_the_url_first(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "_audio_dialogues.cli.main", "review", str(tmp_path / "out"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        first = process.stdout.readline()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\n", first), first + process.stderr.read()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_audioset_clips_show_their_events_with_descriptions(tmp_path):
    from conftest import dialogue, write_release

    root = tmp_path / "release"
    write_release(root, "audioset_dialogues", "train", [{"audio_id": "Yaaaaaaaaaaa.wav", "dialogue": dialogue(2)}])
    write_release(root, "audioset_dialogues", "test", [])
    strong = tmp_path / "strong.tsv"
    strong.write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\naaaaaaaaaaa_0\t1.5\t4.0\t/m/0bt9lr\n",
        encoding="utf-8",
    )
    (item,) = review_sample(
        ["audioset_dialogues"], data_dir=str(root), strong_labels=[str(strong)], verification_mode="no_checks"
    )
    (event,) = item["clips"][0]["events"]
    assert (event["label"], event["start"], event["end"]) == ("Dog", 1.5, 4.0)
    assert event["description"].startswith(
        "Any sounds coming from the familiar domesticated canid"
    )  # the ontology's, when none given
    assert item["clips"][0]["path"] is None  # no audio folder given: the page says the clip is missing


def test_options_that_change_nothing_here_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as refused:  # not a flag of review: argparse refuses it, one line
        main(["review", str(tmp_path / "out"), "--port", "0", "--sampling-rate", "8000"])
    assert refused.value.code == 2
    assert "audio-dialogues review: error: --sampling-rate is not an option" in capsys.readouterr().err
