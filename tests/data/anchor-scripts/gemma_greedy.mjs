// llama.cpp's greedy continuations of Gemma 3 270M, the reference for
// crates/rf-ai/tests/llm.rs (tests/data/gemma3_greedy.json).
// Usage: npm install node-llama-cpp@3.22.1 && node gemma_greedy.mjs MODEL.gguf > ../gemma3_greedy.json
// The long prompt (over 700 tokens) crosses the 512-position sliding window.
import path from "path";
import { fileURLToPath } from "url";
import fs from "fs";
import {getLlama} from "node-llama-cpp";
const here = path.dirname(fileURLToPath(import.meta.url));
const [,, modelPath] = process.argv;
const corpus = JSON.parse(fs.readFileSync(path.join(here, "..", "corpus.json")));
const prompts = [
  "The capital of France is",
  "Marketing tip of the day:",
  corpus.chunks.slice(0, 6).join("\n\n") + "\n\nIn summary,",
];
const llama = await getLlama({gpu: false, build: "never"});
const model = await llama.loadModel({modelPath});
const ctx = await model.createContext({contextSize: 2048, threads: 2, batchSize: 512});
const seq = ctx.getSequence();
const cases = [];
for (const text of prompts) {
  await seq.clearHistory();
  const prompt = [model.tokens.bos, ...model.tokenize(text, false)];
  const ids = [];
  for await (const tok of seq.evaluate(prompt, {temperature: 0})) {
    ids.push(tok);
    if (ids.length >= 24 || model.isEogToken(tok)) break;
  }
  cases.push({text, prompt_tokens: prompt.length, ids, continuation: model.detokenize(ids)});
}
console.log(JSON.stringify({model: path.basename(modelPath), tool: "node-llama-cpp 3.22.1, CPU, greedy", cases}, null, 1));
