"""Synthetic PoseTrack18 videos: articulated figures over textured backgrounds, in the official layout.

body: the figures' kinematics and look; render: drawing them into videos with occlusion-aware
annotations; annotations: PoseTrack18 names, ids and JSON, noisy detections; writer: the dataset
folder (``generate_posetrack_dataset``).
"""
