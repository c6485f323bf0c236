"""The audio perception module Phi and the latent semantic marks (paper Sec. 4.2, supplement B.1).

Phi reads the fixed log-mel descriptor of each frame's audio and says which classes (supervised) or clusters
(unsupervised) are present; the marks over the N queries follow: mark 0 is always active, and class or
cluster k drives the ``dilation`` queries ``1 + k d ... k d + d``. Every kind keeps its fitted state in
buffers, so it is saved in the checkpoint's safetensors with the rest of the model (no pickles).

* ``supervised``: an MLP classifier trained with per-class BCE on which classes sound; active where the
  probability exceeds ``threshold`` (0.4) or, with ``top_k``, the K most probable;
* ``kmeans``: scikit-learn ``KMeans`` fitted on the train split; the nearest centroid is active;
* ``gmm``: scikit-learn ``GaussianMixture`` (diagonal); clusters whose posterior exceeds ``threshold``, or
  the ``top_k`` most probable.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from avsprobe.reference.audio import DESCRIPTOR_DIM

__all__ = ["Perception", "marks_from_activity", "active_from_scores"]


def active_from_scores(scores: torch.Tensor, *, threshold: float, top_k: int | None) -> torch.Tensor:
    """``bool [B, K]``: scores above ``threshold``, or the ``top_k`` largest per row when given."""
    if top_k is None:
        return scores > threshold
    k = min(top_k, scores.shape[-1])
    active = torch.zeros_like(scores, dtype=torch.bool)
    return active.scatter(1, scores.topk(k, dim=-1).indices, True)


def marks_from_activity(activity: torch.Tensor, num_queries: int, dilation: int, *, zeroth_active: bool = True
                        ) -> torch.Tensor:
    """``bool [B, N]`` marks from ``activity bool [B, K]``: query 0 plus ``dilation`` queries per active class."""
    b, k = activity.shape
    if 1 + k * dilation > num_queries:
        raise ValueError(f"{num_queries} queries cannot hold mark 0 plus {k} classes x dilation {dilation}")
    marks = torch.zeros(b, num_queries, dtype=torch.bool, device=activity.device)
    marks[:, 1 : 1 + k * dilation] = activity.repeat_interleave(dilation, dim=1)
    marks[:, 0] = zeroth_active
    return marks


class Perception(nn.Module):
    """Phi over ``descriptor [B, 128]`` (``reference.audio.log_mel_descriptor``).

    Args:
        kind: ``"supervised"``, ``"kmeans"`` or ``"gmm"``.
        num_classes: classes (supervised) or clusters (unsupervised) K.
        threshold: theta of ``supervised`` and ``gmm``.
        top_k: the K most probable instead of a threshold.
    """

    def __init__(self, kind: str, num_classes: int, *, threshold: float = 0.4, top_k: int | None = None) -> None:
        super().__init__()
        if kind not in ("supervised", "kmeans", "gmm"):
            raise ValueError(f"unknown perception {kind!r}; use supervised, kmeans or gmm")
        self.kind, self.num_classes, self.threshold, self.top_k = kind, num_classes, threshold, top_k
        self.register_buffer("feature_mean", torch.zeros(DESCRIPTOR_DIM))
        self.register_buffer("feature_std", torch.ones(DESCRIPTOR_DIM))
        if kind == "supervised":
            self.classifier = nn.Sequential(nn.Linear(DESCRIPTOR_DIM, 128), nn.ReLU(), nn.Linear(128, num_classes))
        else:
            self.register_buffer("centers", torch.zeros(num_classes, DESCRIPTOR_DIM))
            self.register_buffer("variances", torch.ones(num_classes, DESCRIPTOR_DIM))
            self.register_buffer("log_weights", torch.full((num_classes,), -math.log(num_classes)))

    def standardise(self, descriptor: torch.Tensor) -> torch.Tensor:
        return (descriptor - self.feature_mean) / self.feature_std

    def scores(self, descriptor: torch.Tensor) -> torch.Tensor:
        """``[B, K]``: class probabilities (supervised), negative squared distances (kmeans), posteriors (gmm)."""
        x = self.standardise(descriptor)
        if self.kind == "supervised":
            return self.classifier(x).sigmoid()
        if self.kind == "kmeans":
            return -torch.cdist(x, self.centers) ** 2
        log_likelihood = -0.5 * (((x[:, None, :] - self.centers) ** 2 / self.variances).sum(-1)
                                 + self.variances.log().sum(-1) + x.shape[-1] * math.log(2 * math.pi))
        return (log_likelihood + self.log_weights).softmax(dim=-1)

    def activity(self, descriptor: torch.Tensor) -> torch.Tensor:
        """``bool [B, K]``: which classes or clusters Phi finds in each frame's audio."""
        s = self.scores(descriptor)
        if self.kind == "kmeans":
            return active_from_scores(s, threshold=0.0, top_k=self.top_k or 1)
        return active_from_scores(s, threshold=self.threshold, top_k=self.top_k)

    # --- fitting (on the train split, before the segmentation model trains) ---

    def fit(self, descriptors: torch.Tensor, class_presence: torch.Tensor, *, seed: int, steps: int = 400
            ) -> dict[str, float]:
        """Fit on ``descriptors [M, 128]`` (and ``class_presence bool [M, K]`` for the supervised kind).

        Returns fit statistics (train accuracy of the activity against the presence labels for the
        supervised kind; inertia or mean log-likelihood for the unsupervised ones).
        """
        x = descriptors.double()
        self.feature_mean.copy_(x.mean(0).float())
        self.feature_std.copy_(x.std(0).clamp_min(1e-6).float())
        z = self.standardise(descriptors.float())
        if self.kind == "supervised":
            return self._fit_classifier(z, class_presence.float(), seed=seed, steps=steps)
        z_np = z.numpy().astype(np.float64)
        if self.kind == "kmeans":
            from sklearn.cluster import KMeans

            km = KMeans(n_clusters=self.num_classes, n_init=4, random_state=seed).fit(z_np)
            self.centers.copy_(torch.from_numpy(km.cluster_centers_).float())
            return {"inertia": float(km.inertia_)}
        from sklearn.mixture import GaussianMixture

        gmm = GaussianMixture(n_components=self.num_classes, covariance_type="diag", random_state=seed,
                              reg_covar=1e-4).fit(z_np)
        self.centers.copy_(torch.from_numpy(gmm.means_).float())
        self.variances.copy_(torch.from_numpy(gmm.covariances_).float())
        self.log_weights.copy_(torch.from_numpy(np.log(gmm.weights_)).float())
        return {"mean_log_likelihood": float(gmm.score(z_np))}

    def _fit_classifier(self, z: torch.Tensor, presence: torch.Tensor, *, seed: int, steps: int) -> dict[str, float]:
        generator = torch.Generator().manual_seed(seed)
        for p in self.classifier.parameters():  # seeded re-initialisation: the fit does not depend on global state
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=generator) * (1.0 / math.sqrt(p.shape[-1])) if p.dim() > 1
                        else torch.zeros_like(p))
        optimiser = torch.optim.Adam(self.classifier.parameters(), lr=1e-2, weight_decay=1e-4)
        with torch.enable_grad():
            for _ in range(steps):
                optimiser.zero_grad()
                loss = nn.functional.binary_cross_entropy_with_logits(self.classifier(z), presence)
                loss.backward()
                optimiser.step()
        with torch.no_grad():
            predicted = active_from_scores(self.classifier(z).sigmoid(), threshold=self.threshold, top_k=self.top_k)
        exact = (predicted == presence.bool()).all(dim=1).float().mean()
        return {"train_loss": float(loss.detach()), "train_exact_match": float(exact)}
