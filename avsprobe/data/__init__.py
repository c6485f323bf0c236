"""Data sources: the synthetic bias lab, the AVSBench readers (S4, MS3, AVSS), audio banks, the Co-AVS
builder, and opening a data folder for a run (``source.open_data``)."""
