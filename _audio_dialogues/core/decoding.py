"""Decoding audio files to float32 mono arrays with soundfile + soxr (no torch), and saying why one fails.

A decoded clip is ``(array, sampling_rate)``: float32, mono (channels averaged), resampled with soxr
when a rate is asked for. Formats are those of libsndfile (wav, flac, ogg/vorbis, opus, mp3); m4a/aac
needs FFmpeg and is decoded through librosa's audioread fallback when FFmpeg is installed. A file
that cannot be decoded raises :class:`AudioDecodeError` saying what is wrong with it (empty or a header
without samples, an HTML page, truncated, missing, unreadable, not a regular file, longer than
``max_seconds``, NaN samples) and what to do.

Nothing is read before the file is known to be safe to read: a path that is not a regular file (a
named pipe would block the read forever, a device would never end) is refused from ``os.stat``, and
a clip whose header announces more than ``max_seconds`` of audio (a 40 KB WAV claiming 1 Hz decodes
to 320 M samples at 16 kHz) is refused from its header, before any sample is read.
"""

from __future__ import annotations

import functools
import io
import os
import stat

import numpy as np
import soundfile


class AudioDecodeError(RuntimeError):
    """An audio file could not be decoded."""


DEFAULT_MAX_SECONDS = 600.0  # 60x a 10 s AudioSet/MusicCaps clip; what a 40 KB "1 Hz" WAV would claim is 40,000 s


def decode_audio(
    source: str | bytes, sampling_rate: int | None, max_seconds: float | None = DEFAULT_MAX_SECONDS
) -> tuple[np.ndarray, int]:
    """Read a file (path or bytes) as a float32 mono array, resampled to ``sampling_rate``.

    ``max_seconds`` refuses a longer clip from its header, before reading it; ``None`` turns the check off.
    """
    if not isinstance(source, bytes):
        check_readable(source)
    try:
        with soundfile.SoundFile(io.BytesIO(source) if isinstance(source, bytes) else source) as file:
            rate = file.samplerate
            if file.frames == 0:
                raise AudioDecodeError(
                    f"Audio file {_name(source)} holds no samples (a header without audio, "
                    f"{_size(source)} bytes), probably a failed download: delete it and download "
                    "the clip again"
                )
            if max_seconds is not None and file.frames > max_seconds * rate:
                raise AudioDecodeError(
                    f"Audio file {_name(source)} says it holds {file.frames / rate:,.0f} s of audio ({file.frames:,} "
                    f"samples at {rate} Hz), more than max_audio_seconds={max_seconds:g}: a corrupt header or not "
                    "a 10 s clip; not read. Re-download or trim it, or pass max_audio_seconds=None (or a larger "
                    "limit) to read it"
                )
            if file.subtype == "PCM_16":  # the same values as libsndfile's float read (x / 32768), 2-4x faster
                array = _to_mono(file.read(dtype="int16", always_2d=True)) * np.float32(1 / 32768)
            else:
                array = _to_mono(file.read(dtype="float32", always_2d=True))
    except soundfile.LibsndfileError as err:
        if isinstance(source, bytes) or not source.lower().endswith(FFMPEG_ONLY_SUFFIXES):
            raise AudioDecodeError(f"Could not decode audio file {_name(source)}: {_diagnosis(source, err)}") from err
        array, rate = _decode_with_ffmpeg(source)
    if not np.isfinite(array).all():  # a training loop would only see a NaN loss
        raise AudioDecodeError(
            f"Audio file {_name(source)} holds NaN or infinite samples: re-download or re-encode it."
        )
    if sampling_rate and sampling_rate != rate:
        import soxr

        array = soxr.resample(array, rate, sampling_rate, quality="HQ").astype(np.float32, copy=False)
        rate = sampling_rate
    return np.ascontiguousarray(array), int(rate)


def check_readable(path: str) -> None:
    """Refuse a path that is missing or not a regular file (never opened: it could block), from one ``stat``.

    An unreadable file is told by :func:`_diagnosis` when the read fails: no open on every decode to find it.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError as err:
        raise AudioDecodeError(
            f"Could not decode audio file {path}: the file does not exist (moved or deleted after "
            "the dataset was prepared? load again to rebuild)"
        ) from err
    except OSError as err:
        raise AudioDecodeError(
            f"Could not decode audio file {path}: {err.strerror or err} (check the folder's permissions)"
        ) from err
    if not stat.S_ISREG(info.st_mode):
        raise AudioDecodeError(
            f"Could not decode audio file {path}: it is {describe_file_type(info.st_mode)}, not a "
            "regular file; not read (reading it could block or never end). Replace it with the "
            "downloaded clip"
        )


def describe_file_type(mode: int) -> str:
    """``"a named pipe (FIFO)"``, ``"a character device"``, ...: what a non-regular file is."""
    for test, what in (
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    ):
        if test(mode):
            return what
    return "not a regular file"


def _size(source: str | bytes) -> int:
    return len(source) if isinstance(source, bytes) else os.path.getsize(source)


def _to_mono(frames: np.ndarray) -> np.ndarray:
    """The channel average, as float32.

    Adding the channel columns one by one is ~10x faster than ``frames.mean(axis=1)``, which reduces
    along the short inner axis (measured: 35 % of decoding a 10 s 44.1 kHz stereo clip).
    """
    mono = frames[:, 0].astype(np.float32, copy=frames.shape[1] > 1)  # one float32 channel: a view, no copy
    for channel in range(1, frames.shape[1]):
        mono += frames[:, channel]
    if frames.shape[1] > 1:
        mono /= np.float32(frames.shape[1])
    return mono


FFMPEG_ONLY_SUFFIXES: tuple[str, ...] = (".m4a", ".aac", ".mp4")  # libsndfile cannot open these; FFmpeg can


def audio_seconds(path: str | os.PathLike) -> float:
    """A clip's length in seconds from its header (no samples read), remembered per file version.

    Raises:
        AudioDecodeError: the header cannot be read, naming the file and the cause.
    """
    path = os.fspath(path)
    info = os.stat(path)
    return _header_seconds(path, info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=65536)
def _header_seconds(path: str, mtime_ns: int, size: int) -> float:  # the stat fields key the cache
    try:
        return soundfile.info(path).duration
    except (soundfile.LibsndfileError, RuntimeError, OSError) as err:
        error: Exception = err
    if path.lower().endswith(FFMPEG_ONLY_SUFFIXES):
        try:
            import librosa

            return float(librosa.get_duration(path=path))
        except Exception as err:  # audioread raises its own NoBackendError, and FFmpeg errors vary
            error = err
    raise AudioDecodeError(f"The length of {path} cannot be read ({type(error).__name__}: {error})") from error


def _decode_with_ffmpeg(path: str) -> tuple[np.ndarray, int]:
    try:
        import librosa

        array, rate = librosa.load(path, sr=None, mono=True, dtype=np.float32)
    except Exception as err:  # audioread raises its own hierarchy, NoBackendError among them
        raise AudioDecodeError(
            f"Could not decode {path}: m4a/aac needs FFmpeg (apt-get install ffmpeg), or convert the clip "
            f"to wav/flac (ffmpeg -i clip.m4a clip.flac). Cause: {err!r}"
        ) from err
    return array, int(rate)


def _diagnosis(source: str | bytes, err: Exception) -> str:
    """What is wrong with a file libsndfile could not open, and what to do, where we can tell."""
    try:
        head = source[:64] if isinstance(source, bytes) else _head(source)
    except FileNotFoundError:  # deleted between the check and the read
        return "the file does not exist (moved or deleted after the dataset was prepared? load again to rebuild)"
    except PermissionError:
        return "permission denied (the file is not readable by this user): fix its permissions, e.g. chmod a+r"
    except OSError:
        return str(err)
    if not head:
        return "the file is empty (0 bytes), probably a failed download: delete it and download the clip again"
    if head.lstrip()[:1] in (b"<", b"{"):  # HTML, XML or JSON
        shown = head.lstrip()[:30].decode("utf-8", "replace")
        return (
            f"the file is text, not audio (it starts with {shown!r}): an error page saved by the downloader? "
            "Download the clip again"
        )
    return (
        f"{err} (a truncated or corrupt file, or a codec libsndfile cannot read: re-download it, "
        "or convert it with ffmpeg -i <file> <file>.flac)"
    )


def _head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(64)


def _name(source: str | bytes) -> str:
    return "<bytes>" if isinstance(source, bytes) else source


def decode_failures() -> list[str]:
    """The decode errors that ``on_decode_error="none"`` turned into ``None`` in this process, in order."""
    return list(_DECODE_FAILURES)


def count_failure(error: AudioDecodeError) -> bool:
    """Count a failure turned into ``None``; ``True`` for the first one in this process (to be warned)."""
    _DECODE_FAILURES.append(str(error))
    return len(_DECODE_FAILURES) == 1


_DECODE_FAILURES: list[str] = []
