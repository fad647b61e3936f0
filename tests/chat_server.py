"""A small OpenAI-compatible chat-completions server on 127.0.0.1 for the tests of ``generate``.

It answers ``POST /v1/chat/completions`` from canned replies chosen by the prompt: the first rule
whose ``needle`` is in the last message gets its replies in turn (the last one repeats). A reply is
the message text, or an :class:`HttpReply` (status, headers, body) to play a 429 or a 500. Without
a matching rule, a default dialogue is made from the prompt. Every request is kept, so a test can
count them and read what was asked. Usage figures: prompt and completion tokens estimated as one
token per 4 characters (what the cost figures in the README are measured with).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable


@dataclass
class HttpReply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = '{"error": {"message": "canned error", "type": "server_error"}}'


@dataclass
class RawReply:
    """A reply as a hostile or broken server sends it: any status and bytes, optionally a byte at a time."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between bytes (a server that holds a client with a slow drip)
    length: int | None = None  # the Content-Length announced (default: the body's)


@dataclass
class EchoHeaders:
    """A 200 whose message text repeats the request's headers (a server that echoes what it was sent)."""


@dataclass
class Rule:
    needle: str
    replies: list  # str | HttpReply
    served: int = 0


def default_reply(prompt: str) -> str:
    """A valid two-turn dialogue (one turn for a comparison), or a description for a description prompt."""
    if prompt.startswith("Describe the acoustic character"):
        name = prompt.split('"')[1]
        return f"the sound of {name.lower()} as heard in a test"
    if prompt.startswith("Audio 1:"):
        return json.dumps({"user": "Which clip is longer?", "assistant": "Audio 1 lasts longest."})
    first = prompt.splitlines()[0][:40]
    return "\n".join(
        json.dumps(t)
        for t in [
            {"user": "What do you hear?", "assistant": f"I hear this: {first}"},
            {"user": "Anything else?", "assistant": "Nothing more stands out."},
        ]
    )


def four_turn_reply(prompt: str) -> str:
    """The paper's shape: a valid four-turn dialogue (one turn for a comparison), or a description."""
    if prompt.startswith("Describe the acoustic character") or prompt.startswith("Audio 1:"):
        return default_reply(prompt)
    first = prompt.splitlines()[0][:40]
    questions = ["What do you hear?", "What is its mood?", "Is it live or recorded in a studio?", "Anything else?"]
    answers = [f"I hear this: {first}", "It sounds calm.", "It is hard to tell from the audio.", "Nothing more."]
    return "\n".join(json.dumps({"user": q, "assistant": a}) for q, a in zip(questions, answers))


class ChatServer:
    """``with ChatServer() as server:`` serves on ``server.base_url`` until the block ends."""

    def __init__(self, default: Callable[[str], str] = default_reply, delay: float = 0.0):
        self.rules: list[Rule] = []
        self.requests: list[dict] = []  # the JSON bodies received, in order
        self.headers: list[dict] = []  # the headers of each request, in order
        self.closing = threading.Event()  # set when the block ends: a trickling reply stops
        self.default, self.delay = default, delay
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.headers.append(dict(self.headers))
                if self.path != "/v1/chat/completions":
                    return self._send(HttpReply(404, body='{"error": {"message": "no such path"}}'))
                reply = server._answer(body)
                if server.delay:
                    time.sleep(server.delay)
                if isinstance(reply, HttpReply):
                    return self._send(reply)
                if isinstance(reply, RawReply):
                    return self._send_raw(reply)
                if isinstance(reply, EchoHeaders):
                    reply = json.dumps(dict(self.headers))
                prompt_chars = sum(len(m["content"]) for m in body["messages"])
                self._send(
                    HttpReply(
                        200,
                        {"Content-Type": "application/json"},
                        json.dumps(
                            {
                                "id": f"chatcmpl-{len(server.requests)}",
                                "object": "chat.completion",
                                "created": 0,
                                "model": body["model"],
                                "choices": [
                                    {
                                        "index": 0,
                                        "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": reply},
                                    }
                                ],
                                "usage": {
                                    "prompt_tokens": -(-prompt_chars // 4),
                                    "completion_tokens": -(-len(reply) // 4),
                                    "total_tokens": -(-prompt_chars // 4) + -(-len(reply) // 4),
                                },
                            }
                        ),
                    )
                )

            def _send(self, reply: HttpReply) -> None:
                data = reply.body.encode()
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_raw(self, reply: RawReply) -> None:
                self.send_response(reply.status)
                for name, value in {"Content-Type": "application/json", **reply.headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body) if reply.length is None else reply.length))
                self.end_headers()
                try:
                    if not reply.trickle:
                        self.wfile.write(reply.body)
                        return
                    for i in range(len(reply.body)):
                        self.wfile.write(reply.body[i : i + 1])
                        self.wfile.flush()
                        if server.closing.wait(reply.trickle):
                            return
                except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, needle: str, *replies) -> None:
        """Answer prompts holding ``needle`` with ``replies``, one per request, the last repeated."""
        self.rules.append(Rule(needle, list(replies)))

    def _answer(self, body: dict):
        prompt = body["messages"][-1]["content"]
        with self._lock:
            self.requests.append(body)
            for rule in self.rules:
                if rule.needle in prompt:
                    reply = rule.replies[min(rule.served, len(rule.replies) - 1)]
                    rule.served += 1
                    return reply
        return self.default(prompt)

    def count(self, needle: str = "") -> int:
        """Requests whose last message holds ``needle`` (all requests for "")."""
        with self._lock:
            return sum(needle in body["messages"][-1]["content"] for body in self.requests)

    def __enter__(self) -> "ChatServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
