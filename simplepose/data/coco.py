"""COCO person keypoints reader (``person_keypoints_*.json``), on the COCO-style primitives.

Instance semantics (order, dropping, clipping, visibility) are MMPose's; see
``simplepose.data.cocostyle``.
"""
from __future__ import annotations

from simplepose.data.cocostyle import PathLike, check_image_files, document_lists, parse_annotations, parse_images
from simplepose.data.instances import PersonInstance
from simplepose.io import read_json


def load_coco_keypoints(json_path: PathLike, image_root: PathLike, drop_invalid: bool = True, *,
                        num_keypoints: int = 17, check_images: bool = False) -> list[PersonInstance]:
    """COCO person_keypoints_*.json -> PersonInstances (image_path = image_root / file_name)."""
    images_raw, annotations = document_lists(read_json(json_path), json_path)
    images = parse_images(images_raw, json_path, image_root)
    instances = parse_annotations(annotations, images, json_path, num_keypoints, drop_invalid)
    if check_images:
        check_image_files(instances, images, json_path)
    return instances
