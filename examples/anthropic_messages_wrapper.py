"""The official anthropic SDK pointed at KillToken's Anthropic Messages wrapper (api_key is the kt_ key)."""

import json
import os

from anthropic import Anthropic

client = Anthropic(
    base_url=f"{os.environ.get('KILLTOKEN_BASE_URL', 'http://localhost:3000')}/v1/anthropic",
    api_key=os.environ["KILLTOKEN_API_KEY"],
)
message = client.messages.create(
    model=os.environ.get("KILLTOKEN_MODEL", "claude-3-5-haiku-latest"), max_tokens=256,
    messages=[{"role": "user", "content": "Hello"}],
)
print(json.dumps({"text": message.content[0].text, "metrics": message.model_extra["killtoken"]["metrics"]}))
