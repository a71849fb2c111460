"""The report shows the evaluator's numbers: every number on the page is the one in report.json, which
holds the evaluator's own JSON; per-sequence rows equal evaluating that sequence's file alone."""
from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from simplepose.errors import DataError
from simplepose.evaluation.eval_data import load_eval_data
from simplepose.evaluation.jitter import evaluate_jitter
from simplepose.evaluation.mota import evaluate_tracking
from simplepose.evaluation.pose_ap import evaluate_data
from simplepose.evaluation import report as report_module
from simplepose.evaluation.report import Compared, format_value, lookup, write_report
from simplepose.io import read_json

from .diagnosis_cases import HEAD, MIRROR17, pose, write_video

NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?![\w.])")


def _case(root: Path, seed: int) -> None:
    """Two videos of two people over four frames, predictions with jitter, inversions, an id switch."""
    rng = np.random.default_rng(seed)
    for v, name in enumerate(["000001_mpii_test", "000002_bonn_test"]):
        gt, pred = [], []
        for f in range(4):
            a, b = pose(300 + 5 * f), pose(300 + 10 * HEAD + 5 * f)
            gt.append([{"xy": a, "track": 0}, {"xy": b, "track": 1}])
            pa = a + rng.normal(0, 0.3 * HEAD, a.shape) * (v + 1)
            pb = b[MIRROR17] if f == 2 else b.copy()
            tracks = (1, 0) if v == 1 and f >= 2 else (0, 1)           # an id switch in the second video
            pred.append([{"xy": pa, "track": tracks[0], "score": float(rng.uniform(0.2, 1))},
                         {"xy": pb, "track": tracks[1], "score": float(rng.uniform(0.2, 1))}])
        write_video(root / "gt", gt, name)
        write_video(root / f"pred{seed}", pred, name)


class _Cells(HTMLParser):
    """data-src cells (path, text) and the numbers found in text outside them and outside names."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str]] = []
        self.stray: list[str] = []
        self._stack: list[tuple[str, str | None, bool]] = []     # tag, data-src, is a name

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag in ("img", "meta", "br"):
            return
        self._stack.append((tag, a.get("data-src"), "name" in (a.get("class") or "").split()))
        if a.get("data-src") is not None:
            self.cells.append((a["data-src"], ""))

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1][0] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if any(t in ("style", "title") for t, _, _ in self._stack) or any(n for _, _, n in self._stack):
            return
        if self._stack and self._stack[-1][1] is not None:
            path, text = self.cells[-1]
            self.cells[-1] = (path, text + data)
        else:
            self.stray += NUMBER.findall(data)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("report")
    _case(root, 0)
    _case(root, 1)
    data = load_eval_data(root / "gt", root / "pred0")
    other = load_eval_data(root / "gt", root / "pred1")
    index = write_report(root / "out", data, evaluate_data(data), evaluate_tracking(data),
                         Compared("second", other, evaluate_data(other), evaluate_tracking(other)))
    return root, index


def test_every_number_on_the_page_is_the_reports(report: tuple[Path, Path]) -> None:
    _, index = report
    parser = _Cells()
    parser.feed(index.read_text())
    data = read_json(index.parent / "report.json")
    assert len(parser.cells) > 300
    for path, text in parser.cells:
        assert text == format_value(lookup(data, path)), path
    assert parser.stray == []


def test_report_json_holds_the_evaluators_numbers(report: tuple[Path, Path]) -> None:
    root, index = report
    data = read_json(index.parent / "report.json")
    loaded = load_eval_data(root / "gt", root / "pred0")
    expected = evaluate_data(loaded).to_json()
    tracking = evaluate_tracking(loaded)
    expected["tracking"] = tracking.to_json()
    expected["jitter"] = evaluate_jitter(loaded, tracking).to_json()
    assert data["evaluation"] == expected
    other = evaluate_data(load_eval_data(root / "gt", root / "pred1")).to_json()
    assert data["compare"]["evaluation"]["summary_ap"] == other["summary_ap"]
    assert data["compare"]["difference"]["summary_ap"] == pytest.approx(
        [b - a for a, b in zip(expected["summary_ap"], other["summary_ap"])])
    counts = data["diagnosis"]["counts"]
    assert counts["good"][:15] == expected["n_true_positives"]
    assert sum(counts[c][15] for c in ("good", "jitter", "inversion", "swap", "miss", "background_fp")) \
        == sum(expected["n_pred_joints"])


def test_report_json_holds_the_jitter_of_the_compared_folder(report: tuple[Path, Path]) -> None:
    root, index = report
    data = read_json(index.parent / "report.json")
    loaded = load_eval_data(root / "gt", root / "pred1")
    assert data["compare"]["evaluation"]["jitter"] == evaluate_jitter(loaded, evaluate_tracking(loaded)).to_json()
    assert data["evaluation"]["jitter"]["triples"][15] > 0


def test_per_sequence_rows_equal_evaluating_each_file_alone(report: tuple[Path, Path], tmp_path: Path) -> None:
    root, index = report
    rows = {r["video"]: r for r in read_json(index.parent / "report.json")["per_sequence"]}
    assert len(rows) == 2
    for name, row in rows.items():
        for sub in ("gt", "pred0"):
            (tmp_path / name / sub).mkdir(parents=True)
            shutil.copy(root / sub / f"{name}.json", tmp_path / name / sub)
        alone = load_eval_data(tmp_path / name / "gt", tmp_path / name / "pred0")
        tracking = evaluate_tracking(alone)
        assert row["ap"] == pytest.approx(evaluate_data(alone).ap[15])
        assert row["mota"] == pytest.approx(tracking.mota[15])
        assert row["switches"] == tracking.counts["num_switches"].sum()
    assert rows["000002_bonn_test"]["switches"] > 0 == rows["000001_mpii_test"]["switches"]
    assert [r["ap"] for r in read_json(index.parent / "report.json")["per_sequence"]] == sorted(
        r["ap"] for r in rows.values())


def test_plot_data_and_images_beside_the_page(report: tuple[Path, Path]) -> None:
    _, index = report
    text = index.read_text()
    out = index.parent
    for src in re.findall(r'(?<![\w-])(?:src|href)="([^"]+)"', text):
        assert (out / src).is_file(), src
        assert not src.startswith(("http", "/"))
    assert "<script" not in text
    for name in ("ap_per_joint", "per_sequence", "by_size", "by_visible", "diagnosis", "oracle", "pr_curves",
                 "timelines"):
        assert (out / f"{name}.csv").is_file(), name
    per_seq = (out / "per_sequence.csv").read_text().splitlines()
    assert per_seq[0].startswith("video,ap,") and len(per_seq) == 3


def test_refuses_to_replace_a_folder_it_did_not_write(report: tuple[Path, Path], tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = report
    monkeypatch.setattr(report_module, "draw_plots", lambda out, r: {})       # plots: not what is tested
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    data = load_eval_data(root / "gt", root / "pred0")
    with pytest.raises(DataError, match="not written by simplepose"):
        write_report(tmp_path / "mine", data, evaluate_data(data))
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"
    write_report(tmp_path / "again", data, evaluate_data(data))
    index = write_report(tmp_path / "again", data, evaluate_data(data))       # a report: replaced whole
    assert index.is_file() and [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib not installed: the page would have no plots")
def test_a_headless_browser_renders_the_page(report: tuple[Path, Path], tmp_path: Path) -> None:
    import cv2

    _, index = report
    png = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,1400",
                    f"--screenshot={png}", index.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    img = cv2.imread(str(png))
    assert img.shape == (1400, 1100, 3)
    # drawn: dark text on white and the plots' blue bars, not an empty or error page
    assert (img.min(axis=-1) < 60).mean() > 0.002
    assert np.all(np.abs(img.astype(int) - (182, 111, 59)) < 12, axis=-1).sum() > 500


_PLAYER = """<script>
const v = document.querySelector('video'), s = v.querySelector('source');
const say = t => { document.title = t; };
s.addEventListener('error', () => say('error'));
v.addEventListener('error', () => say('error'));
v.addEventListener('timeupdate', () => { if (v.currentTime > 0) say('playing ' + v.videoWidth + 'x' + v.videoHeight); });
v.play().catch(e => say('error ' + e.name));
</script>"""


def _plays_in_chromium(index: Path, tmp_path: Path) -> str:
    """The report's own <video> markup, beside the page, in a harness page that says whether Chromium played it."""
    video = re.search(r"<video.*?</video>", index.read_text(), re.S)
    assert video is not None, "the page has no <video>"
    harness = index.parent / "play.html"
    harness.write_text(f"<!DOCTYPE html><html><head><title>waiting</title></head><body>{video.group(0)}{_PLAYER}"
                       "</body></html>")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                           "--disable-component-update", "--disable-sync", "--no-first-run", "--mute-audio",
                           "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=8000", "--dump-dom", harness.resolve().as_uri()],
                          capture_output=True, text=True, timeout=120)
    title = re.search(r"<title>(.*?)</title>", done.stdout)
    return title.group(1) if title else done.stderr[-500:]


def _clip(path: Path) -> Path:
    """A 64x48 clip of 12 frames, a square moving across."""
    from simplepose.inference.video import VideoWriter
    with VideoWriter(path, fps=10) as writer:
        for i in range(12):
            frame = np.full((48, 64, 3), 90, np.uint8)
            frame[10:30, 4 * i:4 * i + 20] = (40, 200, 240)
            writer.write(frame)
    return path


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium installed (apt-get install chromium)")
def test_the_tracking_clip_plays_from_disk_in_chromium(report: tuple[Path, Path], tmp_path: Path) -> None:
    """A .webm clip (VP8) plays from disk; the check itself fails on an MPEG-4 Part 2 .mp4, which Chromium refuses."""
    from simplepose.inference.video import can_write
    from simplepose.evaluation.report import Clip

    root, _ = report
    data = load_eval_data(root / "gt", root / "pred0")
    index = write_report(tmp_path / "webm", data, evaluate_data(data), clip=Clip(_clip(tmp_path / "c.webm"), "a clip"))
    assert '<figcaption class="name">a clip</figcaption>' in index.read_text()
    assert (index.parent / "clip.webm").is_file()
    assert _plays_in_chromium(index, tmp_path) == "playing 64x48"
    if not can_write("avc1", ".mp4"):         # pip's OpenCV: .mp4 is MPEG-4 Part 2
        index = write_report(tmp_path / "mp4", data, evaluate_data(data), clip=Clip(_clip(tmp_path / "c.mp4"), "x"))
        assert _plays_in_chromium(index, tmp_path).startswith("error")
