"""The paper's reference model: semantic-aware active queries, interaction enhancement, Hungarian matching
and set losses, the debias strategies, training and checkpoints.

Paper: "Unveiling and Mitigating Bias in Audio Visual Segmentation", ACM MM 2024 (Sec. 4, supplement B.1).
Faithful to the paper; where the authors' code (GeWu-Lab/bias_in_AVS) differs, its behaviour is a named
option, never the silent default (README, "Deviations from the paper and from the official code").
"""
