"""Keypoint HOTA against the PoseTrack21 kit's own numbers (golden_hota/, made as hota_cases.py
says), with anDoer/PoseTrack21#10 fixed and as published; and hand-computed cases."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from simplepose.errors import DataError
from simplepose.evaluation.eval_data import load_eval_data
from simplepose.evaluation.hota import FIELDS, HotaResult, evaluate_hota
from tests.evaluation import hota_cases
from tests.evaluation.posetrack_cases import as_prediction, write_case, write_pred

GOLDEN = Path(__file__).parent / "golden_hota"
_OURS = {"HOTA_TP": "TP", "HOTA_FN": "FN", "HOTA_FP": "FP"}


def _check(want: dict, arrays: dict[str, np.ndarray], where: str) -> None:
    """Our (19, 16) arrays against the kit's per-joint alpha means (and per-alpha totals)."""
    for kit_name, numbers in want.items():
        ours = arrays[_OURS.get(kit_name, kit_name)]
        np.testing.assert_allclose(ours.mean(axis=0), numbers["joint"], rtol=0, atol=1e-6,
                                   err_msg=f"{where} {kit_name}")
        if "alpha_total" in numbers:
            np.testing.assert_allclose(ours[:, -1], numbers["alpha_total"], rtol=0, atol=1e-6,
                                       err_msg=f"{where} {kit_name} per alpha")


@pytest.fixture(scope="module", params=sorted(hota_cases.CASES))
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, object]:
    root = tmp_path_factory.mktemp(request.param)
    gt_dir, pred_dir = hota_cases.write_case(request.param, root)
    golden = json.loads((GOLDEN / f"{request.param}.json").read_text())
    assert hota_cases.input_digest(root) == golden["inputs_sha256"], "inputs differ from the goldens' inputs"
    return golden, load_eval_data(gt_dir, pred_dir)


@pytest.mark.parametrize("mode", ["fixed", "published"])
def test_kit_goldens(case: tuple[dict, object], mode: str) -> None:
    golden, data = case
    result = evaluate_hota(data, kit_defect=mode == "published")
    want = golden[mode]
    _check(want["combined"], result.combined, "combined")
    assert sorted(want["sequences"]) == sorted(result.sequences)
    for name, arrays in zip(result.sequences, result.per_sequence):
        _check(want["sequences"][name], arrays, name)


def _one_video(tmp_path: Path, n_frames: int = 2) -> tuple[Path, Path, dict]:
    gt_dir, pred_dir, gt = write_case(tmp_path, n_frames=n_frames, n_people=1)
    return gt_dir, pred_dir, gt


def test_perfect_predictions_score_100(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path, n_frames=3, n_people=2)
    write_pred(pred_dir, as_prediction(gt))
    summary = evaluate_hota(load_eval_data(gt_dir, pred_dir)).summary()
    for f in FIELDS:
        assert summary[f][15] == pytest.approx(100.0), f
    assert summary["FN"][15] == summary["FP"][15] == 0 and summary["TP"][15] == 3 * 2 * 15


def test_frame_without_predictions_fixed_and_as_published(tmp_path: Path) -> None:
    # frame 0: one person predicted exactly (15 TP); frame 1: not predicted (15 joints missed)
    gt_dir, pred_dir, gt = _one_video(tmp_path)
    pred = as_prediction(gt)
    pred["annotations"] = [a for a in pred["annotations"] if a["image_id"] == gt["images"][0]["id"]]
    write_pred(pred_dir, pred)
    data = load_eval_data(gt_dir, pred_dir)
    fixed = evaluate_hota(data).summary()
    published = evaluate_hota(data, kit_defect=True).summary()
    assert fixed["FN"][15] == 15 and fixed["DetA"][15] == pytest.approx(50.0)
    assert published["FN"][15] == 30 and published["DetA"][15] == pytest.approx(100 / 3)   # the sequence's 30
    # one track matched in one of its two frames: AssA = 1 / (2 + 1 - 1) = 0.5
    assert fixed["AssA"][15] == pytest.approx(50.0) and fixed["HOTA"][15] == pytest.approx(50.0)


def test_similarity_threshold_and_locality(tmp_path: Path) -> None:
    # every joint 0.25 head sizes off: similarity 1 - 0.25 / 0.5001, matched at the alphas below it
    gt_dir, pred_dir, gt = _one_video(tmp_path, n_frames=1)
    pred = as_prediction(gt)
    head = 0.6 * np.hypot(40, 40)
    for a in pred["annotations"]:
        kp = np.array(a["keypoints"]).reshape(17, 3)
        kp[kp[:, 2] > 0, 0] += 0.25 * head
        a["keypoints"] = kp.ravel().tolist()
    write_pred(pred_dir, pred)
    result: HotaResult = evaluate_hota(load_eval_data(gt_dir, pred_dir))
    s = 1 - 0.25 / 0.5001
    passed = np.arange(0.05, 0.99, 0.05) <= s
    np.testing.assert_allclose(result.combined["DetA"][:, 15], passed.astype(float))
    assert result.summary()["LocA"][15] == pytest.approx(100 * (s * passed.sum() + (~passed).sum()) / 19)


def test_duplicate_gt_track_in_a_frame_is_refused(tmp_path: Path) -> None:
    gt_dir, pred_dir, gt = write_case(tmp_path, n_frames=1, n_people=2)
    bad = copy.deepcopy(gt)
    bad["annotations"][1]["track_id"] = bad["annotations"][0]["track_id"]
    (gt_dir / "000001_mpii_test.json").write_text(json.dumps(bad))
    write_pred(pred_dir, as_prediction(gt))
    with pytest.raises(DataError, match="used twice"):
        evaluate_hota(load_eval_data(gt_dir, pred_dir))


SHARED = json.loads((GOLDEN / "shared_poseval_cases.json").read_text())


@pytest.mark.parametrize("case", sorted(SHARED))
@pytest.mark.parametrize("mode", ["fixed", "published"])
def test_kit_on_the_shared_poseval_cases(poseval_golden_dir: Path, case: str, mode: str) -> None:
    """The kit's combined numbers on the shared poseval cases (their GT given empty ignore-region
    lists where absent, which the kit requires and simplepose reads alike)."""
    d = poseval_golden_dir / case
    result = evaluate_hota(load_eval_data(d / "gt", d / "pred"), kit_defect=mode == "published")
    _check(SHARED[case][mode]["combined"], result.combined, f"{case} combined")
