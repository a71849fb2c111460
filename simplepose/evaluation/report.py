"""The evaluation report: one self-contained folder with index.html, its plots and their data.

``write_report`` takes what the evaluator already computed (``EvalData`` from
``eval_data.load_eval_data``, the ``PoseTrackResult`` and optionally the ``TrackingResult`` and
``HotaResult``) and adds no metric of its own: every number comes from ``pose_ap``, ``mota``, ``hota``,
``breakdown`` (AP of subsets)
and ``diagnosis`` (error classes, oracle AP), and is written once to ``report.json``; the page
shows those values, each cell naming its JSON path in ``data-src``. Plots are PNGs drawn with
matplotlib's Agg backend (without matplotlib the page has the tables and says the plots are
missing); the data behind each plot is a CSV beside it. The page needs no server and no script.
The folder is written aside and swapped in whole; an existing folder is replaced only if it holds a
report (its ``report.json`` names this module as generator).
"""
from __future__ import annotations

import csv
import html
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from simplepose.data.image import read_image
from simplepose.data.keypoints import get_schema
from simplepose.evaluation.arrays import nan_to_none
from simplepose.evaluation.breakdown import GroupAP, ap_by_size, ap_by_visible, per_frame, per_sequence
from simplepose.evaluation.diagnosis import (CLASSES, GOOD, JITTER_MAX, NEAR_OTHER, ORACLE_CLASSES, Diagnosis,
                                             diagnose)
from simplepose.evaluation.eval_data import EvalData
from simplepose.evaluation.hota import FIELDS as HOTA_FIELDS
from simplepose.evaluation.hota import HOTA_TABLE_JOINTS, HotaResult
from simplepose.evaluation.jitter import evaluate_jitter
from simplepose.evaluation.mota import TRACKING_SUMMARY_HEADER, TrackingResult
from simplepose.evaluation.pose_ap import (PCKH_THRESHOLD, SUMMARY_HEADER, Detections, PoseTrackResult,
                                           collect_detections, precision_recall_curves, summarize, table_cell)
from simplepose.evaluation.poseval_files import JOINT_NAMES, NUM_JOINTS, POSEVAL_INDEX
from simplepose.evaluation.report_plots import draw_plots
from simplepose.folders import replace_folder
from simplepose.io import atomic_write, write_json
from simplepose.visualize import draw_poses, save_image

GENERATOR = "simplepose.evaluation.report"
WORST_SEQUENCES = 5        # timeline strips
GALLERY_FRAMES = 8
CURVE_POINTS = 200         # samples per precision-recall curve in the CSV and the plot


def short_label(path: str | os.PathLike, this: str | os.PathLike) -> str:
    """The fewest trailing parts of `path` that tell it from `this` (a legend and table label, not a
    page-wide absolute path): 'run2' for runs/run2 beside runs/run1, 'b/predictions' for a/b/predictions
    beside a/c/predictions."""
    parts, other = Path(os.path.abspath(path)).parts, Path(os.path.abspath(this)).parts
    for n in range(1, len(parts) + 1):
        if parts[-n:] != other[-n:]:
            return "/".join(parts[-n:])
    return "/".join(parts[-1:])


@dataclass
class Compared:
    """A second prediction folder evaluated against the same GT."""

    name: str
    data: EvalData
    result: PoseTrackResult
    tracking: TrackingResult | None = None
    hota: HotaResult | None = None


def find_images_root(gt_dir: str | os.PathLike, file_names: list[str]) -> Path | None:
    """The folder the GT's file names are relative to (PoseTrack: ROOT/annotations/val -> ROOT), or None."""
    if not file_names:
        return None
    gt_dir = Path(gt_dir)
    base = gt_dir.parent if gt_dir.is_file() else gt_dir
    for root in (base.parent.parent, base.parent, base):
        if (root / file_names[0]).is_file():
            return root
    return None


def _diff(a: list, b: list) -> list:
    """b - a elementwise, None where either is None."""
    return [None if x is None or y is None else y - x for x, y in zip(a, b)]


def _sample_curve(recall: np.ndarray, precision: np.ndarray) -> tuple[list, list]:
    """At most CURVE_POINTS points of a curve, the last one kept."""
    if len(recall) > CURVE_POINTS:
        idx = np.unique(np.r_[np.linspace(0, len(recall) - 1, CURVE_POINTS).round().astype(int)])
        recall, precision = recall[idx], precision[idx]
    return nan_to_none(recall), nan_to_none(precision)


def _compare_json(evaluation: dict[str, Any], compare: Compared) -> dict[str, Any]:
    """The compared predictions' evaluation and its differences to the first (compared - first)."""
    other = compare.result.to_json()
    out = {"name": compare.name, "evaluation": other,
           "difference": {k: _diff(evaluation[k], other[k])
                          for k in ("ap", "summary_ap", "summary_precision", "summary_recall")}}
    if "tracking" in evaluation and compare.tracking is not None:
        other["tracking"] = compare.tracking.to_json()
        other["jitter"] = evaluate_jitter(compare.data, compare.tracking).to_json()
        out["difference"]["tracking_summary"] = _diff(evaluation["tracking"]["summary"], other["tracking"]["summary"])
    if "hota" in evaluation and compare.hota is not None:
        other["hota"] = compare.hota.to_json()
        out["difference"]["hota_total"] = {f: other["hota"]["total"][f] - evaluation["hota"]["total"][f]
                                           for f in HOTA_FIELDS}
    return out


def _sequence_rows(data: EvalData, diag: Diagnosis, tracking: TrackingResult | None,
                   compare: Compared | None, hota: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """One row per sequence (Total AP, precision, recall; compared AP; MOTA and counts; keypoint HOTA),
    worst AP first."""
    seq_ap, seq_pre, seq_rec = per_sequence(data, diag.detections, diag.order)
    other_ap = per_sequence(compare.data, collect_detections(compare.data))[0] if compare is not None else None
    rows = []
    for v, name in enumerate(data.videos):
        row = {"video": name, "ap": float(seq_ap[v, NUM_JOINTS]), "precision": float(seq_pre[v, NUM_JOINTS]),
               "recall": float(seq_rec[v, NUM_JOINTS])}
        if other_ap is not None:
            row["compare_ap"] = float(other_ap[v, NUM_JOINTS])
            row["difference"] = row["compare_ap"] - row["ap"]
        if tracking is not None:
            vt = tracking.video_result(v)
            row.update(mota=float(vt.mota[NUM_JOINTS]), switches=int(vt.counts["num_switches"].sum()),
                       fp=int(vt.counts["num_false_positives"].sum()), fn=int(vt.counts["num_misses"].sum()))
        if hota is not None:
            row["hota"] = hota["per_sequence"][name]["HOTA"]
        rows.append({k: (None if isinstance(x, float) and x != x else x) for k, x in row.items()})
    rows.sort(key=lambda r: (np.inf if r["ap"] is None else r["ap"], r["video"]))
    return rows


def _groups_json(groups: GroupAP) -> list[dict[str, Any]]:
    """Each group's name, GT person count, per-joint AP and its 8 table columns."""
    return [{"name": n, "n_gt_persons": int(c), "ap": nan_to_none(a), "summary_ap": nan_to_none(summarize(a))}
            for n, c, a in zip(groups.names, groups.n_gt_persons, groups.ap)]


def _diagnosis_json(diag: Diagnosis, ap: list) -> dict[str, Any]:
    """The bands, the class counts per joint (+ all), the oracle AP and its gain over ap."""
    return {"bands": {"good_max": PCKH_THRESHOLD, "jitter_max": JITTER_MAX, "near_other": NEAR_OTHER},
            "counts": {c: v.tolist() + [int(v.sum())] for c, v in diag.counts().items()},
            "oracle_ap": {c: nan_to_none(v) for c, v in diag.oracle_ap.items()},
            "oracle_gain": {c: _diff(ap, nan_to_none(v)) for c, v in diag.oracle_ap.items()}}


def _worst_frames(data: EvalData, det: Detections) -> list[dict[str, Any]]:
    """The GALLERY_FRAMES frames of lowest F1 (more GT joints first on ties)."""
    frames = per_frame(data, det)
    f1 = np.where(np.isnan(frames["f1"]), np.inf, frames["f1"])
    worst = np.lexsort((-frames["gt_joints"], f1))[:GALLERY_FRAMES]
    return [{"frame": int(f), "video": data.videos[data.video_of_frame[f]],
             "file_name": data.file_names[f] if data.file_names else None,
             **{k: nan_to_none(frames[k][f:f + 1])[0] for k in ("precision", "recall", "f1")},
             "detections": int(frames["detections"][f]), "gt_joints": int(frames["gt_joints"][f])}
            for f in worst if np.isfinite(f1[f])]


def _timelines(data: EvalData, tracking: TrackingResult, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per evaluated frame of the WORST_SEQUENCES lowest-MOTA sequences: switches, misses, FPs (all joints)."""
    mota = {r["video"]: np.inf if r["mota"] is None else r["mota"] for r in rows}
    worst = sorted(range(len(data.videos)), key=lambda v: (mota[data.videos[v]], v))[:WORST_SEQUENCES]
    ev = tracking.frame_events
    return [{"video": data.videos[v], **{k: ev[k][data.video_of_frame == v].sum(axis=1).tolist()
                                        for k in ("switches", "misses", "fps")}} for v in worst]


def build_report_data(data: EvalData, result: PoseTrackResult, tracking: TrackingResult | None = None,
                      compare: Compared | None = None, hota: HotaResult | None = None
                      ) -> tuple[dict[str, Any], Diagnosis]:
    """Everything the report shows, as strict JSON, and the diagnosis the gallery draws from."""
    diag = diagnose(data)
    det = diag.detections
    evaluation = result.to_json()
    if tracking is not None:
        evaluation["tracking"] = tracking.to_json()
        evaluation["jitter"] = evaluate_jitter(data, tracking).to_json()      # as `eval --tracking --json`
    if hota is not None:
        evaluation["hota"] = hota.to_json()
    out: dict[str, Any] = {"generator": GENERATOR, "evaluation": evaluation}
    if compare is not None:
        out["compare"] = _compare_json(evaluation, compare)
    out["pr_curves"] = [dict(zip(("recall", "precision"), _sample_curve(rc, pc)))
                        for rc, pc in precision_recall_curves(det, diag.order)]
    out["per_sequence"] = _sequence_rows(data, diag, tracking, compare, evaluation.get("hota"))
    size_groups, size_edges = ap_by_size(data, det, diag.order, diag.assigned)
    out["by_size"] = {"edges_px": size_edges.tolist(), "groups": _groups_json(size_groups)}
    out["by_visible"] = {"groups": _groups_json(ap_by_visible(data, det, diag.order, diag.assigned))}
    out["diagnosis"] = _diagnosis_json(diag, evaluation["ap"])
    out["worst_frames"] = _worst_frames(data, det)
    if tracking is not None:
        out["timelines"] = _timelines(data, tracking, out["per_sequence"])
    return out, diag


def format_value(value: Any) -> str:
    """How the page prints a JSON number: integers as they are, others with one decimal, None (not
    defined: NaN in the evaluator) as '-'."""
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return table_cell(float(value))


def lookup(report: dict[str, Any], path: str) -> Any:
    """The value at a dotted JSON path ('evaluation.summary_ap.7', 'per_sequence.0.ap')."""
    node: Any = report
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


# why the evaluator gives no number (NaN in its JSON, '-' on the page)
UNDEFINED_WHY = ("not defined: no ground-truth joints of this kind (AP, recall), no predicted joints (precision), "
                 "or, for MOTA, fewer than two labelled frames in the sequence (poseval leaves out its last frame)")


class _Page:
    """HTML fragments whose numbers are read from the report JSON by path."""

    def __init__(self, report: dict[str, Any]) -> None:
        """A page over one report's data."""
        self.report = report
        self.parts: list[str] = []
        self.undefined = 0          # numbers shown as '-'

    def num(self, path: str, tag: str = "td") -> str:
        """One number as <tag data-src=path>; an undefined one as '-' saying why on hover."""
        value = lookup(self.report, path)
        why = ""
        if value is None:
            self.undefined += 1
            why = f' title="{html.escape(UNDEFINED_WHY)}"'
        return f'<{tag} data-src="{html.escape(path)}"{why}>{format_value(value)}</{tag}>'

    def add(self, *fragments: str) -> None:
        """Append raw HTML (the fragments as one piece)."""
        self.parts.append("".join(fragments))

    def table(self, header: list[str], rows: list[tuple[str, list[str]]]) -> None:
        """A table: header names, rows of (label, number paths) (a path may be '' for an empty cell)."""
        self.add("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>")
        for label, paths in rows:
            cells = "".join(self.num(p) if p else "<td></td>" for p in paths)
            self.add(f'<tr><td class="name">{html.escape(label)}</td>{cells}</tr>')
        self.add("</table>")

    def image(self, name: str | None, alt: str, csvs: tuple[str, ...] = ()) -> None:
        """A plot beside the page with its CSVs (default: the plot's name), or a note that it is missing."""
        if name is None:
            self.add(f'<p class="note">{html.escape(alt)}: not drawn (install matplotlib: '
                     f'pip install "simplepose[report]").</p>')
            return
        links = ", ".join(f'<a href="{c}">{c}</a>' for c in (csvs or (Path(name).with_suffix(".csv").name,)))
        self.add(f'<figure><img src="{name}" alt="{html.escape(alt)}"><figcaption class="name">'
                 f'{html.escape(alt)} (data: {links})</figcaption></figure>')


def _csv_cell(value: Any) -> Any:
    """A CSV cell: "" for None; text starting with = + - @ (a spreadsheet formula) after a quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    """A CSV with a header row, names as text (_csv_cell); UTF-8, a name that is not (a file name's
    undecodable bytes) written back as its original bytes."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[_csv_cell(v) for v in row] for row in rows])
    path.write_bytes(buf.getvalue().encode("utf-8", "surrogateescape"))


def _write_csvs(out: Path, r: dict[str, Any]) -> None:
    """The data behind every plot and table as CSV files."""
    ev = r["evaluation"]
    _write_csv(out / "ap_per_joint.csv", ["joint", "ap", "precision", "recall", "n_gt_joints"] +
               (["compare_ap", "difference"] if "compare" in r else []),
               [[JOINT_NAMES[j], ev["ap"][j], ev["precision"][j], ev["recall"][j],
                 ev["n_gt_joints"][j] if j < NUM_JOINTS else sum(ev["n_gt_joints"])] +
                ([r["compare"]["evaluation"]["ap"][j], r["compare"]["difference"]["ap"][j]] if "compare" in r else [])
                for j in range(NUM_JOINTS + 1)])
    _write_csv(out / "pr_curves.csv", ["joint", "recall", "precision"],
               [[JOINT_NAMES[j], rc, pc] for j, c in enumerate(r["pr_curves"])
                for rc, pc in zip(c["recall"], c["precision"])])
    keys = list(r["per_sequence"][0]) if r["per_sequence"] else ["video"]
    _write_csv(out / "per_sequence.csv", keys, [[row[k] for k in keys] for row in r["per_sequence"]])
    for name in ("by_size", "by_visible"):
        _write_csv(out / f"{name}.csv", ["group", "n_gt_persons", *JOINT_NAMES],
                   [[g["name"], g["n_gt_persons"], *g["ap"]] for g in r[name]["groups"]])
    d = r["diagnosis"]
    _write_csv(out / "diagnosis.csv", ["class", *JOINT_NAMES],
               [[c, *v] for c, v in d["counts"].items()])
    _write_csv(out / "oracle.csv", ["fixed_class", *[f"{j}_ap" for j in JOINT_NAMES], "total_gain"],
               [[c, *d["oracle_ap"][c], d["oracle_gain"][c][NUM_JOINTS]] for c in ORACLE_CLASSES])
    _write_csv(out / "worst_frames.csv", ["frame", "video", "file_name", "precision", "recall", "f1"],
               [[w["frame"], w["video"], w["file_name"], w["precision"], w["recall"], w["f1"]]
                for w in r["worst_frames"]])
    if "jitter" in ev:
        _write_csv(out / "jitter.csv", ["joint", "pixels", "head_percent", "triples"],
                   [[JOINT_NAMES[j], ev["jitter"]["pixels"][j], ev["jitter"]["head_percent"][j],
                     ev["jitter"]["triples"][j]] for j in range(NUM_JOINTS + 1)])
    if "timelines" in r:
        _write_csv(out / "timelines.csv", ["video", "frame_position", "switches", "misses", "fps"],
                   [[t["video"], i, s, m, f] for t in r["timelines"]
                    for i, (s, m, f) in enumerate(zip(t["switches"], t["misses"], t["fps"]))])


def _pose17(xy: np.ndarray, has: np.ndarray) -> np.ndarray:
    """poseval-ordered joints (N, 15, 2) + presence (N, 15) as PoseTrack18 keypoints (N, 17, 3)."""
    schema = get_schema("posetrack18")
    out = np.zeros((len(xy), schema.num_keypoints, 3))
    for k, name in enumerate(schema.keypoint_names):
        j = POSEVAL_INDEX.get(name)
        if j is not None:
            out[:, k, :2] = xy[:, j]
            out[:, k, 2] = has[:, j]
    return out


def _draw_gallery(out: Path, r: dict[str, Any], data: EvalData, joint_cls: np.ndarray,
                  images_root: Path | None) -> int:
    """GT | prediction side by side for the worst frames (wrong joints ringed red); images written.
    Every worst frame gets its predicted joints' error classes counted (`wrong_joints`, for the captions)."""
    for w in r["worst_frames"]:
        cls = joint_cls[data.pred.frame == w["frame"]].ravel()
        w["wrong_joints"] = {name: int((cls == c).sum()) for c, name in enumerate(CLASSES)
                             if c != GOOD and (cls == c).any()}
    if images_root is None:
        return 0
    schema = get_schema("posetrack18")
    written = 0
    for w in r["worst_frames"]:
        path = images_root / w["file_name"] if w["file_name"] else None
        if path is None or not path.is_file():
            continue
        image = read_image(path)
        f = w["frame"]
        g = data.gt.frame == f
        p = data.pred.frame == f
        left = draw_poses(image, _pose17(data.gt.xy[g], data.gt.has[g]), schema, score_thr=0.5)
        right = draw_poses(image, _pose17(data.pred.xy[p], data.pred.has[p]), schema, score_thr=0.5)
        size = max(4, max(image.shape[:2]) // 60)
        for xy, c in zip(data.pred.xy[p].reshape(-1, 2), joint_cls[p].ravel()):
            if c >= 0 and c != GOOD and np.isfinite(xy).all():
                cv2.circle(right, (int(round(xy[0])), int(round(xy[1]))), size, (0, 0, 255), 2, cv2.LINE_AA)
        pair = np.concatenate([left, right], axis=1)
        scale = 960 / pair.shape[1]
        if scale < 1:
            pair = cv2.resize(pair, (960, int(round(pair.shape[0] * scale))), interpolation=cv2.INTER_AREA)
        save_image(out / "gallery" / f"frame_{f:06d}.jpg", pair)
        w["image"] = f"gallery/frame_{f:06d}.jpg"
        written += 1
    return written


_CSS = """body{font-family:system-ui,sans-serif;margin:16px auto;padding:0 24px;max-width:1040px;color:#222}
summary{cursor:pointer;color:#3b6fb6;margin:4px 0}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
td.name,th:first-child{text-align:left}th{background:#f0f3f7}img,video{max-width:100%}
.note{color:#555;font-size:90%}figure{margin:8px 0 20px}figcaption{font-size:85%;color:#555}
.gallery figure{display:inline-block;width:49%;margin:3px 0;vertical-align:top}.gallery img{width:100%}.scroll{max-height:420px;overflow-y:auto;display:inline-block}"""


def _summary_section(page: _Page, r: dict[str, Any]) -> None:
    """The AP / precision / recall table (beside the compared predictions) and the tracking table."""
    page.add("<h2>Summary</h2>")
    rows = [("AP", [f"evaluation.summary_ap.{i}" for i in range(len(SUMMARY_HEADER))]),
            ("Precision", [f"evaluation.summary_precision.{i}" for i in range(len(SUMMARY_HEADER))]),
            ("Recall", [f"evaluation.summary_recall.{i}" for i in range(len(SUMMARY_HEADER))])]
    if "compare" in r:
        name = r["compare"]["name"]
        rows += [(f"AP {name}", [f"compare.evaluation.summary_ap.{i}" for i in range(len(SUMMARY_HEADER))]),
                 (f"AP difference ({name} - this)",
                  [f"compare.difference.summary_ap.{i}" for i in range(len(SUMMARY_HEADER))])]
    page.table(["", *SUMMARY_HEADER], rows)
    if "tracking" in r["evaluation"]:
        trows = [("tracking", [f"evaluation.tracking.summary.{i}" for i in range(len(TRACKING_SUMMARY_HEADER))])]
        if "compare" in r and "tracking_summary" in r["compare"]["difference"]:
            trows += [(r["compare"]["name"], [f"compare.evaluation.tracking.summary.{i}"
                                              for i in range(len(TRACKING_SUMMARY_HEADER))]),
                      ("difference", [f"compare.difference.tracking_summary.{i}"
                                      for i in range(len(TRACKING_SUMMARY_HEADER))])]
        page.table(["", *TRACKING_SUMMARY_HEADER], trows)
    if "hota" in r["evaluation"]:
        _hota_tables(page, r)
    if "jitter" in r["evaluation"]:
        _jitter_table(page, r)


def _hota_tables(page: _Page, r: dict[str, Any]) -> None:
    """Keypoint HOTA totals (beside the compared predictions) and, folded, per joint."""
    hrows = [("keypoint HOTA", [f"evaluation.hota.total.{f}" for f in HOTA_FIELDS])]
    if "compare" in r and "hota_total" in r["compare"]["difference"]:
        hrows += [(r["compare"]["name"], [f"compare.evaluation.hota.total.{f}" for f in HOTA_FIELDS]),
                  ("difference", [f"compare.difference.hota_total.{f}" for f in HOTA_FIELDS])]
    page.table(["", *HOTA_FIELDS], hrows)
    page.add('<p class="note">Keypoint HOTA as the PoseTrack21 evaluation kit computes it (labelled frames, '
             f'19 thresholds averaged); {html.escape(r["evaluation"]["hota"]["note"])}.</p>')
    page.add("<details><summary>keypoint HOTA per joint</summary>")
    page.table(["", *HOTA_TABLE_JOINTS],
               [(f, [f"evaluation.hota.per_joint.{f}.{j}" for j in range(len(HOTA_TABLE_JOINTS))])
                for f in HOTA_FIELDS])
    page.add("</details>")


def _jitter_table(page: _Page, r: dict[str, Any]) -> None:
    """The keypoint acceleration error: totals (and the compared predictions'), per joint folded."""
    page.add("<p>Jitter: the mean keypoint acceleration error, the length of the predicted joint's second "
             "difference minus the GT joint's, over three consecutive labeled frames in which the GT joint is "
             "matched (as MOTA matches) to one predicted track; in pixels and in percent of the GT head size "
             "(<code>simplepose.evaluation.jitter</code>).</p>")
    cols = ("pixels", "head_percent", "triples")
    rows = [("jitter", [f"evaluation.jitter.{c}.{NUM_JOINTS}" for c in cols])]
    if "compare" in r and "jitter" in r["compare"]["evaluation"]:
        rows.append((r["compare"]["name"], [f"compare.evaluation.jitter.{c}.{NUM_JOINTS}" for c in cols]))
    header = ["", "acceleration error (px)", "(% of head size)", "triples"]
    page.table(header, rows)
    page.add("<details><summary>per joint</summary>")
    page.table(["joint", *header[1:]], [(JOINT_NAMES[j], [f"evaluation.jitter.{c}.{j}" for c in cols])
                                        for j in range(NUM_JOINTS)])
    page.add("</details>")


def _joint_section(page: _Page, r: dict[str, Any], plots: dict[str, str | None]) -> None:
    """AP bars, the per-joint table and the precision-recall curves."""
    page.add("<h2>Per joint</h2>")
    page.image(plots.get("ap_per_joint"), "AP per joint")
    page.add("<details><summary>per-joint table</summary>")
    page.table(["joint", "AP", "Precision", "Recall", "GT joints"],
               [(JOINT_NAMES[j], [f"evaluation.ap.{j}", f"evaluation.precision.{j}", f"evaluation.recall.{j}",
                                  f"evaluation.n_gt_joints.{j}" if j < NUM_JOINTS else ""])
                for j in range(NUM_JOINTS + 1)])
    page.add("</details>")
    page.image(plots.get("pr_curves"), "Precision-recall curve per joint (every score threshold)")


def _sequence_section(page: _Page, r: dict[str, Any], plots: dict[str, str | None]) -> None:
    """Per-sequence table worst first, its distribution, the tracking timelines."""
    page.add("<h2>Per sequence, worst first</h2>")
    page.image(plots.get("per_sequence"), "Distribution over sequences")
    seq = r["per_sequence"]
    cols = [k for k in ("ap", "precision", "recall", "compare_ap", "difference", "mota", "switches", "fp", "fn",
                        "hota") if seq and k in seq[0]]
    heads = {"ap": "Total AP", "precision": "Precision", "recall": "Recall", "compare_ap": "AP compared",
             "difference": "difference", "mota": "MOTA Total", "switches": "ID switches", "fp": "FP", "fn": "FN",
             "hota": "keypoint HOTA"}
    page.add('<div class="scroll">')
    page.table(["sequence", *(heads[c] for c in cols)],
               [(s["video"], [f"per_sequence.{i}.{c}" for c in cols]) for i, s in enumerate(seq)])
    page.add("</div>")
    if "timelines" in r:
        page.add("<h3>Tracking timelines of the sequences with the lowest MOTA</h3>")
        page.image(plots.get("timelines"), "Where ids switch, per evaluated frame (all joints)")


def _group_section(page: _Page, r: dict[str, Any], plots: dict[str, str | None]) -> None:
    """AP by person size and by visible joints."""
    page.add("<h2>AP by person size and by visible joints</h2>")
    page.add("<p>Size: diagonal of the box around a person's annotated joints; bins at the GT terciles, ",
             page.num("by_size.edges_px.0", "span"), " and ", page.num("by_size.edges_px.1", "span"),
             " pixels. A prediction takes the group of its matched GT person, an unmatched one its own.</p>")
    page.image(plots.get("by_group"), "Total AP by group", ("by_size.csv", "by_visible.csv"))
    for key, label in (("by_size", "size"), ("by_visible", "visible joints")):
        page.table([label, "GT persons", *SUMMARY_HEADER],
                   [(g["name"], [f"{key}.groups.{i}.n_gt_persons"] +
                     [f"{key}.groups.{i}.summary_ap.{c}" for c in range(len(SUMMARY_HEADER))])
                    for i, g in enumerate(r[key]["groups"])])


def _diagnosis_section(page: _Page, r: dict[str, Any], plots: dict[str, str | None]) -> None:
    """The error classes (with their bands), their counts and the oracle gains."""
    page.add("<h2>Error diagnosis</h2>")
    page.add("<p>Persons are matched as the AP matches them (PCKh). Distances are in head sizes of the GT "
             "person measured to. A predicted joint is <b>good</b> within ",
             page.num("diagnosis.bands.good_max", "span"),
             " of its GT joint (a true positive); otherwise an <b>inversion</b> if it lies within ",
             page.num("diagnosis.bands.near_other", "span"), " of the same person's mirrored joint (left/right), "
             "a <b>swap</b> if within ", page.num("diagnosis.bands.near_other", "span"),
             " of that joint (or its mirror) on another person, <b>jitter</b> if within ",
             page.num("diagnosis.bands.jitter_max", "span"), " of its GT joint, else a <b>miss</b>. "
             "<b>Background FP</b>: a joint of an unmatched prediction or one the matched GT does not annotate; "
             "<b>background FN</b>: a GT joint no matched prediction has.</p>")
    page.image(plots.get("diagnosis"), "Predicted joints by error class")
    classes = [*CLASSES, "background_fn"]
    page.table(["joint", *(c.replace("_", " ") for c in classes)],
               [(JOINT_NAMES[j] if j < NUM_JOINTS else "all", [f"diagnosis.counts.{c}.{j}" for c in classes])
                for j in range(NUM_JOINTS + 1)])
    page.add("<p>Oracle: Total AP if one class alone were fixed (errors moved onto their GT joint, background "
             "FPs removed, background FNs not counted), and the gain over the actual Total AP.</p>")
    page.image(plots.get("oracle"), "Total AP gained per fixed class")
    page.table(["fixed", "Total AP", "gain"],
               [(c.replace("_", " "), [f"diagnosis.oracle_ap.{c}.15", f"diagnosis.oracle_gain.{c}.15"])
                for c in ORACLE_CLASSES])


def _gallery_section(page: _Page, r: dict[str, Any], n_gallery: int, images_root: Path | None) -> None:
    """The worst frames' table and their drawn images."""
    page.add("<h2>Worst frames</h2><p>Lowest F1 of precision and recall over all predicted joints of a frame. "
             "Left: ground truth; right: prediction, wrong joints ringed red.</p>")
    page.table(["frame", "F1", "Precision", "Recall", "detections", "GT joints"],
               [(w["file_name"] or f"{w['video']} frame {w['frame']}",
                 [f"worst_frames.{i}.{k}" for k in ("f1", "precision", "recall", "detections", "gt_joints")])
                for i, w in enumerate(r["worst_frames"])])
    if n_gallery:
        page.add('<div class="gallery">')
        for i, w in enumerate(r["worst_frames"]):
            if "image" in w:
                page.add(f'<figure><img src="{w["image"]}" alt="{html.escape(w["file_name"] or "")}">'
                       f'<figcaption>{_worst_frame_caption(page, i, w)}</figcaption></figure>')
        page.add("</div>")
    else:
        reason = "images not found" if images_root is None else "none of the frames' images found"
        page.add(f"<p class='note'>No gallery: {reason} (give --images ROOT).</p>")


@dataclass(frozen=True)
class Clip:
    """A video to show on the page (e.g. a tracked overlay clip): the file and what it shows."""

    path: Path
    caption: str


def _clip_section(page: _Page, name: str, caption: str) -> None:
    """The clip beside the page, in a <video> that plays from disk (WebM VP8 or H.264 MP4 in browsers)."""
    kind = "video/webm" if name.endswith(".webm") else "video/mp4"
    page.add(f'<h2>Tracking clip</h2><figure><video controls muted loop preload="auto"><source src="{name}" '
             f'type="{kind}"></video><figcaption class="name">{html.escape(caption)}</figcaption></figure>')


def _worst_frame_caption(page: _Page, i: int, w: dict[str, Any]) -> str:
    """Sequence, frame and what went wrong: recall, precision and the wrong joints by error class."""
    where = f'<span class="name">{html.escape(w["video"])}, {html.escape(w["file_name"] or "")}</span>'
    wrong = ", ".join(f'{page.num(f"worst_frames.{i}.wrong_joints.{name}", "span")} {name.replace("_", " ")}'
                      for name in w.get("wrong_joints", {}))
    return (f"{where}: recall {page.num(f'worst_frames.{i}.recall', 'span')}%, precision "
            f"{page.num(f'worst_frames.{i}.precision', 'span')}% of "
            f"{page.num(f'worst_frames.{i}.gt_joints', 'span')} GT joints; wrong joints: {wrong or 'none'}")


def _html(r: dict[str, Any], plots: dict[str, str | None], title: str, n_gallery: int,
          images_root: Path | None, clip: tuple[str, str] | None = None) -> str:
    """The page; clip: (file name beside the page, caption)."""
    page = _Page(r)
    page.add("<!DOCTYPE html><html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
             f"<style>{_CSS}</style></head><body>", f'<h1 class="name">{html.escape(title)}</h1>')
    page.add("<p>Sequences evaluated: ", page.num("evaluation.sequences_evaluated", "span"),
             ", frames evaluated: ", page.num("evaluation.frames_evaluated", "span"),
             ". All numbers in percent, from the PoseTrack18 evaluator (the official poseval rules; "
             "<code>report.json</code> holds them all).</p>")
    _summary_section(page, r)
    _joint_section(page, r, plots)
    _sequence_section(page, r, plots)
    _group_section(page, r, plots)
    _diagnosis_section(page, r, plots)
    _gallery_section(page, r, n_gallery, images_root)
    if clip is not None:
        _clip_section(page, *clip)
    if page.undefined:
        page.add(f'<p class="note">- : {html.escape(UNDEFINED_WHY)}.</p>')
    page.add("</body></html>")
    return "\n".join(page.parts)


def write_report(out_dir: str | os.PathLike, data: EvalData, result: PoseTrackResult,
                 tracking: TrackingResult | None = None, compare: Compared | None = None,
                 images_root: str | os.PathLike | None = None, title: str = "PoseTrack18 evaluation report",
                 extra: dict[str, Any] | None = None, hota: HotaResult | None = None,
                 clip: Clip | None = None) -> Path:
    """Write out_dir/index.html, report.json, the plots and their CSVs; returns the index.html path.

    data/result/tracking/hota: what the evaluator computed (load_eval_data, evaluate_data,
    evaluate_tracking, evaluate_hota); compare: a second prediction folder on the same GT;
    images_root: the folder the GT file names are relative to (the gallery is left out when None
    or not found);
    extra: JSON-able facts stored under report.json's "inputs" (paths, names); clip: a video copied
    beside the page and shown at its end.
    """
    out = Path(out_dir)
    report, diag = build_report_data(data, result, tracking, compare, hota)
    if extra:
        report["inputs"] = extra
    root = Path(images_root) if images_root is not None else None

    def fill(tmp: Path) -> None:
        """Everything the page needs, written into the temporary folder that replace_folder swaps in."""
        _write_csvs(tmp, report)
        plots = draw_plots(tmp, report)
        n_gallery = _draw_gallery(tmp, report, data, diag.joint_cls, root)
        shown = None
        if clip is not None:
            shown = ("clip" + Path(clip.path).suffix.lower(), clip.caption)
            shutil.copyfile(clip.path, tmp / shown[0])
        page = _html(report, plots, title, n_gallery, root, shown).encode("utf-8", "backslashreplace")  # undecodable names
        atomic_write(tmp / "index.html", lambda f: f.write(page), mode="wb")
        write_json(tmp / "report.json", report, indent=1)

    replace_folder(out, fill)       # over an earlier report only: never over a folder we did not write
    return out / "index.html"
