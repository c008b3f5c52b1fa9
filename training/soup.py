"""Average two checkpoints' networks, weight by weight (issue 20).

    python -m training.soup model/weights runs/continue --weight 0.5 --out runs/soup

A network fine-tuned on new data and the network it started from, averaged, keeps most of what
each knows better than either alone (WiSE-FT, Wortsman et al. 2022): here, the shipped network's
MT recall and the continued one's rewrites. The output is a copy of FIRST (its tokenizer, n-grams,
calibration, adapter and settings) whose trained weights are (1 - weight) * FIRST + weight * SECOND;
its lineage gives SECOND's own stages after FIRST's, so the average can be rebuilt. The artifact
head reads the encoder's middle layers, which the average moves: train it again afterwards
(`python -m training.artifact_head OUT`).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from model import checkpoint


def average(first: str | Path, second: str | Path, weight: float, out: str | Path) -> Path:
    if not 0 < weight < 1:
        raise SystemExit("--weight is SECOND's share, between 0 and 1")
    a, b = checkpoint.read_weights(first), checkpoint.read_weights(second)
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise SystemExit(f"{first} and {second} are not the same network: they cannot be averaged")
    settings_a, settings_b = checkpoint.read_settings(first), checkpoint.read_settings(second)
    if settings_a["base"] != settings_b["base"]:
        raise SystemExit(f"{first} and {second} were trained on different bases")
    out = Path(out)
    checkpoint.copy(first, out)
    own = settings_b["lineage"][len(settings_a["lineage"]):] if (
        settings_b["lineage"][: len(settings_a["lineage"])] == settings_a["lineage"]) else settings_b["lineage"]
    averaged = {k: (1 - weight) * a[k] + weight * b[k] for k in a}
    checkpoint.write_weights(out, averaged, {}, {"stage": "average", "of": [str(first), str(second)],
                                                 "weight_of_second": weight, "second_stages": own})
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="the checkpoint copied (settings, tokenizer, n-grams, calibration)")
    parser.add_argument("second", help="the checkpoint averaged in")
    parser.add_argument("--weight", type=float, default=0.5, help="SECOND's share of every weight")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    print(average(args.first, args.second, args.weight, args.out))


if __name__ == "__main__":
    main()
