// POST /v1/chat with plain fetch. Reads KILLTOKEN_BASE_URL and KILLTOKEN_API_KEY; holds no provider key
// (the tenant's stored credential is used). Prints the provider's answer and KillToken's metrics as JSON.
const baseUrl = process.env.KILLTOKEN_BASE_URL ?? "http://localhost:3000";
const apiKey = process.env.KILLTOKEN_API_KEY;
if (!apiKey) throw new Error("set KILLTOKEN_API_KEY to your kt_ tenant key");

const res = await fetch(`${baseUrl}/v1/chat`, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}` },
  body: JSON.stringify({
    provider: process.env.KILLTOKEN_PROVIDER ?? "openai",
    model: process.env.KILLTOKEN_MODEL ?? "gpt-4.1-mini",
    optimizationMode: "measure_only",
    messages: [{ role: "user", content: "Write a concise project update." }],
    metadata: { feature: "weekly-summary" },
  }),
});
const body = await res.json();
if (!res.ok) {
  console.error(`KillToken request failed: ${res.status} ${body.error?.code}: ${body.error?.message}`);
  process.exit(1);
}
console.log(JSON.stringify({ response: body.response, metrics: body.metrics }));
