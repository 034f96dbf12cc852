#!/usr/bin/env bash
# Prepare the transformers-compatibility check for the device machine: our
# checkpoints (logits, loss, generate with their tokenizer) and our tokenizer
# files (AutoTokenizer gives our ids for the tokcorpus texts).
# Here:   scripts/device-hf-check.sh          (writes .device/hf, git-ignored)
# Device: python3 scripts/hf_check.py .device/hf   (with .device carried)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .device/hf
go run ./scripts/hfcheck .device/hf
go run ./scripts/hftokcases .device/hf/tokenizers   # AutoTokenizer against our ids
du -sh .device/hf
