#!/usr/bin/env python3
"""Check that Hugging Face transformers loads olmolab checkpoints unchanged and
computes olmolab's logits and loss.

Reads the directories written by `go run ./scripts/hfcheck DIR`: each holds
config.json + model.safetensors (or shards) + expected.safetensors (input_ids,
pre-shifted labels, our float32 logits and mean CE loss). For every checkpoint and
device (cpu, and cuda when present) it loads Olmo2ForCausalLM with
output_loading_info (missing/unexpected/mismatched keys must be empty), runs the
batch in float32 (TF32 off), and prints one JSON line per check. A checkpoint
with tokenizer files also runs AutoTokenizer + generate (greedy, 8 tokens).
ROOT/tokenizers/NAME (scripts/hftokcases) holds each tokenizer's files and
cases.json: AutoTokenizer must give our ids for every text, decode our ids to
the text, and name our EOS and PAD, as generation_config.json must.
Exit status 0 when every check is within tolerance (1e-4 of the logits' max)
and every tokenizer agrees.
"""
import json
import os
import sys
import tempfile

import torch
import transformers
from safetensors.torch import load_file
from transformers import AutoTokenizer, GenerationConfig, Olmo2ForCausalLM

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def load(d, dev, attn):
    kw = dict(output_loading_info=True, attn_implementation=attn)
    try:
        m, info = Olmo2ForCausalLM.from_pretrained(d, dtype=torch.float32, **kw)
    except TypeError:  # transformers < 4.56 names it torch_dtype
        m, info = Olmo2ForCausalLM.from_pretrained(d, torch_dtype=torch.float32, **kw)
    return m.to(dev).eval(), info


def check_tokenizer(d, name):
    """AutoTokenizer on a directory of scripts/hftokcases against our ids."""
    with open(os.path.join(d, "cases.json"), encoding="utf-8") as f:
        cf = json.load(f)
    tok = AutoTokenizer.from_pretrained(d)
    gen = GenerationConfig.from_pretrained(d)
    bad_enc = bad_dec = tokens = 0
    examples = []
    for c in cf["cases"]:
        text, ids = c["text"], c["ids"]
        tokens += len(ids)
        got = tok(text)["input_ids"]
        if got != ids:
            bad_enc += 1
            if len(examples) < 3:
                examples.append({"text": text, "ours": ids, "transformers": got})
        if ids and tok.decode(ids) != text:
            bad_dec += 1
            if len(examples) < 3:
                examples.append({"text": text, "decoded": tok.decode(ids)})
    eos, pad = cf["eos_token_id"], cf["pad_token_id"]
    ids_ok = (tok.eos_token_id == eos and tok.pad_token_id == pad
              and gen.eos_token_id == eos and gen.pad_token_id == pad)
    row = {"tokenizer": name, "class": type(tok).__name__, "texts": len(cf["cases"]), "tokens": tokens,
           "encode_differ": bad_enc, "decode_differ": bad_dec, "eos_pad_ok": ids_ok, "examples": examples}
    row["ok"] = bad_enc == 0 and bad_dec == 0 and ids_ok
    return row


def check_generate(d, m, dev):
    """AutoTokenizer + greedy generate on a checkpoint with tokenizer files."""
    tok = AutoTokenizer.from_pretrained(d)
    enc = tok("The capital of", return_tensors="pt").to(dev)
    with torch.no_grad():
        out = m.generate(**enc, max_new_tokens=8, do_sample=False)
    n_in = enc["input_ids"].shape[1]
    new = out[0, n_in:].tolist()
    ok = 0 < len(new) <= 8 and all(0 <= i < m.config.vocab_size for i in new)
    return {"generate_new_ids": new, "generate_text": tok.decode(out[0]), "generate_ok": ok}


def main(root):
    ok = True
    devs = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(json.dumps({"transformers": transformers.__version__, "torch": torch.__version__,
                      "devices": devs}), flush=True)
    for name in sorted(os.listdir(root)):
        d = os.path.join(root, name)
        if name == "tokenizers":
            for tname in sorted(os.listdir(d)):
                try:
                    row = check_tokenizer(os.path.join(d, tname), tname)
                except Exception as e:  # a file transformers refuses is a failed check, not the end of the others
                    row = {"tokenizer": tname, "error": repr(e), "ok": False}
                ok = ok and row["ok"]
                print(json.dumps(row), flush=True)
            continue
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
                    if os.path.exists(os.path.join(d, "tokenizer.json")):
                        try:
                            row.update(check_generate(d, m, dev))
                        except Exception as e:
                            row.update({"generate_error": repr(e), "generate_ok": False})
                        row["ok"] = row["ok"] and row["generate_ok"]
                ok = ok and row["ok"]
                print(json.dumps(row), flush=True)
    print(json.dumps({"all_ok": ok}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
