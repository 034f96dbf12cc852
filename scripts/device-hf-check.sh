#!/usr/bin/env bash
# Prepare the transformers-compatibility check for the device machine.
# Here:   scripts/device-hf-check.sh          (writes .device/hf, git-ignored)
# Device: python3 scripts/hf_check.py .device/hf   (with .device carried)
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .device/hf
go run ./scripts/hfcheck .device/hf
du -sh .device/hf
