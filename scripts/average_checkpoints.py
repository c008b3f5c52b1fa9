"""Average the trained weights of checkpoints that share a base and an ancestor (a "model soup").

    python scripts/average_checkpoints.py OUT CKPT_A CKPT_B [--weights 0.5 0.5]

Blends a model continued with perturbation augmentation with the model it started from, to
trade robustness against clean accuracy. The shipped model continues such a blend
(configs/copies.yaml, configs/stripped.yaml; docs/experiments has the runs). The output is a
checkpoint directory (settings and tokenizer from the last input); evaluate it before use, since
calibration must be refitted (`python -m training.evaluate OUT`).
"""
from __future__ import annotations

import argparse

from model.network import load_tokenizer, read_settings, read_weights, write_checkpoint


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--weights", type=float, nargs="+", help="one per checkpoint (default: equal)")
    args = parser.parse_args(argv)
    weights = args.weights or [1 / len(args.checkpoints)] * len(args.checkpoints)
    if len(weights) != len(args.checkpoints) or abs(sum(weights) - 1) > 1e-6:
        raise SystemExit("give one weight per checkpoint, summing to 1")
    settings = [read_settings(c) for c in args.checkpoints]
    if len({s["base"] for s in settings}) != 1:
        raise SystemExit("the checkpoints were trained on different bases")

    states = [read_weights(c) for c in args.checkpoints]
    if any(s.keys() != states[0].keys() for s in states):
        raise SystemExit("the checkpoints hold different weights")
    blend = {k: sum(w * s[k] for w, s in zip(weights, states)) for k in states[0]}
    # An adapter was trained on its own checkpoint's network, not on the blend: it stays behind.
    kept = {k: v for k, v in settings[-1].items() if k not in ("adapter_rank", "adapter_training")}
    write_checkpoint(blend, load_tokenizer(args.checkpoints[-1]), args.out,
                     {**kept, "weight_average": [[str(c), w] for c, w in zip(args.checkpoints, weights)]})
    print(f"wrote {args.out}: {' + '.join(f'{w:g} x {c}' for c, w in zip(args.checkpoints, weights))}")


if __name__ == "__main__":
    main()
