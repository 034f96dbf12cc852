// Checks olmolab's tokenizer files with transformers.js: for each directory
// that scripts/hftokcases wrote, AutoTokenizer.from_pretrained loads it,
// encodes every text of cases.json (ids must be ours exactly), decodes our ids
// (the text must come back) and names our EOS and PAD. One JSON line per
// tokenizer; exit status 0 when all agree. Run by scripts/hf-tokenizer-js.sh.
import fs from "node:fs";
import path from "node:path";
import { AutoTokenizer, env } from "@huggingface/transformers";

const root = path.resolve(process.argv[2]);
env.allowRemoteModels = false;
env.localModelPath = root + "/";
let ok = true;
for (const name of fs.readdirSync(root).sort()) {
  const cf = JSON.parse(fs.readFileSync(path.join(root, name, "cases.json"), "utf8"));
  const t0 = Date.now();
  const tok = await AutoTokenizer.from_pretrained(name);
  const loadMs = Date.now() - t0;
  let badEncode = 0, badDecode = 0, tokens = 0;
  const examples = [];
  for (const { text, ids } of cf.cases) {
    const got = tok.encode(text);
    tokens += ids.length;
    if (got.length !== ids.length || got.some((v, i) => v !== ids[i])) {
      badEncode++;
      if (examples.length < 3) examples.push({ text, ours: ids, transformers_js: got });
    }
    if (ids.length > 0 && tok.decode(ids) !== text) {
      badDecode++;
      if (examples.length < 3) examples.push({ text, decoded: tok.decode(ids) });
    }
  }
  const specialsOk = tok.eos_token_id === cf.eos_token_id && tok.pad_token_id === cf.pad_token_id;
  const row = { tokenizer: name, texts: cf.cases.length, tokens, load_ms: loadMs, encode_differ: badEncode,
    decode_differ: badDecode, eos_pad_ok: specialsOk, examples };
  row.ok = badEncode === 0 && badDecode === 0 && specialsOk;
  ok = ok && row.ok;
  console.log(JSON.stringify(row));
}
console.log(JSON.stringify({ all_ok: ok }));
process.exit(ok ? 0 : 1);
