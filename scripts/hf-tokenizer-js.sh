#!/usr/bin/env bash
# Check olmolab's tokenizer.json files with transformers.js (not run by go test:
# it installs from npm). Installs @huggingface/transformers into .hfjs/
# (git-ignored; install scripts skipped, the tokenizers need none), writes the
# tokenizer files and our ids for the tokcorpus texts (scripts/hftokcases) and
# compares (scripts/hf_tokenizer_check.mjs).
#   scripts/hf-tokenizer-js.sh            # HFJS_VERSION=4.3.2 by default
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.hfjs
ver=${HFJS_VERSION:-4.3.2}
mkdir -p "$dir"
if ! grep -qs "\"version\": \"$ver\"" "$dir/node_modules/@huggingface/transformers/package.json"; then
  (cd "$dir" && npm install --no-audit --no-fund --ignore-scripts --no-save "@huggingface/transformers@$ver")
fi
rm -rf "$dir/cases"
go run ./scripts/hftokcases "$dir/cases"
cp scripts/hf_tokenizer_check.mjs "$dir/check.mjs" # bare imports resolve from the script's folder
node "$dir/check.mjs" "$dir/cases"
