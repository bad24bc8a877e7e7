// An Anthropic Messages request sent to KillToken's Anthropic wrapper with plain fetch. The key is your
// KillToken tenant key. Prints the Messages body's text and KillToken's metrics as JSON.
const baseUrl = process.env.KILLTOKEN_BASE_URL ?? "http://localhost:3000";
const res = await fetch(`${baseUrl}/v1/anthropic/messages`, {
  method: "POST",
  headers: { "content-type": "application/json", authorization: `Bearer ${process.env.KILLTOKEN_API_KEY}` },
  body: JSON.stringify({
    model: process.env.KILLTOKEN_MODEL ?? "claude-3-5-haiku-latest",
    max_tokens: 256,
    messages: [{ role: "user", content: "Hello" }],
  }),
});
const body = await res.json();
if (!res.ok) {
  console.error(`KillToken request failed: ${res.status} ${body.error?.type}: ${body.error?.message}`);
  process.exit(1);
}
console.log(JSON.stringify({ text: body.content[0].text, metrics: body.killtoken.metrics }));
