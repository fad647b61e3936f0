"""Asking an OpenAI-compatible chat-completions server, with retries (``audio-dialogues generate``).

Any server that speaks the chat-completions API works: hosted APIs, vLLM, llama.cpp's server,
Ollama. One :meth:`ChatBackend.ask` is one logical request; it is sent again when the reply is not
what was asked for (the parser raises :class:`~.prompts.InvalidReply`), on HTTP 408, 409, 429 and
5xx, and on timeouts or dropped connections, up to ``retries`` times, waiting an exponential backoff with
jitter, or the server's ``Retry-After``. A refused key, a refused model or an unknown model stops
the whole run (:class:`BackendError`): no later request could succeed.

:func:`ask_all` sends many requests on the run engine (:mod:`..engine`): a few in flight, each answer
handed to the caller in the main thread (so the caller's ledger is written by one thread only), and
the engine's stop policy.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

from ..engine.retry import Backoff
from ..engine.runner import run_jobs
from .prompts import InvalidReply

T = TypeVar("T")


RETRIED_STATUSES = (408, 409, 429)  # and every 5xx: the server is busy or failed, the same request may pass later


class BackendError(RuntimeError):
    """The server refuses every request (bad key, no access, unknown model or URL)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one request is retried."""

    retries: int = 5  # further attempts after the first
    backoff_base: float = 1.0  # seconds before the first retry; doubled each time
    backoff_max: float = 60.0  # no wait is longer (also caps Retry-After)
    timeout: float = 120.0  # seconds for one HTTP request

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Seconds to wait before retry ``attempt`` (1-based): the engine's :class:`~.engine.retry.Backoff`."""
        return Backoff(self.backoff_base, self.backoff_max).delay(attempt, retry_after, rng)


class Budget:
    """At most ``limit`` HTTP requests in this run (``None``: no limit); shared by the worker threads."""

    def __init__(self, limit: int | None):
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True

    @property
    def exhausted(self) -> bool:
        return self.limit is not None and self.used >= self.limit


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, usage: Any) -> None:
        if usage is not None:
            self.prompt_tokens += getattr(usage, "prompt_tokens", 0) or 0
            self.completion_tokens += getattr(usage, "completion_tokens", 0) or 0

    def as_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


@dataclass
class Answer(Generic[T]):
    """What became of one logical request."""

    status: str  # "ok", "failed", or "stopped" (budget spent or interrupted: not finished, asked again next run)
    value: T | None = None
    reply: str | None = None  # the last reply's text
    reason: str | None = None  # why it failed or stopped
    requests: int = 0  # HTTP requests sent
    retry_reasons: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


class ChatBackend:
    """One OpenAI client, shared by the worker threads (it is thread-safe)."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str = "",
        temperature: float | None = None,
        seed: int | None = None,
        policy: RetryPolicy = RetryPolicy(),
        client=None,
    ):
        if client is None:
            try:
                import openai
            except ImportError as err:
                raise ImportError(
                    "audio-dialogues generate needs the openai client: pip install 'audio-dialogues[generate]'."
                ) from err
            client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=policy.timeout)
        self.client, self.model, self.temperature, self.seed, self.policy = client, model, temperature, seed, policy
        self.base_url = base_url

    def ask(
        self,
        messages: list[dict],
        parse: Callable[[str], T],
        *,
        budget: Budget,
        stop: threading.Event,
        rng: random.Random | None = None,
    ) -> Answer[T]:
        """Send ``messages`` until ``parse`` accepts the reply, the retries are spent, or the run stops."""
        import openai

        rng = rng or random.Random()
        answer: Answer[T] = Answer("stopped")
        retry_after: float | None = None  # what the server asked us to wait, after a 429 or 5xx
        for attempt in range(self.policy.retries + 1):
            if attempt:
                if stop.wait(self.policy.backoff(attempt, retry_after, rng)):
                    return _stopped(answer, "interrupted")
            if stop.is_set():
                return _stopped(answer, "interrupted")
            if not budget.take():
                return _stopped(answer, "--max-requests reached")
            answer.requests += 1
            retry_after = None
            try:
                response = self.client.chat.completions.create(**self._request(messages))
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
                raise BackendError(_fatal_message(err, self.base_url, self.model)) from err
            except openai.APIStatusError as err:
                if err.status_code in RETRIED_STATUSES or err.status_code >= 500:
                    retry_after = _retry_after(err.response.headers)
                    answer.retry_reasons.append(f"HTTP {err.status_code}")
                    continue
                # another 4xx (e.g. 400, the prompt is too long for the model): no retry helps this request
                answer.retry_reasons.append(f"HTTP {err.status_code}: {_server_message(err)}")
                answer.status, answer.reason = "failed", f"HTTP {err.status_code}"
                return answer
            except (openai.APITimeoutError, openai.APIConnectionError) as err:
                timed_out = isinstance(err, openai.APITimeoutError)
                answer.retry_reasons.append("timeout" if timed_out else "connection error")
                continue
            answer.usage.add(getattr(response, "usage", None))
            answer.reply = _reply_text(response)
            try:
                answer.value = parse(answer.reply or "")
            except InvalidReply as err:
                answer.retry_reasons.append(f"invalid reply: {err}")
                continue
            answer.status = "ok"
            return answer
        answer.status = "failed"
        answer.reason = answer.retry_reasons[-1].split(":")[0] if answer.retry_reasons else "no attempt"
        return answer

    def _request(self, messages: list[dict]) -> dict:
        request: dict[str, Any] = {"model": self.model, "messages": messages}
        if self.temperature is not None:
            request["temperature"] = self.temperature
        if self.seed is not None:
            request["seed"] = self.seed
        return request


def _stopped(answer: Answer, reason: str) -> Answer:
    answer.status, answer.reason = "stopped", reason
    return answer


def _reply_text(response: Any) -> str | None:
    choices = getattr(response, "choices", None) or []
    return choices[0].message.content if choices and choices[0].message is not None else None


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds, or an HTTP date), if the server sent one."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            return float(value) / scale
        except ValueError:
            when = email.utils.parsedate_tz(value)
            if when is not None:
                return email.utils.mktime_tz(when) - time.time()
    return None


def _fatal_message(err: Any, base_url: str | None, model: str) -> str:
    server = base_url or "the OpenAI API"
    hint = {
        401: "the key was refused: set the environment variable named by --api-key-env to a valid key",
        403: "the key has no access to this model or endpoint",
        404: f"no model {model!r} or no chat-completions endpoint here: check --model and --base-url "
        "(a local server's URL usually ends in /v1)",
    }.get(err.status_code, "")
    return f"{server} answered HTTP {err.status_code} ({_server_message(err)}): {hint}. Nothing more was sent."


def _server_message(err: Any) -> str:
    """What the server said: the ``message`` of its JSON error body, or the client's description."""
    body = getattr(err, "body", None)
    message = body.get("message") if isinstance(body, dict) else None
    return _first_line(message if isinstance(message, str) else err.message)


def _first_line(text: Any) -> str:
    return str(text).strip().split("\n", 1)[0][:200]


class Interrupted(Exception):
    """The run was stopped (Ctrl-C): the requests in flight were recorded, no others sent."""


@dataclass
class Request:
    """One logical request: what to send and how to read the reply."""

    key: str
    messages: list[dict]
    parse: Callable[[str], Any]
    job: Any = None  # what the answer belongs to (the caller's)


@dataclass
class Run:
    """What every request of one run shares."""

    backend: ChatBackend
    budget: Budget
    stop: threading.Event  # set by the stop policy (Ctrl-C, SIGTERM) or a fatal server answer
    concurrency: int
    progress: bool


def ask_all(
    run: Run,
    requests: Sequence[Request],
    record: Callable[[Request, Answer], None],
    *,
    label: str,
    commit: Callable[[], None] = lambda: None,
) -> int:
    """Send ``requests`` on the run engine (:func:`~.engine.runner.run_jobs`), ``concurrency`` in flight;
    ``record`` each answer in this thread and ``commit`` once per batch of answers.

    Returns how many were never sent (the budget ran out). Once ``stop`` is set (the engine's stop
    policy), nothing more is sent, the requests in flight finish and are recorded, and
    :class:`Interrupted` is raised; a :class:`BackendError` is raised the same way, after the others.
    """

    def ask(request: Request) -> Answer:
        return run.backend.ask(
            request.messages, request.parse, budget=run.budget, stop=run.stop, rng=random.Random(request.key)
        )

    def keep(request: Request, answer: Answer) -> None:
        record(request, answer)

    left = run_jobs(
        requests,
        ask,
        keep,
        workers=run.concurrency,
        stop=run.stop,
        commit=commit,
        until=lambda: run.budget.exhausted,
        total=len(requests),
        label=label,
        unit="request",
        progress=run.progress,
    )
    if run.stop.is_set():
        raise Interrupted
    return left
