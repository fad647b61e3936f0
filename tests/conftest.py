"""Shared fixtures: releases and clips written in tmp_path from code, and an isolated cache."""

from __future__ import annotations

import json
import logging
import signal
import socket
from pathlib import Path

import numpy as np
import pytest
import soundfile

REPO = Path(__file__).resolve().parent.parent


def write_clip(
    path: Path,
    *,
    seconds: float = 0.5,
    sampling_rate: int = 16000,
    channels: int = 1,
    frequency: float = 440.0,
    subtype: str | None = None,
) -> Path:
    """A seeded sine clip; each channel differs so mono averaging is observable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    data = np.stack([0.5 * np.sin(2 * np.pi * frequency * (c + 1) * t) for c in range(channels)], axis=1)
    soundfile.write(path, data.astype(np.float32), sampling_rate, subtype=subtype)
    return path


def write_release(root: Path, config: str, split: str, records: list, fmt: str = "json") -> Path:
    path = root / config / f"{split}.{fmt}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    else:
        path.write_text(json.dumps(records, indent=1), encoding="utf-8")
    return path


def dialogue(n: int, tag: str = "") -> list[dict]:
    return [{"user": f"question {i}{tag}", "assistant": f"answer {i}{tag}"} for i in range(n)]


@pytest.fixture
def cache_dir(tmp_path: Path) -> str:
    return str(tmp_path / "hf_cache")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Tests never use the network: an internet socket that tries to connect fails loudly.

    Local (AF_UNIX) sockets stay usable: multiprocessing talks through them for num_proc; so do
    loopback addresses (127.0.0.0/8, ::1), where tests run their own servers.
    """
    original_connect = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise RuntimeError(f"a test tried to open a network connection to {address!r}")
        return original_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def _is_loopback(address) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except (ValueError, TypeError, IndexError):
        return False  # a host name: never resolved here


class LogLines:
    """The messages of the ``audio_dialogues`` logger as pytest's ``caplog`` captured them (a live view)."""

    def __init__(self, caplog):
        self._caplog, self._start = caplog, 0

    def _lines(self) -> list[str]:
        records = self._caplog.records[self._start :]
        return [r.getMessage() for r in records if r.name.startswith("audio_dialogues")]

    def __iter__(self):
        return iter(self._lines())

    def __contains__(self, line) -> bool:
        return line in self._lines()

    def __len__(self) -> int:
        return len(self._lines())

    def clear(self) -> None:
        self._start = len(self._caplog.records)


@pytest.fixture
def summaries(caplog):
    """What the loader logged (INFO and up), through caplog: the summaries reach the user's logging setup."""
    caplog.set_level(logging.INFO, logger="audio_dialogues")
    return LogLines(caplog)


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a child a test will Ctrl-C: a process started in the background by a shell without
    job control (as CI may be) inherits SIGINT *ignored*, and Python then installs no KeyboardInterrupt
    handler; a terminal user's process has the default, which this restores."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
