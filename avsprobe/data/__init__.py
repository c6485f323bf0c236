"""Data sources: the synthetic bias lab (and, with later issues, AVSBench readers and the Co-AVS builder)."""
