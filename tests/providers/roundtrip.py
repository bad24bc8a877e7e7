"""Send an adapter's request to a fake with ``requests`` (no transport module), the way the gateway would."""

from __future__ import annotations

import json

import requests

from providers.base import AuthContext, ChatRequest, Credential, ParsedResponse, ProviderAdapter


def call(adapter: ProviderAdapter, request: ChatRequest, credential: Credential, origin: str) -> ParsedResponse:
    """build → authorize → POST → parse_response, or raise the adapter's ApiError for a non-2xx answer."""
    upstream = adapter.authorize(adapter.build_request(request, credential, origin), credential, AuthContext())
    with requests.Session() as session:
        session.trust_env = False  # no proxy variables: the fake is on loopback
        response = session.request(upstream.method, upstream.url, headers=upstream.headers, data=upstream.body,
                                   timeout=5, allow_redirects=False)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not 200 <= response.status_code < 300:
        raise adapter.parse_error(response.status_code, dict(response.headers), body)
    return adapter.parse_response(body)


def sent_json(upstream_body: bytes) -> dict:
    return json.loads(upstream_body.decode("utf-8"))
