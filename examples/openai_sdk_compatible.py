"""The official openai SDK pointed at KillToken's OpenAI-compatible wrapper (api_key is the kt_ tenant key)."""

import json
import os

from openai import OpenAI

client = OpenAI(
    base_url=f"{os.environ.get('KILLTOKEN_BASE_URL', 'http://localhost:3000')}/v1/openai",
    api_key=os.environ["KILLTOKEN_API_KEY"],
    default_headers={"x-killtoken-feature": "support-bot"},
)
completion = client.chat.completions.create(
    model=os.environ.get("KILLTOKEN_MODEL", "gpt-4.1-mini"), messages=[{"role": "user", "content": "Hello"}]
)
print(json.dumps({"text": completion.choices[0].message.content,
                  "metrics": completion.model_extra["killtoken"]["metrics"]}))
