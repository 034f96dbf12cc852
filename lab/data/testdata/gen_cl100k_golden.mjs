// Generates cl100k_golden.json: varied strings and their cl100k_base ids from an implementation independent of
// olmolab's Go code. Not run by tests. To regenerate:
//
//   mkdir /tmp/tt && cd /tmp/tt && npm install tiktoken@1.0.22 js-tiktoken@1.0.21
//   NODE_PATH=/tmp/tt/node_modules node lab/data/testdata/gen_cl100k_golden.mjs > lab/data/testdata/cl100k_golden.json
//
// tiktoken is OpenAI's Rust core compiled to WASM; js-tiktoken is a separate JavaScript port. Both must agree on
// every string (encode_ordinary: special-token text is plain text, as in OLMo's data pipeline).
import { createRequire } from "module";
const require = createRequire(process.env.NODE_PATH + "/");
const { get_encoding } = require("tiktoken");
const { getEncoding } = require("js-tiktoken");

const wasm = get_encoding("cl100k_base");
const js = getEncoding("cl100k_base");

const fixed = [
  "hello world", "Hello, World!", "", " ", "  ", "   ", "\n", "\n\n", "\n\n\n", "\t", "\t\t", " \n", "\n ", " \n ",
  "a  b", "a   b", "a    b", "a \n b", "a\n\nb", "a \n\n b", "trailing   ", "   leading", "x\r\ny", "\r\n\r\n",
  "tab\there", "mixed \t \n\t end", "line1\n    indented\n\tTabbed", "    ", "end with newline\n", "  \n  \n  ",
  "don't", "Don't", "DON'T", "I'm", "I'M", "you're", "YOU'RE", "we've", "they'll", "THEY'LL", "she'd", "it's",
  "It'S", "rock 'n' roll", "'s", "'tis", "o'clock", "students' books", "the dog's ball", "''", "'''",
  "0", "1", "12", "123", "1234", "12345", "123456", "1234567", "3.14159", "1,000,000", "-42", "+7", "0x1F",
  "1e-10", "2024-01-31", "12:30:45", "$19.99", "100%", "1st 2nd 3rd 4th", "99 bottles", "a1b2c3", "٣٤٥",
  "<|endoftext|>", "text<|endoftext|>more", "<|pad|>", "<|im_start|>user\nhi<|im_end|>", "|||EMAIL_ADDRESS|||",
  "<|fim_prefix|>def<|fim_suffix|>", "<|endofprompt|>", "<|extra_id_0|>",
  "café", "naïve résumé", "Ångström", "Straße", "ĳ", "ﬁ ligature", "e\u0301", "Ω≈ç√∫", "¿Qué tal?", "¡Hola!",
  "日本語のテキスト", "中文文本测试", "한국어 텍스트", "Привет, мир!", "Γειά σου κόσμε", "שלום עולם", "مرحبا بالعالم",
  "हिन्दी पाठ", "ภาษาไทย", "Tiếng Việt có dấu", "🙂", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "I ❤️ NY", "emoji 🎉🎉🎉 party",
  "\u00a0nbsp\u00a0", "zero\u200bwidth", "\ufeffBOM", "\u2028sep", "ℕ ⊆ ℤ ⊆ ℚ", "∀x∃y", "→←↑↓", "½ ¾ ⅓",
  "func main() {\n\tfmt.Println(\"hi\")\n}\n", "def f(x):\n    return x ** 2\n", "for (int i = 0; i < n; i++) {}",
  "if x == 1 and y != 2:\n        pass", "#include <stdio.h>", "SELECT * FROM users WHERE id = 1;",
  "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}", "<div class=\"x\">Hi</div>", "x => x * 2", "a->b", "a::b",
  "/usr/local/bin/go", "C:\\Windows\\System32", "https://example.com/path?q=1&r=2#frag", "user@example.com",
  "git commit -m \"fix\"", "$ ls -la | grep '.go'", "   // comment", "/* block */", "#!/bin/bash", "__init__",
  "camelCaseName", "snake_case_name", "SCREAMING_CASE", "kebab-case-name", "x=1;y=2", "[[nested]]", "...",
  "?!?!", "!!!", "—", "–", "…", "«quoted»", "“smart quotes”", "‘single’", "(parenthetical)", "a.b.c", "end.",
  "Mr. Smith went to Washington.", "The quick brown fox jumps over the lazy dog.",
  "OLMo 2 is a family of fully open language models.", "It was the best of times, it was the worst of times.",
];

// Seeded combinations (mulberry32) of pieces that stress the pre-tokenizer's boundaries.
function rng(seed) { return () => { seed |= 0; seed = seed + 0x6D2B79F5 | 0; let t = Math.imul(seed ^ seed >>> 15, 1 | seed);
  t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t; return ((t ^ t >>> 14) >>> 0) / 4294967296; }; }
const r = rng(12345);
const pieces = ["the", " the", "The", "  ", "   ", "\n", "\n\n", "\t", " ", "'s", "'LL", "'re", "123", "4567", "8",
  "3.5", ",", ".", "!", "?", "é", "日本", "🙂", "👍🏽", " 😀", "x", "Y", "_", "-", "—", "(", ")", "{", "}", "\"", "'",
  "://", "/", "\\", "$", "%", "<|endoftext|>", "ü", "Ж", "ℤ", "\r\n", " \n", "\u00a0", "αβγ", "٣", "word", "Word",
  "WORD", "wOrD", "ab12cd", "__", "==", "!=", "<=", "->", "#", "@", "&&", "||", "0x", "ff", "\t\t", "  \t"];
const gen = [];
for (let i = 0; i < 300; i++) {
  const n = 1 + Math.floor(r() * 10);
  let s = "";
  for (let j = 0; j < n; j++) s += pieces[Math.floor(r() * pieces.length)];
  gen.push(s);
}

const out = [];
for (const text of [...fixed, ...gen]) {
  const a = Array.from(wasm.encode_ordinary(text));
  const b = js.encode(text, [], []);
  if (a.length !== b.length || a.some((v, i) => v !== b[i])) {
    throw new Error("tiktoken and js-tiktoken disagree on " + JSON.stringify(text));
  }
  out.push({ text, ids: a });
}
process.stdout.write("[\n" + out.map((o) => "  " + JSON.stringify(o)).join(",\n") + "\n]\n");
