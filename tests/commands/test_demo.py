"""`simplepose demo` end to end at a toy size: synthesise, train, evaluate, print the table, draw."""
from __future__ import annotations

from simplepose.cli import main


def test_demo_runs_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    rc = main(["demo", "--out-dir", str(out), "--train-videos", "2", "--val-videos", "1", "--frames", "4",
               "--threads", "1", "--overlays", "2",
               "--set", "optim.epochs=1", "data.workers=0", "runtime.max_iters_per_epoch=1"])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| AP | Head | Shou | Elb | Wri | Hip | Knee | Ankl | Total |" in printed
    assert "Total AP" in printed and "Demo done in" in printed and "tracking: mAP" in printed
    assert "keypoint HOTA" in printed
    # which boxes each number uses, and the ties explanation at most once
    assert "pose AP on the ground-truth boxes" in printed and "noisy boxes" in printed
    assert "(ground-truth boxes), tracking MOTA" in printed and "(noisy detections)" in printed
    assert len(list((out / "track" / "predictions").glob("*.json"))) == 1
    assert (out / "work" / "latest.pth").is_file()
    assert len(list((out / "eval" / "predictions").glob("*.json"))) == 1
    assert len(list((out / "overlays").glob("*.jpg"))) == 2
    report = out / "report" / "index.html"
    assert f"report: {report}" in printed and report.is_file()
    assert list((out / "report" / "gallery").glob("*.jpg"))       # the synthetic frames were found
    # the tracked overlay clip of the first val video, as VP8 WebM (browsers play it), shown on the page
    import cv2
    cap = cv2.VideoCapture(str(out / "report" / "clip.webm"))
    fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode()
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert fourcc == "VP80" and frames == 4
    assert '<source src="clip.webm" type="video/webm">' in report.read_text()


def test_demo_help_gives_the_measured_time():
    """`simplepose demo`'s one-line help gives the range of the times configs/synthetic_demo.md measured."""
    import re
    from pathlib import Path

    from simplepose.cli import COMMANDS
    doc = (Path(__file__).resolve().parents[2] / "configs" / "synthetic_demo.md").read_text()
    times = [float(t) for row in re.findall(r"\| (\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?) min \(", doc)
             for t in row.split("-")]
    low, high = map(int, re.search(r"(\d+)-(\d+) min on 2 cores", COMMANDS["demo"][1]).groups())
    assert times and (low, high) == (round(min(times)), round(max(times)))
