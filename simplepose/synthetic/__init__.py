"""Synthetic PoseTrack videos: articulated figures over textured backgrounds, in PoseTrack18's or
PoseTrack21's layout.

body: the figures' kinematics and look; render: drawing them into videos with occlusion-aware
annotations; annotations: PoseTrack18 names, ids and JSON, noisy detections; writer: the dataset
folder (``generate_posetrack_dataset``).
"""
