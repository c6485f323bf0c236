"""The paper's reference model (work in progress): semantic-aware active queries, interaction enhancement,
Hungarian matching and set losses.

Paper: "Unveiling and Mitigating Bias in Audio Visual Segmentation", ACM MM 2024 (Sec. 4, supplement B.1).
Faithful to the paper; where the authors' code differs (../shared/research/official-method.md) its behaviour
is a named option, never the silent default. Present so far: configuration, matcher, losses.
"""
