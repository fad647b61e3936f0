"""The HTML of the stats report (plots as inline SVG) and of the review pages.

Plots are SVG written here, not matplotlib: a bar chart is ~30 lines of SVG, the report stays one
self-contained file of text (searchable, diffable, no base64 blobs), opens offline, and the package
needs no plotting dependency. Everything inserted into a page is escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any, Sequence

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.5em}h2{border-bottom:1px solid #ccc;margin-top:2em}h3{margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}
th{background:#f4f4f4}.num{text-align:right}.grid{display:flex;flex-wrap:wrap;gap:1.2em}
.grid figure{margin:0}figcaption{font-weight:600;margin-bottom:2px}.note{color:#555}
.paper{color:#a33}svg text{font:11px system-ui,sans-serif}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def bar_chart(title: str, items: Sequence[tuple[str, float]], *, unit: str = "", marker: str | None = None) -> str:
    """A horizontal bar chart as an inline ``<svg>`` inside a ``<figure>`` (``marker``: a line of text under it)."""
    items = list(items)
    width, label_w, bar_h = 420, 150, 16
    height = max(len(items), 1) * (bar_h + 4) + 8
    top = max((v for _, v in items), default=0) or 1
    rows = []
    for i, (label, value) in enumerate(items):
        y = 4 + i * (bar_h + 4)
        w = (width - label_w - 60) * value / top
        shown = f"{value:g}{unit}"
        rows.append(
            f'<text x="{label_w - 4}" y="{y + 12}" text-anchor="end">{_e(str(label)[:24])}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="#4a7ab5"><title>{_e(label)}: '
            f"{_e(shown)}</title></rect>"
            f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{_e(shown)}</text>'
        )
    if not items:
        rows.append('<text x="4" y="16">(nothing to show)</text>')
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}">{"".join(rows)}</svg>'
    )
    under = f'<div class="paper">{_e(marker)}</div>' if marker else ""
    return f"<figure><figcaption>{_e(title)}</figcaption>{svg}{under}</figure>"


def _binned(histogram: dict[str, int], max_bars: int = 16) -> list[tuple[str, int]]:
    """A length histogram as at most ``max_bars`` bars of equal-width bins."""
    values = sorted((int(k), v) for k, v in histogram.items())
    if not values:
        return []
    low, high = values[0][0], values[-1][0]
    width = max(1, -(-(high - low + 1) // max_bars))
    bins: dict[int, int] = {}
    for k, v in values:
        start = low + (k - low) // width * width
        bins[start] = bins.get(start, 0) + v
    return [(f"{s}" if width == 1 else f"{s}-{s + width - 1}", v) for s, v in sorted(bins.items())]


def _table(rows: Sequence[tuple[str, Any]]) -> str:
    body = "".join(f"<tr><th>{_e(k)}</th><td class=num>{_e(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _split_section(n: dict) -> str:
    q, a, rep = n["questions"], n["answers"], n["repeated_questions"]
    audio = n["audio"]
    rows = [
        ("records", n["records"]),
        ("turns", n["turns"]),
        ("mean turns (paper)", f"{n['turns_mean']} ({n['paper_turns_mean']})"),
        ("question words: mean / median / p95 / max", " / ".join(str(v) for v in q["length_words"].values())),
        ("answer words: mean / median / p95 / max", " / ".join(str(v) for v in a["length_words"].values())),
        ("distinct-1 / distinct-2 of questions", f"{q['distinct_1']} / {q['distinct_2']}"),
        ("distinct-1 / distinct-2 of answers", f"{a['distinct_1']} / {a['distinct_2']}"),
        (
            "self-similarity of questions / answers (mean Jaccard, 200 sampled)",
            f"{q['self_similarity']} / {a['self_similarity']}",
        ),
        (
            "questions asked more than once (share)",
            f"{rep['asked_more_than_once']} of {rep['questions']} ({rep['share_repeated']})",
        ),
        (
            "missing clips",
            "not checked (no audio folder)" if audio is None else f"{audio['missing']} of {audio['clip_references']}",
        ),
    ]
    if n["paper_clips_mean"] is not None:
        rows.insert(3, ("mean clips per comparison (paper)", f"{n['clips_mean']} ({n['paper_clips_mean']})"))
    skipped = n.get("skipped") or {}
    if skipped.get("invalid") or skipped.get("missing_audio"):
        rows.append(("left out: invalid / missing audio", f"{skipped['invalid']} / {skipped['missing_audio']}"))
    charts = [
        bar_chart(
            "turns per dialogue",
            [(k, v) for k, v in n["turns_histogram"].items()],
            marker=f"mean {n['turns_mean']}; paper {n['paper_turns_mean']}",
        ),
        bar_chart("question length (words)", _binned(q["length_histogram"])),
        bar_chart("answer length (words)", _binned(a["length_histogram"])),
        bar_chart("first word of questions", list(n["first_words"].items())),
        bar_chart("wh-word of questions", list(n["wh_words"].items())),
    ]
    if n["paper_clips_mean"] is not None:
        charts.insert(
            1,
            bar_chart(
                "clips per comparison",
                list(n["clips_histogram"].items()),
                marker=f"mean {n['clips_mean']}; paper {n['paper_clips_mean']}",
            ),
        )
    parts = [
        f"<h3>{_e(n['config'])} / {_e(n['split'])}</h3>",
        _table(rows),
        f'<div class="grid">{"".join(charts)}</div>',
    ]
    if rep["most_common"]:
        parts.append(
            "<p>Most repeated questions: " + "; ".join(f"<q>{_e(t)}</q> x{c}" for t, c in rep["most_common"]) + "</p>"
        )
    categories = n.get("categories")
    if categories is not None:
        parts.append(_categories(categories))
    return "".join(parts)


def _categories(c: dict) -> str:
    head = (
        f"<p>Sound events: {c['events']} events on {c['clips_with_events']} clips "
        f"({c['clips_without_events']} clips without events). {_e(c['how_counted'])}.</p>"
    )
    if not c["events"]:
        return head.replace("<p>", '<p class="note">') + (
            '<p class="note">No events: the records carry no <code>events</code> key and no strong_labels were '
            "given (pass --strong-labels audioset_train_strong.tsv ...).</p>"
        )
    charts = [
        bar_chart(
            "top-level category: share of events (%)", [(t["name"], t["event_share"] or 0) for t in c["top_level"]]
        ),
        bar_chart(
            "top-level category: share of clips (%)", [(t["name"], t["clip_share"] or 0) for t in c["top_level"]]
        ),
    ]
    paper = _table(
        [
            (f"{p['name']}: ours (paper, AudioSet-SL)", f"{p['event_share']} % ({p['paper_share']} %)")
            for p in c["paper"]
        ]
    )
    return head + f'<div class="grid">{"".join(charts)}</div>' + paper


def stats_html(data: dict, *, standalone: bool = True) -> str:
    """The report of ``stats.json``'s ``data``: one file, no script, no network (or a notebook cell's HTML)."""
    body = ["<h1>Audio Dialogues: what is in this release</h1>"]
    source = data.get("source") or {}
    sample = not source.get("data_dir") and not source.get("data_files")
    audio = source.get("audio_dir") or ("the sample clips" if sample else "not given (text only)")
    body.append(
        f'<p class="note">release: {_e(source.get("data_dir") or source.get("data_files") or "the bundled sample")}; '
        f"audio: {_e(audio)}; "
        f"{_e(data.get('seconds'))} s</p>"
    )
    for config, splits in data["configs"].items():
        body.append(f"<h2>{_e(config)}</h2>")
        run = (data.get("generate_runs") or {}).get(config)
        if run:
            body.append(
                "<p>Generated by "
                + _e(", ".join(run["models"]) or "an unknown model")
                + ". Removed by the filters: "
                + _e(json.dumps(run["filtered"]))
                + " (whole dialogues: "
                + _e(json.dumps(run["filtered_whole_dialogues"]))
                + "). Failed clips: "
                + _e(json.dumps(run["failed"]))
                + ".</p>"
            )
        body += [_split_section(n) for n in splits.values()]
    reviews = data.get("reviews")
    if reviews:
        body.append("<h2>Reviews</h2>" + review_summary_html(reviews))
    if data.get("notes"):
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{_e(n)}</li>" for n in data["notes"]) + "</ul>")
    content = "".join(body)
    if not standalone:
        return f"<div><style>{_STYLE}</style>{content}</div>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>Audio Dialogues stats</title><style>{_STYLE}</style></head><body>{content}</body></html>\n"
    )


def review_summary_html(summary: dict) -> str:
    """Ratings per config and turn, and Cohen's kappa between each pair of reviewers."""
    ratings = summary["ratings_by"]
    rows = "".join(
        f"<tr><td>{_e(config)}</td><td>{_e(turn)}</td>"
        + "".join(f"<td class=num>{counts.get(r, 0)}</td>" for r in summary["labels"])
        + "</tr>"
        for config, turns in ratings.items()
        for turn, counts in turns.items()
    )
    head = "".join(f"<th>{_e(r)}</th>" for r in summary["labels"])
    kappa = "".join(
        f"<tr><td>{_e(k['a'])} / {_e(k['b'])}</td><td class=num>{k['items']}</td>"
        f"<td class=num>{_e(k['kappa'])}</td></tr>"
        for k in summary["agreement"]
    )
    return (
        f"<p>{summary['ratings']} ratings of {summary['turns_rated']} turns by "
        f"{len(summary['reviewers'])} reviewer(s): "
        f"{_e(', '.join(summary['reviewers']))} (the last rating of a reviewer for a turn counts).</p>"
        f"<table><tr><th>config</th><th>turn</th>{head}</tr>{rows}</table>"
        "<h3>Agreement (Cohen's kappa, on the turns both reviewers rated)</h3>"
        "<table><tr><th>reviewers</th><th>turns</th><th>kappa</th></tr>"
        f"{kappa or '<tr><td colspan=3>no turn rated by two reviewers</td></tr>'}</table>"
    )


def summary_page(summary: dict | None) -> str:
    """The review server's ``/summary``: ratings and agreement so far."""
    content = review_summary_html(summary) if summary else "<p>No ratings yet.</p>"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Review summary</title>'
        f'<style>{_STYLE}</style></head><body><h1>Review summary</h1><p><a href="/">back to the review</a></p>'
        f"{content}</body></html>\n"
    )


def review_page() -> str:
    """The review page: one dialogue at a time beside its clip(s); every click is saved by ``POST /api/rate``."""
    return _REVIEW_PAGE.replace("/*STYLE*/", _STYLE + _REVIEW_STYLE)


_REVIEW_STYLE = """
.turn{border:1px solid #ddd;border-radius:6px;padding:.5em .8em;margin:.6em 0}.turn.current{border-color:#4a7ab5;
box-shadow:0 0 0 2px #c9d9ee}.q{font-weight:600}.rate button{margin:.3em .3em 0 0}.rate button[aria-pressed=true]
{background:#4a7ab5;color:#fff}.clip{border-left:3px solid #4a7ab5;padding-left:.6em;margin:.6em 0}
textarea{width:100%;min-height:2.2em}#status{color:#363}#error{color:#a33}kbd{border:1px solid #aaa;
border-radius:3px;padding:0 3px}
"""

_REVIEW_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Audio Dialogues review</title>
<style>/*STYLE*/</style></head><body>
<h1>Audio Dialogues review</h1>
<p><label>Reviewer <input id="reviewer" autocomplete="off" placeholder="your name"></label>
<button id="start">Start</button> <a href="/summary">summary</a></p>
<p class="note">Keys: <kbd>1</kbd> correct, <kbd>2</kbd> partly, <kbd>3</kbd> wrong or invented,
<kbd>4</kbd> not answerable from the audio (rates the current turn and moves on); <kbd>j</kbd>/<kbd>k</kbd> next or
previous turn; <kbd>n</kbd>/<kbd>p</kbd> next or previous dialogue; <kbd>space</kbd> play or pause the first clip.
Every click is saved at once.</p>
<p><span id="progress"></span> <span id="status"></span> <span id="error"></span></p>
<div id="item"></div>
<p><button id="prev">previous dialogue</button> <button id="next">next dialogue</button></p>
<script>
"use strict";
let items = [], help = {}, ratings = [], state = {}, index = 0, current = 0;
const $ = (id) => document.getElementById(id);
const key = (item, turn) => item + "#" + turn;
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}
async function load() {
  const data = await (await fetch("/api/items")).json();
  items = data.items; ratings = data.ratings; help = data.help;
  const saved = localStorage.getItem("reviewer");
  if (saved) { $("reviewer").value = saved; await start(); }
}
async function start() {
  const name = $("reviewer").value.trim();
  if (!name) { $("error").textContent = "Type your name first."; return; }
  localStorage.setItem("reviewer", name);
  const data = await (await fetch("/api/state?reviewer=" + encodeURIComponent(name))).json();
  state = {};
  for (const e of data.entries) state[key(e.item, e.turn)] = e;
  index = items.findIndex((it) => it.dialogue.some((_, t) => !(state[key(it.id, t)] || {}).rating));
  if (index < 0) index = 0;
  const unrated = (it) => it.dialogue.findIndex((_, t) => !(state[key(it.id, t)] || {}).rating);
  const open = items[index] ? unrated(items[index]) : 0;
  current = Math.max(0, open);
  $("error").textContent = "";
  show();
}
function clipView(clip, i, count) {
  const box = el("div", {class: "clip"});
  box.append(el("div", {}, count > 1 ? "Audio " + (i + 1) + ": " : "", clip.youtube_id));
  if (clip.audio) box.append(el("audio", {controls: "", preload: "metadata", src: clip.audio}));
  else box.append(el("div", {class: "note"}, "clip missing (not in the audio folder)"));
  if (clip.caption) box.append(el("div", {}, "MusicCaps caption: " + clip.caption));
  if (clip.aspects) box.append(el("div", {class: "note"}, "aspects: " + clip.aspects.join(", ")));
  if (clip.events) {
    const list = el("ul", {});
    for (const e of clip.events)
      list.append(el("li", {}, e.start.toFixed(2) + "-" + e.end.toFixed(2) + " s: " + e.label +
        (e.description ? " (" + e.description + ")" : "")));
    box.append(el("div", {}, "events:"), list);
  } else if (!clip.caption) box.append(el("div", {class: "note"}, "no events known for this clip"));
  return box;
}
function show() {
  const item = items[index];
  if (!item) { $("item").textContent = "Nothing to review."; return; }
  $("progress").textContent = "Dialogue " + (index + 1) + " of " + items.length + " (" + item.id + ")";
  const view = el("div", {id: "dialogue", "data-item": item.id});
  item.clips.forEach((c, i) => view.append(clipView(c, i, item.clips.length)));
  item.dialogue.forEach((turn, t) => {
    const saved = state[key(item.id, t)] || {};
    const box = el("div", {class: "turn" + (t === current ? " current" : ""), "data-turn": t});
    box.append(el("div", {class: "q"}, "Q" + (t + 1) + ": " + turn.user), el("div", {}, "A: " + turn.assistant));
    const row = el("div", {class: "rate"});
    ratings.forEach((r, i) => {
      const b = el("button", {"data-rating": r, "aria-pressed": String(saved.rating === r), title: "key " + (i + 1)},
        (i + 1) + " " + help[r]);
      b.addEventListener("click", () => rate(t, r));
      row.append(b);
    });
    const note = el("textarea", {placeholder: "note (saved when you leave the box)", "data-note": t});
    note.value = saved.note || "";
    note.addEventListener("change", () => rate(t, (state[key(item.id, t)] || {}).rating || null));
    box.append(row, note);
    box.addEventListener("click", () => { current = t; mark(); });
    view.append(box);
  });
  $("item").replaceChildren(view);
}
function mark() {
  document.querySelectorAll(".turn").forEach((b) => b.classList.toggle("current", Number(b.dataset.turn) === current));
}
async function rate(turn, rating) {
  const item = items[index];
  const reviewer = $("reviewer").value.trim();
  if (!reviewer) { $("error").textContent = "Type your name first."; return; }
  const note = document.querySelector('[data-note="' + turn + '"]').value;
  const response = await fetch("/api/rate", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({reviewer, item: item.id, turn, rating, note})});
  if (!response.ok) { $("error").textContent = await response.text(); return; }
  const saved = (await response.json()).saved;
  state[key(item.id, turn)] = saved;
  $("error").textContent = "";
  $("status").textContent = "saved " + item.id + " turn " + (turn + 1) + (rating ? ": " + rating : "");
  document.querySelectorAll('[data-turn="' + turn + '"] [data-rating]')
    .forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.rating === rating)));
}
function go(step) { index = Math.min(Math.max(index + step, 0), items.length - 1); current = 0; show(); }
document.addEventListener("keydown", async (event) => {
  if (event.target.tagName === "TEXTAREA" || event.target.tagName === "INPUT" || !items[index]) return;
  const turns = items[index].dialogue.length;
  if (event.key >= "1" && event.key <= String(ratings.length)) {
    await rate(current, ratings[Number(event.key) - 1]);
    if (current + 1 < turns) { current += 1; mark(); } else if (index + 1 < items.length) go(1);
  } else if (event.key === "j") { current = Math.min(current + 1, turns - 1); mark(); }
  else if (event.key === "k") { current = Math.max(current - 1, 0); mark(); }
  else if (event.key === "n") go(1);
  else if (event.key === "p") go(-1);
  else if (event.key === " ") {
    const audio = document.querySelector("audio");
    if (audio) { event.preventDefault(); audio.paused ? audio.play() : audio.pause(); }
  }
});
$("start").addEventListener("click", start);
$("next").addEventListener("click", () => go(1));
$("prev").addEventListener("click", () => go(-1));
load();
</script></body></html>
"""
