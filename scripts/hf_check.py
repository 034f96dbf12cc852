#!/usr/bin/env python3
"""Check that Hugging Face transformers loads olmolab checkpoints unchanged and
computes olmolab's logits and loss.

Reads the directories written by `go run ./scripts/hfcheck DIR`: each holds
config.json + model.safetensors (or shards) + expected.safetensors (input_ids,
pre-shifted labels, our float32 logits and mean CE loss). For every checkpoint and
device (cpu, and cuda when present) it loads Olmo2ForCausalLM with
output_loading_info (missing/unexpected/mismatched keys must be empty), runs the
batch in float32 (TF32 off), and prints one JSON line per check.
Exit status 0 when every check is within tolerance (1e-4 of the logits' max).
"""
import json
import os
import sys
import tempfile

import torch
import transformers
from safetensors.torch import load_file
from transformers import Olmo2ForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def load(d, dev, attn):
    kw = dict(output_loading_info=True, attn_implementation=attn)
    try:
        m, info = Olmo2ForCausalLM.from_pretrained(d, dtype=torch.float32, **kw)
    except TypeError:  # transformers < 4.56 names it torch_dtype
        m, info = Olmo2ForCausalLM.from_pretrained(d, torch_dtype=torch.float32, **kw)
    return m.to(dev).eval(), info


def main(root):
    ok = True
    devs = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                      "devices": devs}), flush=True)
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        exp = load_file(os.path.join(d, "expected.safetensors"))
        ids, lab, ref = exp["input_ids"], exp["labels"], exp["logits"].double()
        # HF shifts labels itself: give them in input layout
        hf_lab = torch.cat([torch.full((lab.shape[0], 1), -100, dtype=lab.dtype), lab[:, :-1]], 1)
        for dev in devs:
            for attn in ("eager", "sdpa"):
                m, info = load(d, dev, attn)
                with torch.no_grad():
                    out = m(input_ids=ids.to(dev), labels=hf_lab.to(dev))
                got = out.logits.double().cpu()
                err = (got - ref).abs().max().item()
                rel = err / ref.abs().max().item()
                loss_err = abs(out.loss.item() - exp["loss"].item())
                bad_keys = {k: v for k, v in info.items() if v}
                row = {"ckpt": name, "device": dev, "attn": attn, "logits_max_abs": err,
                       "logits_max_rel": rel, "loss_hf": out.loss.item(), "loss_ours": exp["loss"].item(),
                       "loss_abs_err": loss_err, "loading_info": bad_keys,
                       "ok": rel <= 1e-4 and loss_err <= 1e-4 and not bad_keys}
                if dev == "cpu" and attn == "eager":
                    # save_pretrained must give back the same tensor names and shapes
                    with tempfile.TemporaryDirectory() as tmp:
                        m.save_pretrained(tmp)
                        names = set()
                        for f in os.listdir(tmp):
                            if f.endswith(".safetensors"):
                                names |= set(load_file(os.path.join(tmp, f)).keys())
                        ours = set()
                        for f in os.listdir(d):
                            if f.endswith(".safetensors") and f != "expected.safetensors":
                                ours |= set(load_file(os.path.join(d, f)).keys())
                        row["resave_same_names"] = names == ours
                        row["ok"] = row["ok"] and names == ours
                ok = ok and row["ok"]
                print(json.dumps(row), flush=True)
    print(json.dumps({"all_ok": ok}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
