"""A fake Google OAuth token endpoint and a fake Vertex AI that check what the real services check.

The token endpoint verifies the RS256 JWT-bearer assertion against the test service account's public key
(``google.auth.jwt.decode``), the grant type, the cloud-platform scope, ``aud`` (Google's token URI, whatever
URL the assertion was posted to), ``iss`` (the account) and the key id (an account may hold several keys),
then issues a distinct access token with ``expires_in``. Vertex maps the bearer token back to a live issued
token and its service account, checks that account may use the project in the path, validates
generateContent / rawPredict bodies and answers realistic bodies with usage. ``revoke_next_call`` makes the
next Vertex call revoke its token and answer 401. Keys are generated at test time; nothing secret is committed.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from tests.fakes.server import Answer, FakeServer, Recorded

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_VERTEX_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/"
                          r"(?P<publisher>google|anthropic)/models/(?P<model>[^/:]+):(?P<method>[A-Za-z]+)$")
_GEMINI_FIELDS = {"contents", "systemInstruction", "generationConfig", "tools", "toolConfig", "safetySettings",
                  "cachedContent", "labels"}


GEMINI_USAGE = {"promptTokenCount": 8, "candidatesTokenCount": 4, "totalTokenCount": 12}
CLAUDE_USAGE = {"input_tokens": 9, "output_tokens": 3}


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key_pem: str
    public_key_pem: str
    private_key_id: str
    projects: frozenset[str]

    def secrets(self) -> dict[str, str]:
        return {"clientEmail": self.client_email, "privateKey": self.private_key_pem,
                "privateKeyId": self.private_key_id}


def make_service_account(client_email: str, *projects: str) -> ServiceAccount:
    """A service account with a fresh 2048-bit RSA key (generated now, never stored)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return ServiceAccount(client_email, private_pem, public_pem, secrets.token_hex(20), frozenset(projects))


@dataclass
class Issued:
    token: str
    client_email: str
    expires_at: float
    revoked: bool = False


@dataclass
class Exchange:
    """A token request that passed every check."""

    client_email: str
    scope: str
    audience: str
    token: str


@dataclass
class VertexCall:
    client_email: str
    token: str
    project: str
    location: str
    publisher: str
    model: str
    method: str
    body: dict[str, Any]


def _google_error(status: int, code: str, message: str) -> Answer:
    return status, {}, {"error": {"code": status, "message": message, "status": code}}


def _oauth_error(error: str, description: str) -> Answer:
    return 400, {}, {"error": error, "error_description": description}


@dataclass
class FakeGoogle:
    accounts: list[ServiceAccount]
    expires_in: int = 3599
    token_delay_seconds: float = 0.0
    token_script: list[Answer] = field(default_factory=list)
    revoked_accounts: set[str] = field(default_factory=set)
    revoke_next_call: bool = False
    gemini_usage: dict[str, int] = field(default_factory=lambda: dict(GEMINI_USAGE))
    claude_usage: dict[str, int] = field(default_factory=lambda: dict(CLAUDE_USAGE))
    exchanges: list[Exchange] = field(default_factory=list)
    token_requests: int = 0
    issued: dict[str, Issued] = field(default_factory=dict)
    vertex_calls: list[VertexCall] = field(default_factory=list)
    vertex_refusals: list[tuple[int, str | None]] = field(default_factory=list)  # (status, bearer)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self.token_server = FakeServer(self.handle_token)
        self.vertex_server = FakeServer(self.handle_vertex)

    @property
    def token_url(self) -> str:
        return self.token_server.origin + "/token"

    @property
    def vertex_origin(self) -> str:
        return self.vertex_server.origin

    def start(self) -> FakeGoogle:
        self.token_server.start()
        self.vertex_server.start()
        return self

    def stop(self) -> None:
        self.token_server.stop()
        self.vertex_server.stop()

    def reset(self) -> None:
        self.exchanges.clear()
        self.issued.clear()
        self.vertex_calls.clear()
        self.vertex_refusals.clear()
        self.token_script.clear()
        self.revoked_accounts.clear()
        self.token_requests = 0
        self.revoke_next_call = False
        self.expires_in = 3599
        self.token_delay_seconds = 0.0
        self.gemini_usage = dict(GEMINI_USAGE)
        self.claude_usage = dict(CLAUDE_USAGE)

    # ---- OAuth token endpoint ---------------------------------------------------------------------------

    def handle_token(self, request: Recorded) -> Answer:
        with self._lock:
            self.token_requests += 1
        if self.token_delay_seconds:
            time.sleep(self.token_delay_seconds)
        if request.method != "POST" or request.path != "/token":
            return 404, {}, {"error": "not_found"}
        if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return _oauth_error("invalid_request", "Bad Request")
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8")).items()}
        if form.get("grant_type") != JWT_BEARER:
            return 400, {}, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
        assertion = form.get("assertion", "")
        try:
            header = jwt.decode_header(assertion)
            claims = jwt.decode(assertion, verify=False)
        except ValueError:
            return _oauth_error("invalid_grant", "Invalid JWT: malformed")
        keys = [a for a in self.accounts if a.client_email == claims.get("iss")]
        if not keys:
            return _oauth_error("invalid_grant", "Invalid grant: account not found")
        if header.get("kid") is not None:
            keys = [a for a in keys if a.private_key_id == header["kid"]]
        if not keys or keys[0].client_email in self.revoked_accounts:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        account = keys[0]
        try:
            verified = jwt.decode(assertion, certs=[a.public_key_pem for a in keys], audience=TOKEN_AUDIENCE)
        except ValueError:
            return _oauth_error("invalid_grant", "Invalid JWT Signature.")
        if header.get("alg") != "RS256" or verified["exp"] - verified["iat"] > 3600:
            return _oauth_error("invalid_grant", "Invalid JWT: Token must be a short-lived token")
        if CLOUD_PLATFORM not in str(verified.get("scope", "")).split():
            return _oauth_error("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        if self.token_script:
            return self.token_script.pop(0)
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = Issued(token, account.client_email, time.time() + self.expires_in)
            self.exchanges.append(Exchange(account.client_email, verified["scope"], verified["aud"], token))
        return 200, {}, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}

    # ---- Vertex AI --------------------------------------------------------------------------------------

    def _refuse(self, status: int, bearer: str | None, code: str, message: str) -> Answer:
        with self._lock:
            self.vertex_refusals.append((status, bearer))
        return _google_error(status, code, message)

    def handle_vertex(self, request: Recorded) -> Answer:
        authorization = request.headers.get("authorization", "")
        bearer = authorization[len("Bearer "):] if authorization.startswith("Bearer ") else None
        issued = self.issued.get(bearer or "")
        if issued is None or issued.revoked or issued.expires_at < time.time():
            return self._refuse(401, bearer, "UNAUTHENTICATED",
                                "Request had invalid authentication credentials. Expected OAuth 2 access token.")
        if self.revoke_next_call:
            self.revoke_next_call = False
            issued.revoked = True
            return self._refuse(401, bearer, "UNAUTHENTICATED",
                                "Request had invalid authentication credentials. Expected OAuth 2 access token.")
        route = _VERTEX_PATH.match(request.path)
        if request.method != "POST" or route is None:
            return _google_error(404, "NOT_FOUND", "The requested URL was not found on this server.")
        projects = {p for a in self.accounts if a.client_email == issued.client_email for p in a.projects}
        if route.group("project") not in projects:
            return self._refuse(403, bearer, "PERMISSION_DENIED", "Permission 'aiplatform.endpoints.predict' denied")
        try:
            body = json.loads(request.body.decode("utf-8"))
        except ValueError:
            return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        publisher, method, model = route.group("publisher"), route.group("method"), route.group("model")
        if publisher == "google" and method == "generateContent":
            problem = _gemini_problem(body)
        elif publisher == "anthropic" and method == "rawPredict":
            problem = _claude_problem(body)
        else:
            return _google_error(400, "FAILED_PRECONDITION", "Unsupported method for this publisher model.")
        if problem:
            if publisher == "anthropic":
                return 400, {}, {"type": "error", "error": {"type": "invalid_request_error", "message": problem}}
            return _google_error(400, "INVALID_ARGUMENT", problem)
        with self._lock:
            self.vertex_calls.append(VertexCall(issued.client_email, issued.token, route.group("project"),
                                                route.group("location"), publisher, model, method, body))
        if publisher == "anthropic":
            return 200, {}, {"id": "msg_vrtx_01", "type": "message", "role": "assistant", "model": model,
                             "content": [{"type": "text", "text": "Hello from Claude on Vertex"}],
                             "stop_reason": "end_turn", "stop_sequence": None, "usage": dict(self.claude_usage)}
        return 200, {}, {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello from Gemini"}]},
                                         "finishReason": "STOP"}],
                         "usageMetadata": dict(self.gemini_usage), "modelVersion": model,
                         "responseId": "resp-vertex-1"}


def _gemini_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    unknown = set(body) - _GEMINI_FIELDS
    if unknown:
        return f"Invalid JSON payload received. Unknown name \"{sorted(unknown)[0]}\": Cannot find field."
    contents = body.get("contents")
    if not isinstance(contents, list) or not contents:
        return "Unable to submit request because it must include at least one parts field."
    for content in contents:
        if not isinstance(content, dict) or content.get("role") not in ("user", "model"):
            return "Please use a valid role: user, model."
        if not isinstance(content.get("parts"), list) or not content["parts"]:
            return "contents.parts must not be empty."
    return None


def _claude_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "body must be an object"
    if body.get("anthropic_version") != "vertex-2023-10-16":
        return "anthropic_version: vertex-2023-10-16 is required"
    if "model" in body:
        return "model: Extra inputs are not permitted"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: Field required"
    return None
