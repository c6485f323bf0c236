"""The world is learnable: classes are separable from the sound alone and from the look alone."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestCentroid
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from avsprobe.audio import normalize_loudness, vggish_examples
from avsprobe.data.biaslab.sounds import generate_sound
from avsprobe.data.biaslab.spec import load_world_spec
from avsprobe.data.biaslab.visuals import render_patch
from avsprobe.data.biaslab.world import plan_world

SPEC = load_world_spec()


def _objects(clips: int) -> list:
    # the balanced split: loudness spread over 24 LU, every class present
    return [o for p in plan_world(SPEC, SPEC.seed, {"test": clips}) for o in p.objects]


def test_mean_vggish_log_mel_of_clean_sources_separates_the_classes() -> None:
    objects = _objects(500)
    audio, labels = [], []
    for o in objects:
        cls = SPEC.class_spec(o.class_name)
        raw = generate_sound(o.class_name, np.random.default_rng(o.sound_seed), cls.pitch_hz, SPEC.duration_s,
                             SPEC.sample_rate_hz)
        audio.append(normalize_loudness(raw, o.target_loudness_lufs).audio)
        labels.append(o.class_name)
    features = vggish_examples(np.stack(audio)).mean(dim=(1, 2, 3)).numpy()  # [clips, 64] mean log-mel
    y = np.array(labels)
    half = len(y) // 2  # held-out clips: train on the first half, score on the second
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000)).fit(features[:half], y[:half])
    accuracy = clf.score(features[half:], y[half:])
    assert accuracy >= 0.95, accuracy


def test_colour_and_shape_of_object_crops_separate_the_classes() -> None:
    objects = _objects(300)
    features, labels = [], []
    for o in objects:
        mask, rgb = render_patch(SPEC.class_spec(o.class_name).shape, np.array(o.colour), o.scale_px)
        pixels = rgb[mask].astype(np.float64)
        rows, cols = np.nonzero(mask)
        height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
        features.append(np.concatenate([pixels.mean(0), pixels.std(0), [mask.sum() / (height * width), width / height]]))
        labels.append(o.class_name)
    x, y = np.array(features), np.array(labels)
    half = len(y) // 2
    clf = make_pipeline(StandardScaler(), NearestCentroid()).fit(x[:half], y[:half])
    accuracy = clf.score(x[half:], y[half:])
    assert accuracy >= 0.95, accuracy
