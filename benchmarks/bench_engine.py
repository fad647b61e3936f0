"""Benchmark: answers per second of ``generate`` against a fast local chat server, next to a minimal client.

    python benchmarks/bench_engine.py [--code /work/main] [--answers 2000] [--concurrency 16] [--repeats 5]

A stand-in OpenAI-compatible server (a bare asyncio HTTP/1.1 server with keep-alive, in a process of its
own, answering every chat completion at once with the same valid three-turn dialogue) is started on
127.0.0.1. Then, in turn, each ``--repeats`` times:

- generate: ``generate(out, "music_dialogues", ids=<the first N MusicCaps ids>, concurrency=C)`` into a
  new folder, end to end as the command runs it (clips, requests, ledger, filters, output files);
- minimal client: ``openai.AsyncOpenAI`` sending the same N requests, C at once (asyncio tasks behind a
  semaphore), keeping nothing: what the server and the HTTP client allow at best.

Each figure is N / wall seconds, median of the repeats; the ratio is generate's median over the client's.
``--code`` measures another checkout's package (e.g. ``git archive <commit> | tar -x -C /tmp/before``:
before), default this one (after).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

from workload import REPO, machine, median, table

FOLDER: str | None = None  # where generate writes (set by --workdir)

TURN = {"user": "What is playing?", "assistant": "A song with a guitar and a steady drum beat."}
REPLY = json.dumps([TURN] * 3)  # three turns: valid for every config's rule
BODY = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "bench-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\nConnection: keep-alive\r\n\r\n"
    + BODY
)


def serve(port: int, ready) -> None:
    """The stand-in server: reads each request (headers, then Content-Length bytes) and answers at once."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                writer.write(RESPONSE)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


FSYNCS: list[int] = []  # os.fsync calls of the last generate run


def run_generate(base_url: str, ids: list[str], concurrency: int) -> float:
    from _audio_dialogues.generation.pipeline import generate

    real_fsync, calls = os.fsync, []

    def counted(fd: int) -> None:
        calls.append(fd)
        real_fsync(fd)

    os.fsync = counted
    with tempfile.TemporaryDirectory(dir=FOLDER) as out:
        began = time.perf_counter()
        summary = generate(
            out, "music_dialogues", ids=ids, base_url=base_url, model="bench-model", concurrency=concurrency,
            progress=False, echo=lambda text: None,
        )  # fmt: skip
        seconds = time.perf_counter() - began
    os.fsync = real_fsync
    FSYNCS.append(len(calls))
    assert summary.generated == len(ids), summary.summary()
    return len(ids) / seconds


def run_minimal(base_url: str, n: int, concurrency: int) -> float:
    import openai

    async def main() -> float:
        client = openai.AsyncOpenAI(base_url=base_url, api_key="no-key", max_retries=0)
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with gate:
                response = await client.chat.completions.create(
                    model="bench-model", messages=[{"role": "user", "content": f"clip {i}"}]
                )
                assert response.choices[0].message.content

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        seconds = time.perf_counter() - began
        await client.close()
        return n / seconds

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose package is measured")
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=REPO, help="the output folders go here (a real disk)")
    args = parser.parse_args()
    global FOLDER
    FOLDER = str(args.workdir)
    for name in [m for m in sys.modules if m.split(".")[0] in ("_audio_dialogues", "audio_dialogues")]:
        del sys.modules[name]  # workload imported this checkout's; measure --code's
    sys.path.insert(0, str(args.code.resolve()))
    os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    import _audio_dialogues
    from _audio_dialogues.core.musiccaps import shipped_musiccaps

    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    base_url = f"http://127.0.0.1:{port}/v1"
    ids = list(shipped_musiccaps())[: args.answers]
    try:
        run_minimal(base_url, 100, args.concurrency)  # warm up both sides
        generate_rates, minimal_rates = [], []
        for _ in range(args.repeats):
            generate_rates.append(run_generate(base_url, ids, args.concurrency))
            minimal_rates.append(run_minimal(base_url, len(ids), args.concurrency))
    finally:
        server.terminate()
    print(f"code: {Path(_audio_dialogues.__file__).parent.parent} ({machine()})")
    print(
        f"{len(ids)} answers, concurrency {args.concurrency}, median of {args.repeats} runs; "
        f"fsync calls per generate run: {', '.join(map(str, FSYNCS))}"
    )
    print(
        table(
            ["client", "answers/s (median)", "runs"],
            [
                ["generate", median(generate_rates), ", ".join(f"{r:.0f}" for r in generate_rates)],
                ["minimal AsyncOpenAI", median(minimal_rates), ", ".join(f"{r:.0f}" for r in minimal_rates)],
                ["ratio generate / minimal", median(generate_rates) / median(minimal_rates), ""],
            ],
        )
    )


if __name__ == "__main__":
    main()
