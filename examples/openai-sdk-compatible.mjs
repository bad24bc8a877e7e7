// The official OpenAI SDK pointed at KillToken's OpenAI-compatible wrapper. The apiKey is your KillToken
// tenant key (kt_...), NOT an OpenAI key. Prints the completion text and KillToken's metrics as JSON.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: `${process.env.KILLTOKEN_BASE_URL ?? "http://localhost:3000"}/v1/openai`,
  apiKey: process.env.KILLTOKEN_API_KEY,
  defaultHeaders: { "x-killtoken-feature": "support-bot" },
});
const completion = await client.chat.completions.create({
  model: process.env.KILLTOKEN_MODEL ?? "gpt-4.1-mini",
  messages: [{ role: "user", content: "Hello" }],
});
console.log(JSON.stringify({ text: completion.choices[0].message.content, metrics: completion.killtoken?.metrics }));
