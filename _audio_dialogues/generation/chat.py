"""Asking an OpenAI-compatible chat-completions server, with retries (``audio-dialogues generate``).

Any server that speaks the chat-completions API works: hosted APIs, vLLM, llama.cpp's server,
Ollama. One :meth:`ChatBackend.ask` is one logical request; it is sent again when the reply is not
what was asked for (the parser raises :class:`~.prompts.InvalidReply`), on HTTP 408, 409, 429 and
5xx, and on timeouts or dropped connections, up to ``retries`` times, waiting an exponential backoff with
jitter, or the server's ``Retry-After``. A refused key, a refused model or an unknown model stops
the whole run (:class:`BackendError`): no later request could succeed.

A reply of any shape, size or encoding is one failed attempt, never the end of a run: a body that is not
a chat completion is retried as an invalid reply; a body over :data:`MAX_REPLY_BYTES` is cut off and
retried; ``timeout`` bounds the whole request, not each read (a server that trickles a byte a second is
dropped at the deadline). The key goes only where it belongs (:func:`choose_api_key`) and is masked in
every text kept from a server; a server's words are printed with their control characters escaped.

:func:`ask_all` sends many requests on the run engine (:mod:`..engine`): a few in flight, each answer
handed to the caller in the main thread (so the caller's ledger is written by one thread only), and
the engine's stop policy.
"""

from __future__ import annotations

import email.utils
import math
import os
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar
from urllib.parse import urlsplit

from ..core.errors import mask_url, printable
from ..engine.retry import Backoff
from ..engine.runner import run_jobs
from .prompts import InvalidReply

T = TypeVar("T")


MAX_REPLY_BYTES = 8 * 2**20  # a chat reply is a few kB; a body past this is a broken or hostile server
OPENAI_HOST = "api.openai.com"  # where a key read from OPENAI_API_KEY may go
RETRIED_STATUSES = (408, 409, 429)  # and every 5xx: the server is busy or failed, the same request may pass later


class BackendError(RuntimeError):
    """The server refuses every request (bad key, no access, unknown model or URL)."""


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently one request is retried."""

    retries: int = 5  # further attempts after the first
    backoff_base: float = 1.0  # seconds before the first retry; doubled each time
    backoff_max: float = 60.0  # no wait is longer (also caps Retry-After)
    timeout: float = 120.0  # seconds for one HTTP request, all of it (connect, send, every byte of the reply)

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
        if usage is not None:  # a server may send anything here: only whole numbers count
            self.prompt_tokens += _count(_field(usage, "prompt_tokens"))
            self.completion_tokens += _count(_field(usage, "completion_tokens"))

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
            client = openai.OpenAI(
                base_url=base_url,
                api_key=api_key,
                max_retries=0,
                timeout=policy.timeout,
                http_client=_bounded_http_client(policy.timeout),
            )
        self.client, self.model, self.temperature, self.seed, self.policy = client, model, temperature, seed, policy
        self.base_url = base_url
        self._secret = api_key if len(api_key) >= 8 and api_key != "no-key" else None

    def _clean(self, text: str) -> str:
        """``text`` from the server as it may be kept: the key masked, lone surrogates replaced."""
        if self._secret:
            text = text.replace(self._secret, "***")
        text = _SURROGATE.sub("\ufffd", text)  # no UTF-8 file can hold a lone surrogate: it would stop the ledger
        return _ESCAPED_SURROGATE.sub(r"\\ufffd", text)  # nor one written as a JSON escape in a JSON reply

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
                raise BackendError(self._clean(_fatal_message(err, self.base_url, self.model))) from err
            except openai.APIStatusError as err:
                if err.status_code in RETRIED_STATUSES or err.status_code >= 500:
                    retry_after = _retry_after(err.response.headers)
                    answer.retry_reasons.append(f"HTTP {err.status_code}")
                    continue
                # another 4xx (e.g. 400, the prompt is too long for the model): no retry helps this request
                answer.retry_reasons.append(self._clean(f"HTTP {err.status_code}: {_server_message(err)}"))
                answer.status, answer.reason = "failed", f"HTTP {err.status_code}"
                return answer
            except (openai.APITimeoutError, openai.APIConnectionError) as err:
                answer.retry_reasons.append(_transport_reason(err))
                continue
            except (ValueError, RecursionError, TypeError, AttributeError, KeyError, IndexError) as err:
                # a 200 whose body is no chat completion: not JSON or not UTF-8 (ValueError), nested too deep, or
                # of a shape the client trips on
                answer.retry_reasons.append(f"invalid reply: the body is not a chat completion ({type(err).__name__})")
                continue
            answer.usage.add(getattr(response, "usage", None))
            try:
                answer.reply = self._clean(_reply_text(response))
                answer.value = parse(answer.reply)
            except InvalidReply as err:
                answer.retry_reasons.append(self._clean(f"invalid reply: {err}"))
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


def _field(value: Any, name: str) -> Any:
    """``value.name`` or ``value[name]``: the client leaves a body of an unexpected shape as plain JSON."""
    return value.get(name) if isinstance(value, dict) else getattr(value, name, None)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _reply_text(response: Any) -> str:
    """The first choice's message text; :class:`InvalidReply` for a body of another shape."""
    choices = _field(response, "choices")
    if not isinstance(choices, list) or not choices:
        raise InvalidReply("the body holds no list of choices")
    content = _field(_field(choices[0], "message"), "content")
    if not isinstance(content, str):
        raise InvalidReply(f"the message content is {type(content).__name__}, not text")
    return content


def _transport_reason(err: Any) -> str:
    """Why a request got no reply: ``timeout``, ``reply too large`` or ``connection error``."""
    cause = err
    while cause is not None:
        if getattr(cause, "reply_too_large", False):
            return f"reply too large: over {MAX_REPLY_BYTES} bytes"
        cause = cause.__cause__ or cause.__context__
    import openai

    return "timeout" if isinstance(err, openai.APITimeoutError) else "connection error"


def _bounded_http_client(timeout: float):
    """An HTTP client for the openai client whose every request ends ``timeout`` seconds after it started, and
    whose reply is read up to :data:`MAX_REPLY_BYTES` (the client's own timeout bounds each read, so a server
    trickling a byte a second would hold it forever)."""
    httpx = _httpx_of_openai()

    class ReplyTooLarge(httpx.TransportError):
        reply_too_large = True  # read by _transport_reason through the openai client's wrapping

    class Bounded(httpx.SyncByteStream):
        def __init__(self, stream, deadline: float, request):
            self.stream, self.deadline, self.request = stream, deadline, request

        def __iter__(self):
            size = 0
            for chunk in self.stream:
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    raise ReplyTooLarge(f"the reply passed {MAX_REPLY_BYTES} bytes", request=self.request)
                if time.monotonic() > self.deadline:
                    raise httpx.ReadTimeout(f"the reply took longer than {timeout} s", request=self.request)
                yield chunk

        def close(self) -> None:
            self.stream.close()

    class Transport(httpx.HTTPTransport):
        def handle_request(self, request):
            deadline = time.monotonic() + timeout
            response = super().handle_request(request)
            length = response.headers.get("content-length", "")
            if length.isdigit() and int(length) > MAX_REPLY_BYTES:
                response.close()
                raise ReplyTooLarge(f"the reply announced {length} bytes", request=request)
            response.stream = Bounded(response.stream, deadline, request)
            return response

    return httpx.Client(transport=Transport(), timeout=timeout, follow_redirects=False)


def _httpx_of_openai():
    """The HTTP library the installed openai client is built on (``httpx``, or ``httpx2`` in openai 3)."""
    import importlib

    import openai

    base = getattr(openai, "DefaultHttpxClient", None)
    name = next((c.__module__ for c in getattr(base, "__mro__", ()) if c.__name__ == "Client"), "httpx")
    return importlib.import_module(name.split(".")[0])


def choose_api_key(variable: str, base_url: str | None, key_flag: str = "--api-key-env", url_flag: str = "--base-url"):
    """The key to send to ``base_url`` (``None``: OpenAI's API) from the environment variable ``variable``.

    A key read from ``OPENAI_API_KEY`` goes only to OpenAI's own API: another server gets ``"no-key"`` (local
    servers accept any) unless the user names a variable for it (``key_flag``). A key never travels over plain
    http to a host other than this machine.
    """
    host = (urlsplit(base_url).hostname or "") if base_url else OPENAI_HOST
    if variable == "OPENAI_API_KEY" and host != OPENAI_HOST:
        return "no-key"
    key = os.environ.get(variable)
    if not key:
        if base_url is None:
            raise ValueError(
                f"No API key: set the environment variable {variable} (or name another with {key_flag}), "
                f"or pass {url_flag} for a local server that needs none."
            )
        return "no-key"  # local servers (vLLM, llama.cpp, Ollama) accept any key
    if urlsplit(base_url or "").scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(
            f"{url_flag} {mask_url(base_url)} is plain http to another machine: the key in {variable} would cross "
            f"the network unencrypted. Use an https:// URL, or unset {key_flag} for a server that needs no key."
        )
    return key


_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"  # a high half with no low half after it
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"  # a low half with no high half before
)


def _retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds, or an HTTP date), if the server sent one."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            try:  # an HTTP date; one the calendar cannot hold is no date
                when = email.utils.parsedate_tz(value)
                seconds = email.utils.mktime_tz(when) - time.time() if when is not None else None
            except (ValueError, OverflowError, TypeError, IndexError):
                seconds = None
        return seconds if seconds is not None and math.isfinite(seconds) else None
    return None


def _fatal_message(err: Any, base_url: str | None, model: str) -> str:
    server = mask_url(base_url) or "the OpenAI API"
    hint = {
        401: "the key was refused: set the environment variable named by --api-key-env to a valid key "
        f"(a key in OPENAI_API_KEY goes only to {OPENAI_HOST}: name a variable for another server)",
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
    return printable(str(text).strip().split("\n", 1)[0][:200])


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
