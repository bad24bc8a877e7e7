"""POST /v1/chat with requests. Reads KILLTOKEN_BASE_URL and KILLTOKEN_API_KEY; holds no provider key."""

import json
import os
import sys

import requests

base_url = os.environ.get("KILLTOKEN_BASE_URL", "http://localhost:3000")
response = requests.post(
    f"{base_url}/v1/chat",
    headers={"authorization": f"Bearer {os.environ['KILLTOKEN_API_KEY']}"},
    json={
        "provider": os.environ.get("KILLTOKEN_PROVIDER", "openai"),
        "model": os.environ.get("KILLTOKEN_MODEL", "gpt-4.1-mini"),
        "optimizationMode": "measure_only",
        "messages": [{"role": "user", "content": "Write a concise project update."}],
        "metadata": {"feature": "weekly-summary"},
    },
    timeout=130,
)
body = response.json()
if not response.ok:
    sys.exit(f"KillToken request failed: {response.status_code} {body['error']['code']}: {body['error']['message']}")
print(json.dumps({"response": body["response"], "metrics": body["metrics"]}))
