"""Keypoint schemas: names, flip pairs, skeletons, OKS sigmas and drawing colours."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_BODY = [
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
]
# COCO's per-keypoint OKS sigmas; MMPose uses the same values for PoseTrack18.
_SIGMAS = [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
           0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089]
_BODY_LINKS = [
    ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
    ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
    ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"),
]


# MMPose's per-keypoint loss weights for both datasets (joint_weights in its dataset configs)
_JOINT_WEIGHTS = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5, 1.0, 1.0, 1.2, 1.2, 1.5, 1.5]


def _flip_indices(names: list[str]) -> list[int]:
    """Index of each keypoint's mirror image (left <-> right), itself if unpaired."""
    def mirror(n: str) -> str:
        if n.startswith("left_"):
            return "right_" + n[5:]
        if n.startswith("right_"):
            return "left_" + n[6:]
        return n
    return [names.index(mirror(n)) for n in names]


def _colour(name: str) -> tuple[int, int, int]:
    """BGR drawing colour: left side blue-ish, right side orange, centre green."""
    if name.startswith("left_"):
        return (255, 128, 0)
    if name.startswith("right_"):
        return (0, 128, 255)
    return (0, 255, 0)


@dataclass(frozen=True)
class KeypointSchema:
    """Everything the pipeline needs to know about a keypoint set."""

    name: str
    keypoint_names: tuple[str, ...]
    links: tuple[tuple[str, str], ...]
    sigmas: tuple[float, ...]
    upper_body_ids: tuple[int, ...]
    lower_body_ids: tuple[int, ...]
    joint_weights: tuple[float, ...]
    flip_indices: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "flip_indices", tuple(_flip_indices(list(self.keypoint_names))))
        for what in ("sigmas", "joint_weights"):
            if len(getattr(self, what)) != len(self.keypoint_names):
                raise ValueError(f"{self.name}: {len(getattr(self, what))} {what} for {self.num_keypoints} keypoints")

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    @property
    def skeleton(self) -> list[tuple[int, int]]:
        """Links as pairs of keypoint indices."""
        idx = {n: i for i, n in enumerate(self.keypoint_names)}
        return [(idx[a], idx[b]) for a, b in self.links]

    @property
    def sigmas_array(self) -> np.ndarray:
        """OKS sigmas as a float64 array (K,)."""
        return np.asarray(self.sigmas, dtype=np.float64)

    @property
    def keypoint_colours(self) -> list[tuple[int, int, int]]:
        return [_colour(n) for n in self.keypoint_names]

    @property
    def link_colours(self) -> list[tuple[int, int, int]]:
        """A link is coloured by its side: both ends left (or right) share that side's colour."""
        out = []
        for a, b in self.links:
            ca, cb = _colour(a), _colour(b)
            out.append(ca if ca == cb else (0, 255, 0))
        return out


POSETRACK18 = KeypointSchema(
    name="posetrack18",
    keypoint_names=("nose", "head_bottom", "head_top", "left_ear", "right_ear", *_BODY),
    links=(*_BODY_LINKS, ("nose", "head_bottom"), ("nose", "head_top"),
           ("head_bottom", "left_shoulder"), ("head_bottom", "right_shoulder")),
    sigmas=tuple(_SIGMAS),
    upper_body_ids=tuple(range(11)),
    lower_body_ids=tuple(range(11, 17)),
    joint_weights=tuple(_JOINT_WEIGHTS),
)

COCO = KeypointSchema(
    name="coco",
    keypoint_names=("nose", "left_eye", "right_eye", "left_ear", "right_ear", *_BODY),
    links=(*_BODY_LINKS, ("left_eye", "right_eye"), ("nose", "left_eye"), ("nose", "right_eye"),
           ("left_eye", "left_ear"), ("right_eye", "right_ear"), ("left_ear", "left_shoulder"),
           ("right_ear", "right_shoulder")),
    sigmas=tuple(_SIGMAS),
    upper_body_ids=tuple(range(11)),
    lower_body_ids=tuple(range(11, 17)),
    joint_weights=tuple(_JOINT_WEIGHTS),
)

SCHEMAS: dict[str, KeypointSchema] = {s.name: s for s in (POSETRACK18, COCO)}


def get_schema(name: str) -> KeypointSchema:
    """Look a schema up by name ('posetrack18' or 'coco')."""
    try:
        return SCHEMAS[name]
    except KeyError:
        raise ValueError(f"unknown keypoint schema {name!r}; choose one of {sorted(SCHEMAS)}") from None


# The `categories` entry of the released PoseTrack18 annotation files: COCO's 19 links, 1-based.
_POSETRACK18_FILE_SKELETON = [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7],
                              [6, 8], [7, 9], [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5],
                              [4, 6], [5, 7]]


# The colours MMPose's dataset configs give (RGB-ordered lists): head keypoints and torso/head links
# blue, left arm and leg green, right ones orange.
_MMPOSE_CENTRE, _MMPOSE_LEFT, _MMPOSE_RIGHT = [51, 153, 255], [0, 255, 0], [255, 128, 0]
_LIMBS = {("ankle", "knee"), ("knee", "hip"), ("shoulder", "elbow"), ("elbow", "wrist")}


def _mmpose_colour(names: tuple[str, ...]) -> list[int]:
    """MMPose's colour of a keypoint (one name) or link (two names) of the body."""
    sides = {n.split("_", 1)[0] for n in names}
    parts = tuple(n.split("_", 1)[-1] for n in names)
    body = all(n in _BODY for n in names) and (len(names) == 1 or parts in _LIMBS or parts[::-1] in _LIMBS)
    if body and sides == {"left"}:
        return list(_MMPOSE_LEFT)
    if body and sides == {"right"}:
        return list(_MMPOSE_RIGHT)
    return list(_MMPOSE_CENTRE)


def mmpose_dataset_meta(schema: KeypointSchema) -> dict:
    """The `dataset_meta` MMPose 1.x keeps in a checkpoint's meta, as its parse_pose_metainfo builds it
    from the dataset config (init_model reads it; inference_topdown takes flip_indices from it).

    Arrays are plain lists (MMPose has numpy arrays there), so that a torch.load with weights_only,
    torch's default and what mmengine's loader gets, reads the file.
    """
    names = schema.keypoint_names
    flip_pairs: list[tuple[int, int]] = []
    for i, j in enumerate(schema.flip_indices):      # MMPose lists each pair in both orders
        if i != j and (j, i) not in flip_pairs:
            flip_pairs.append((j, i))
    return {
        "dataset_name": schema.name,
        "num_keypoints": schema.num_keypoints,
        "keypoint_id2name": dict(enumerate(names)),
        "keypoint_name2id": {n: i for i, n in enumerate(names)},
        "upper_body_ids": list(schema.upper_body_ids),
        "lower_body_ids": list(schema.lower_body_ids),
        "flip_indices": list(schema.flip_indices),
        "flip_pairs": flip_pairs,
        "keypoint_colors": [_mmpose_colour((n,)) for n in names],
        "num_skeleton_links": len(schema.links),
        "skeleton_links": [tuple(link) for link in schema.skeleton],
        "skeleton_link_colors": [_mmpose_colour(link) for link in schema.links],
        "dataset_keypoint_weights": list(schema.joint_weights),
        "sigmas": list(schema.sigmas),
    }


def annotation_category() -> dict:
    """The single 'person' category of the released PoseTrack18 ground-truth files."""
    return {"supercategory": "person", "id": 1, "name": "person",
            "keypoints": list(POSETRACK18.keypoint_names), "skeleton": [list(link) for link in _POSETRACK18_FILE_SKELETON]}


def prediction_category(schema: KeypointSchema = POSETRACK18) -> dict:
    """The 'person' category the reference writes into prediction files: for PoseTrack18 the released
    files' category (MMPose's PoseTrack18Metric writes those 19 links), else the schema's names and its
    drawing links, 1-based."""
    if schema.name == POSETRACK18.name:
        return annotation_category()
    return {"supercategory": "person", "id": 1, "name": "person",
            "keypoints": list(schema.keypoint_names),
            "skeleton": [[a + 1, b + 1] for a, b in schema.skeleton]}
