"""The OpenAI chat.completions family: providers that differ only in data (origin, path, options, usage).

Each member is one ``FamilyMember`` value; the wire translation is ``providers/openai_wire.py``. Every member
authenticates with ``Authorization: Bearer <apiKey>`` and takes no config.

Option sets follow each provider's public API reference (OpenAI's names; a provider's own spelling through
``renames``): Mistral spells ``seed`` ``random_seed`` and has only ``max_tokens``; DeepSeek, Perplexity and
Together have only ``max_tokens``, so ``max_completion_tokens`` is renamed. Only OpenAI knows the ``developer``
role; the others get it as ``system``. Perplexity requires strict user/assistant alternation, so consecutive
plain messages of one role are merged. Usage quirks: xAI and Perplexity leave reasoning tokens out of
``completion_tokens``; Perplexity bills ``citation_tokens`` as input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.errors import ApiError
from providers.base import (
    FORMAT_OPENAI,
    AuthContext,
    ChatRequest,
    Credential,
    ParsedResponse,
    UpstreamRequest,
)
from providers.credentials import no_config, require_api_key
from providers.openai_wire import (
    OPENAI_OPTIONS,
    Dialect,
    parse_openai_error,
    parse_openai_response,
    to_openai_body,
)

Json = dict[str, Any]


def names(text: str) -> frozenset[str]:
    """Option names written as whitespace-separated words (the option sets below are data)."""
    return frozenset(text.split())


@dataclass(frozen=True)
class FamilyMember:
    """One chat.completions provider reached at ``{origin}{path}`` with a Bearer key."""

    id: str
    default_origin: str
    path: str
    dialect: Dialect
    test_model: str
    test_options: Json = field(default_factory=dict)
    wire_format: str = FORMAT_OPENAI
    uses_api_key: bool = True

    @property
    def options(self) -> frozenset[str]:
        """Every option name this member accepts (renamed OpenAI names included)."""
        return self.dialect.options | frozenset(self.dialect.renames)

    def validate_credential(self, api_key: str | None, secrets: dict[str, Any] | None,
                            config: Json) -> tuple[str | None, dict[str, str] | None, Json]:
        return require_api_key(api_key, secrets), None, no_config(config)

    def tenant_endpoints(self, config: Json) -> list[str]:
        return []

    def build_request(self, request: ChatRequest, credential: Credential, origin: str) -> UpstreamRequest:
        body = UpstreamRequest.json_body(to_openai_body(request, self.dialect))
        url = origin.rstrip("/") + self.path
        return UpstreamRequest("POST", url, {"content-type": "application/json"}, body)

    def authorize(self, upstream: UpstreamRequest, credential: Credential,
                  auth: AuthContext) -> UpstreamRequest:
        headers = {**upstream.headers, "authorization": f"Bearer {credential.api_key or ''}"}
        return UpstreamRequest(upstream.method, upstream.url, headers, upstream.body)

    def parse_response(self, body: Json) -> ParsedResponse:
        return parse_openai_response(body, self.dialect)

    def parse_error(self, status: int, headers: dict[str, str], body: Any) -> ApiError:
        return parse_openai_error(self.id, status, headers, body)

    def test_request(self, credential: Credential) -> ChatRequest:
        return ChatRequest(provider=self.id, model=self.test_model,
                           messages=[{"role": "user", "content": "ping"}], options=dict(self.test_options))

    def __repr__(self) -> str:
        return f"FamilyMember(id={self.id!r})"


OPENAI = FamilyMember(
    id="openai", default_origin="https://api.openai.com", path="/v1/chat/completions",
    dialect=Dialect("openai", OPENAI_OPTIONS),
    test_model="gpt-4o-mini", test_options={"max_completion_tokens": 1},
)

MISTRAL = FamilyMember(
    id="mistral", default_origin="https://api.mistral.ai", path="/v1/chat/completions",
    dialect=Dialect(
        "mistral",
        names("""
        temperature top_p max_tokens stop random_seed metadata response_format tools tool_choice
        presence_penalty frequency_penalty n prediction parallel_tool_calls reasoning_effort
        prompt_mode guardrails prompt_cache_key safe_prompt
        """),
        renames={"seed": "random_seed", "max_completion_tokens": "max_tokens"},
        developer_role=False,
    ),
    test_model="mistral-small-latest", test_options={"max_tokens": 1},
)

DEEPSEEK = FamilyMember(
    id="deepseek", default_origin="https://api.deepseek.com", path="/chat/completions",
    dialect=Dialect(
        "deepseek",
        names("""
        thinking frequency_penalty max_tokens presence_penalty response_format stop temperature
        top_p tools tool_choice logprobs top_logprobs
        """),
        renames={"max_completion_tokens": "max_tokens"},
        developer_role=False,
    ),
    test_model="deepseek-chat", test_options={"max_tokens": 1},
)

OPENROUTER = FamilyMember(
    id="openrouter", default_origin="https://openrouter.ai", path="/api/v1/chat/completions",
    dialect=Dialect(
        "openrouter",
        names("""
        models provider reasoning usage transforms max_tokens max_completion_tokens temperature
        seed top_p top_k frequency_penalty presence_penalty repetition_penalty logit_bias logprobs
        top_logprobs min_p top_a response_format structured_outputs stop tools tool_choice
        parallel_tool_calls prediction user plugins route verbosity web_search_options modalities
        session_id metadata
        """),
        developer_role=False,
    ),
    test_model="openai/gpt-4o-mini", test_options={"max_tokens": 1},
)

TOGETHER = FamilyMember(
    id="together", default_origin="https://api.together.xyz", path="/v1/chat/completions",
    dialect=Dialect(
        "together",
        names("""
        chat_template_kwargs compliance context_length_exceeded_behavior echo frequency_penalty
        function_call logit_bias logprobs max_tokens min_p n presence_penalty reasoning
        reasoning_effort repetition_penalty response_format safety_model seed stop temperature
        tool_choice tools top_k top_p
        """),
        renames={"max_completion_tokens": "max_tokens"},
        developer_role=False,
    ),
    test_model="meta-llama/Llama-3.3-70B-Instruct-Turbo", test_options={"max_tokens": 1},
)

PERPLEXITY = FamilyMember(
    id="perplexity", default_origin="https://api.perplexity.ai", path="/chat/completions",
    dialect=Dialect(
        "perplexity",
        names("""
        max_tokens temperature top_p top_k stop n presence_penalty frequency_penalty
        response_format tools tool_choice parallel_tool_calls logprobs top_logprobs
        reasoning_effort web_search_options search_mode search_domain_filter search_recency_filter
        search_after_date_filter search_before_date_filter last_updated_after_filter
        last_updated_before_filter search_language_filter return_images return_related_questions
        image_domain_filter image_format_filter disable_search enable_search_classifier
        language_preference stream_mode num_search_results safe_search
        """),
        renames={"max_completion_tokens": "max_tokens"},
        developer_role=False,
        reasoning_in_completion=False,
        extra_input_fields=("citation_tokens",),
        alternate=True,
    ),
    test_model="sonar", test_options={"max_tokens": 1},
)

XAI = FamilyMember(
    id="xai", default_origin="https://api.x.ai", path="/v1/chat/completions",
    dialect=Dialect(
        "xai",
        names("""
        deferred frequency_penalty logit_bias logprobs max_completion_tokens max_tokens n
        parallel_tool_calls presence_penalty reasoning_effort response_format search_parameters
        seed stop temperature tool_choice tools top_logprobs top_p user web_search_options
        prompt_cache_key
        """),
        developer_role=False,
        reasoning_in_completion=False,
    ),
    test_model="grok-3-mini", test_options={"max_tokens": 1},
)

MEMBERS: tuple[FamilyMember, ...] = (OPENAI, MISTRAL, DEEPSEEK, OPENROUTER, TOGETHER, PERPLEXITY, XAI)
