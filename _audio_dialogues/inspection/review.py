"""Review a seeded random sample of a release in the browser: ``audio-dialogues review OUT_DIR``.

Each dialogue is shown beside its clip(s), with what the clip holds (AudioSet: the events and their
times; MusicCaps: the caption), and every turn gets a rating (:data:`RATINGS`) and a note. Every click
is appended at once to ``OUT_DIR/reviews.jsonl``, one JSON object a line, never rewritten::

    {"time": "2026-12-07T01:50:00Z", "reviewer": "ana", "item": "audioset_dialogues/test-000003",
     "config": "audioset_dialogues", "turn": 0, "rating": "partly", "note": "the dog is a cat"}

The last line of a reviewer for a turn is their rating (reopening resumes there); ``/summary`` shows
the ratings per config and turn, and Cohen's kappa between reviewers on the turns both rated.

Safe by default: the server binds 127.0.0.1 and answers only requests addressed to it by that name
(a web page elsewhere cannot reach it through DNS rebinding), takes ratings only as JSON (which a
cross-site form cannot send), serves only the clips of the sampled records, by their number in the
sample (a request can never name a file), loads nothing from the internet, and refuses to start on
a ``reviews.jsonl`` it cannot parse, naming the line.
"""

from __future__ import annotations

import datetime
import itertools
import json
import mimetypes
import os
import random
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import parse_qs, urlsplit

from ..core.events import StrongLabelEvents
from ..core.musiccaps import shipped_musiccaps
from ..core.release import Notices, ReleaseFormatError
from ..core.sources import locate_release
from ..core.subsets import CONFIGS, subset
from .ontology import shipped_ontology
from .records import audio_index_for, stream_records

RATINGS: tuple[str, ...] = ("correct", "partly", "wrong", "unanswerable")
RATING_HELP = {
    "correct": "correct",
    "partly": "partly correct",
    "wrong": "wrong or invented",
    "unanswerable": "not answerable from the audio",
}
REVIEWS_FILE = "reviews.jsonl"
MAX_NOTE = 4000  # characters
MAX_BODY = 16_384  # bytes of one rating request


class ReviewFileError(ValueError):
    """``reviews.jsonl`` holds a line that is not a review: named, and the review does not start."""


@dataclass
class ReviewLog:
    """``reviews.jsonl``: read and checked whole on open, then only appended to (one ``write`` a line)."""

    path: Path
    entries: list[dict]

    @classmethod
    def open(cls, path: str | os.PathLike) -> "ReviewLog":
        path = Path(path)
        entries = []
        if path.exists():
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                line = raw[: err.start].count(b"\n") + 1
                raise ReviewFileError(
                    f"{path}, line {line}: not UTF-8 text (byte {err.start}); fix that line by hand, or review into "
                    "another folder"
                ) from err
            for number, line in enumerate(text.split("\n"), start=1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    _check_entry(entry)
                except (json.JSONDecodeError, ValueError, TypeError) as err:
                    raise ReviewFileError(
                        f"{path}, line {number}: not a review ({err}). The file is never rewritten by review: "
                        "fix or remove that line by hand (a run killed mid-write leaves a cut last line), "
                        "or review into another folder"
                    ) from err
                entries.append(entry)
        return cls(path, entries)

    def append(self, entry: dict) -> None:
        """Add one line: one ``write`` on a file opened for appending (atomic against other appends), then fsync."""
        _check_entry(entry)
        data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        self.entries.append(entry)


def _check_entry(entry: Any) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"expected a JSON object, found {type(entry).__name__}")
    for key, kind in (("reviewer", str), ("item", str), ("config", str), ("turn", int)):
        if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool):
            raise ValueError(f"field {key!r}: expected {kind.__name__}, found {entry.get(key)!r}")
    if not entry["reviewer"].strip():
        raise ValueError("field 'reviewer': empty")
    if entry.get("rating") is not None and entry["rating"] not in RATINGS:
        raise ValueError(f"field 'rating': expected one of {', '.join(RATINGS)} or null, found {entry['rating']!r}")
    if not isinstance(entry.get("note", ""), str):
        raise ValueError(f"field 'note': expected a string, found {entry.get('note')!r}")


def latest(entries: Sequence[dict]) -> dict[tuple[str, str, int], dict]:
    """The last entry of each (reviewer, item, turn)."""
    return {(e["reviewer"], e["item"], e["turn"]): e for e in entries}


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; ``None`` without items, 1.0 when chance is certain."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    labels = {x for pair in pairs for x in pair}
    expected = sum((sum(a == lab for a, _ in pairs) / n) * (sum(b == lab for _, b in pairs) / n) for lab in labels)
    return 1.0 if expected == 1 else round((observed - expected) / (1 - expected), 4)


def review_summary(path: str | os.PathLike) -> dict:
    """Ratings per config and turn (last rating of each reviewer per turn) and agreement between reviewers."""
    final = {k: e for k, e in latest(ReviewLog.open(path).entries).items() if e.get("rating") is not None}
    by: dict[str, dict[str, dict[str, int]]] = {}
    for (_, _, turn), e in sorted(final.items(), key=lambda kv: (kv[1]["config"], kv[0][2])):
        counts = by.setdefault(e["config"], {}).setdefault(f"turn {turn + 1}", {})
        counts[e["rating"]] = counts.get(e["rating"], 0) + 1
    reviewers = sorted({r for r, _, _ in final})
    agreement = []
    for a, b in itertools.combinations(reviewers, 2):
        pairs = [
            (final[(a, item, turn)]["rating"], final[(b, item, turn)]["rating"])
            for (r, item, turn) in final
            if r == a and (b, item, turn) in final
        ]
        agreement.append({"a": a, "b": b, "items": len(pairs), "kappa": cohen_kappa(pairs)})
    return {
        "labels": list(RATINGS),
        "ratings": len(final),
        "turns_rated": len({(i, t) for _, i, t in final}),
        "reviewers": reviewers,
        "ratings_by": by,
        "agreement": agreement,
    }


def review_sample(
    configs: Sequence[str] | None = None,
    *,
    per_config: int = 10,
    seed: int = 0,
    data_dir=None,
    data_files=None,
    audio_dir=None,
    strong_labels=None,
    follow_symlinks: bool = False,
    min_audio_bytes: int = 0,
    verification_mode: str | None = None,
) -> list[dict]:
    """A seeded random sample of ``per_config`` records of each config (all splits), with what each clip holds.

    Each item: ``{"id", "config", "dialogue", "clips": [{"youtube_id", "path", "events", "caption", "aspects"}]}``;
    the same ``seed`` gives the same sample (reservoir sampling over the streamed records).
    """
    options = {"audio_dir": audio_dir, "missing_audio": "keep", "follow_symlinks": follow_symlinks}
    index = audio_index_for({**options, "min_audio_bytes": min_audio_bytes}, data_dir is None and data_files is None)
    events = StrongLabelEvents.read(strong_labels) if strong_labels else None
    musiccaps = shipped_musiccaps()
    ontology = shipped_ontology()
    items = []
    for config in configs or CONFIGS:
        try:
            release = locate_release(config, subset(config).published, data_dir, data_files)
        except FileNotFoundError:
            if configs:
                raise
            continue
        rng, chosen, seen = random.Random(f"{seed}/{config}"), [], 0
        for split, files in release.files.items():
            position = -1
            for record in stream_records(files, subset(config).rules, Notices()):
                position += 1
                if isinstance(record, ReleaseFormatError):
                    raise record
                seen += 1
                entry = (f"{config}/{split}-{position:06d}", record)
                if len(chosen) < per_config:
                    chosen.append(entry)
                elif (slot := rng.randrange(seen)) < per_config:
                    chosen[slot] = entry
        for item_id, record in chosen:
            multi = subset(config).multi_audio
            per_clip = record.events if record.events is not None else None
            if per_clip is None and events is not None:
                per_clip = events.events(record.youtube_ids, multi)
            per_clip = per_clip if multi and per_clip is not None else [per_clip] * len(record.audio_ids)
            clips = []
            for audio_id, youtube_id, clip_events in zip(record.audio_ids, record.youtube_ids, per_clip):
                caps = musiccaps.get(youtube_id) if config == "music_dialogues" else None
                clips.append(
                    {
                        "youtube_id": youtube_id,
                        "path": None if index is None else index.resolve(audio_id, youtube_id).path,
                        "events": None
                        if clip_events is None
                        else [
                            {**e, "description": e["description"] or ontology.descriptions.get(e["mid"])}
                            for e in clip_events
                        ],
                        "caption": caps.caption if caps else None,
                        "aspects": list(caps.aspects) if caps else None,
                    }
                )
            items.append({"id": item_id, "config": config, "dialogue": list(record.dialogue), "clips": clips})
    return items


class ReviewServer(ThreadingHTTPServer):
    """The review pages and their API, for one sample and one ``reviews.jsonl``."""

    daemon_threads = True

    def __init__(self, items: list[dict], log: ReviewLog, host: str = "127.0.0.1", port: int = 0):
        self.items, self.log, self.lock = items, log, threading.Lock()
        self.by_id = {item["id"]: item for item in items}
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def public_items(self) -> list[dict]:
        """The sample as the page sees it: audio by number (``/audio/<item>/<clip>``), never a path."""
        return [
            {
                **{k: v for k, v in item.items() if k != "clips"},
                "clips": [
                    {
                        **{k: v for k, v in clip.items() if k != "path"},
                        "audio": None if clip["path"] is None else f"/audio/{i}/{j}",
                    }
                    for j, clip in enumerate(item["clips"])
                ],
            }
            for i, item in enumerate(self.items)
        ]


class _Handler(BaseHTTPRequestHandler):
    server: ReviewServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the command prints only the URL
        pass

    def _host_ok(self) -> bool:
        port = self.server.server_address[1]
        return self.headers.get("Host", "") in {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}

    def do_GET(self) -> None:
        if not self._host_ok():
            return self._send(HTTPStatus.FORBIDDEN, b"wrong Host header", "text/plain")
        url = urlsplit(self.path)
        from .page import review_page, summary_page

        if url.path == "/":
            return self._send(HTTPStatus.OK, review_page().encode(), "text/html; charset=utf-8")
        if url.path == "/summary":
            with self.server.lock:
                summary = review_summary(self.server.log.path) if self.server.log.path.exists() else None
            return self._send(HTTPStatus.OK, summary_page(summary).encode(), "text/html; charset=utf-8")
        if url.path == "/api/items":
            return self._json({"items": self.server.public_items(), "ratings": list(RATINGS), "help": RATING_HELP})
        if url.path == "/api/state":
            reviewer = parse_qs(url.query).get("reviewer", [""])[0]
            with self.server.lock:
                mine = [e for (r, _, _), e in latest(self.server.log.entries).items() if r == reviewer]
            return self._json({"entries": mine})
        match = re.fullmatch(r"/audio/(\d{1,6})/(\d)", url.path)
        if match:
            return self._audio(int(match[1]), int(match[2]))
        self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")

    def do_POST(self) -> None:
        if not self._host_ok():
            return self._send(HTTPStatus.FORBIDDEN, b"wrong Host header", "text/plain")
        if urlsplit(self.path).path != "/api/rate":
            return self._send(HTTPStatus.NOT_FOUND, b"not found", "text/plain")
        if self.headers.get_content_type() != "application/json":
            return self._send(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, b"send application/json", "text/plain")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY:
            return self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"body missing or too large", "text/plain")
        try:
            body = json.loads(self.rfile.read(length))
            item = self.server.by_id[body["item"]]
            turn = body["turn"]
            if not isinstance(turn, int) or not 0 <= turn < len(item["dialogue"]):
                raise ValueError(f"turn {turn!r} is not a turn of {item['id']}")
            entry = {
                "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "reviewer": str(body["reviewer"]).strip(),
                "item": item["id"],
                "config": item["config"],
                "turn": turn,
                "rating": body.get("rating"),
                "note": str(body.get("note") or "")[:MAX_NOTE],
            }
            with self.server.lock:
                self.server.log.append(entry)
        except (KeyError, ValueError, TypeError) as err:
            return self._send(HTTPStatus.BAD_REQUEST, f"not saved: {err}".encode(), "text/plain")
        self._json({"saved": entry})

    def _audio(self, item: int, clip: int) -> None:
        items = self.server.items
        path = items[item]["clips"][clip]["path"] if item < len(items) and clip < len(items[item]["clips"]) else None
        if path is None:
            return self._send(HTTPStatus.NOT_FOUND, b"no such clip", "text/plain")
        try:
            data = Path(path).read_bytes()
        except OSError as err:  # moved or deleted since the review started
            return self._send(HTTPStatus.NOT_FOUND, f"clip not readable: {err.strerror}".encode(), "text/plain")
        kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
        start, end = 0, len(data) - 1
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and data and (match[1] or match[2]):
            if match[1]:
                start, end = int(match[1]), min(int(match[2] or end), end)
            else:
                start = max(len(data) - int(match[2]), 0)
            if start > end:
                return self._send(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", "text/plain")
            return self._send(
                HTTPStatus.PARTIAL_CONTENT,
                data[start : end + 1],
                kind,
                {"Content-Range": f"bytes {start}-{end}/{len(data)}"},
            )
        self._send(HTTPStatus.OK, data, kind)

    def _json(self, value: Any) -> None:
        self._send(HTTPStatus.OK, json.dumps(value, ensure_ascii=False).encode(), "application/json")

    def _send(self, status: int, body: bytes, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
        )
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def start_review(out_dir: str | os.PathLike, *, port: int = 0, **sample_options: Any) -> ReviewServer:
    """Check ``OUT_DIR/reviews.jsonl``, draw the sample and return the bound server (call ``serve_forever``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = ReviewLog.open(out / REVIEWS_FILE)  # before anything else: a bad file stops the review here
    return ReviewServer(review_sample(**sample_options), log, port=port)
