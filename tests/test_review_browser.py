"""``review`` and the stats report in a real browser: headless Chromium (Debian's package) driven by Playwright.

Playwright is pointed at the installed ``chromium`` (nothing is downloaded); ``make browser`` installs it
with apt. Skipped only when no chromium is installed. With ``AUDIO_DIALOGUES_SCREENSHOTS=<folder>``
(``make screenshots``) the run saves its screenshots there (docs/img in the repository).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest

from _audio_dialogues.core.splits import read_release
from _audio_dialogues.inspection.review import start_review
from _audio_dialogues.inspection.stats import stats, write_stats_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: `make browser` installs Debian's chromium (apt-get install chromium)"
)
SHOTS = os.environ.get("AUDIO_DIALOGUES_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"]
        )
        yield browser
        browser.close()


@pytest.fixture
def server(tmp_path):
    # made-up strong labels for the sample's AudioSet clips (its clips are synthesized tones): a dog, then speech
    youtube_ids = {
        y
        for config in ("audioset_dialogues", "audioset_comparison")
        for r in read_release(config).values()
        for y in (youtube_id for item in r for youtube_id in item.record.youtube_ids)
    }
    strong = tmp_path / "strong.tsv"
    strong.write_text(
        "segment_id\tstart_time_seconds\tend_time_seconds\tlabel\n"
        + "".join(f"{y}_30000\t1.0\t3.0\t/m/0bt9lr\n{y}_30000\t2.5\t9.0\t/m/09x0r\n" for y in sorted(youtube_ids)),
        encoding="utf-8",
    )
    server = start_review(tmp_path / "out", port=0, per_config=2, seed=3, strong_labels=[str(strong)])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _durations(page) -> list[float]:
    """The duration each ``<audio>`` of the page reports once its clip's metadata has loaded (an error fails)."""
    return page.locator("audio").evaluate_all(
        """players => Promise.all(players.map(a => new Promise((ok, fail) => {
            if (a.readyState >= 1) return ok(a.duration);
            if (a.error) return fail('audio error ' + a.error.code + ' ' + a.src);
            a.addEventListener('loadedmetadata', () => ok(a.duration));
            a.addEventListener('error', () => fail('audio error ' + (a.error && a.error.code) + ' ' + a.src));
        })))"""
    )


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] if path.exists() else []


def _offline(page) -> list[str]:
    """Fail any request that leaves 127.0.0.1 or file://, and list it."""
    outside = []

    def route(r):
        url = r.request.url
        if url.startswith(("http://127.0.0.1", "file://", "data:")):
            return r.continue_()
        outside.append(url)
        return r.abort()

    page.route("**/*", route)
    return outside


def test_review_page_plays_every_clip_saves_a_click_and_resumes(browser, server):
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    outside = _offline(page)
    page.goto(server.url)
    page.fill("#reviewer", "ana")
    page.click("#start")
    page.wait_for_selector("[data-rating]")
    # every <audio> of every dialogue loads its clip and reports a duration
    for index in range(len(server.items)):
        players = page.locator("audio")
        expected = sum(1 for clip in server.items[index]["clips"] if clip["path"])
        assert players.count() == expected
        durations = _durations(page)
        assert len(durations) == expected and all(0 < d < 60 for d in durations), (server.items[index]["id"], durations)
        page.click("#next")
    assert "1.00-3.00 s: Dog (Any sounds coming from the familiar domesticated canid" in page.inner_text("#dialogue")
    page.click("#prev")  # back to the start
    for _ in range(len(server.items)):
        page.click("#prev")
    first = server.items[0]
    page.click('[data-turn="0"] [data-rating="partly"]')
    page.wait_for_selector("#status:has-text('saved')")
    saved = _lines(server.log.path)
    assert [(e["reviewer"], e["item"], e["turn"], e["rating"]) for e in saved] == [("ana", first["id"], 0, "partly")]
    assert page.get_attribute('[data-turn="0"] [data-rating="partly"]', "aria-pressed") == "true"
    # keyboard: 1 rates every remaining turn of the first dialogue "correct" and moves on to the next dialogue
    for turn in range(1, len(first["dialogue"])):
        page.click(f'[data-turn="{turn}"] .q')
        page.keyboard.press("1")
        page.wait_for_selector(f"#status:has-text('turn {turn + 1}')")
    assert len(_lines(server.log.path)) == len(first["dialogue"])
    # a reload resumes: the reviewer is remembered and the first dialogue with an unrated turn is shown
    page.reload()
    page.wait_for_selector("[data-rating]")
    shown = page.get_attribute("#dialogue", "data-item")
    assert shown == server.items[1]["id"]
    page.click("#prev")
    assert page.get_attribute('[data-turn="0"] [data-rating="partly"]', "aria-pressed") == "true"
    assert outside == []
    if SHOTS:  # a comparison whose clips are all there
        shown = next(
            i for i, it in enumerate(server.items) if len(it["clips"]) > 1 and all(c["path"] for c in it["clips"])
        )
        for _ in range(shown):
            page.click("#next")
        _durations(page)
        page.set_viewport_size({"width": 1100, "height": 1250})
        page.screenshot(path=str(Path(SHOTS) / "review.png"))
        page.goto(server.url + "summary")
        page.screenshot(path=str(Path(SHOTS) / "review-summary.png"), full_page=True)
    page.close()


def test_stats_report_opens_offline(browser, tmp_path):
    _, html_path = write_stats_report(stats(), tmp_path / "report")
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    outside = _offline(page)
    page.goto(html_path.as_uri())
    assert page.locator("svg").count() >= 15
    assert "audioset_comparison" in page.inner_text("body")
    width = page.evaluate("document.querySelector('svg rect').getBoundingClientRect().width")
    assert width > 0
    assert outside == []
    if SHOTS:
        page.screenshot(path=str(Path(SHOTS) / "stats.png"), full_page=False)
    page.close()
