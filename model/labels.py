"""The label set. Its order is the order of every probability vector and head output."""

LABELS = ("original", "machine-translated", "ai-rewritten")
LABEL2ID = {label: i for i, label in enumerate(LABELS)}
ORIGINAL = LABEL2ID["original"]
IGNORE = -100  # an example or token without a label (the loss skips it)
