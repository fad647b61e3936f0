"""The settings record of a resumable run: a resume that would shape the output differently is refused.

A run writes the settings that shape its output (generate's model, prompt, temperature, seed; download's
audio format, output rate and source URL; ...) into a small JSON file beside its ledger. A rerun with
other values for any of them would mix two kinds of output in one folder, so it is refused with one
line naming the setting, both values and the fix. Settings that only pace the run (jobs, retries,
timeouts, backoff, limits) are not recorded: they may change between runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from .files import replace_atomically


class SettingsChangedError(ValueError):
    """A resume asked for other output-shaping settings than the run it continues."""


def check_settings(
    path: str | os.PathLike,
    settings: Mapping[str, Any],
    *,
    what: str,
    fix: str = "",
    names: Mapping[str, str] = {},
    record: bool = True,
) -> None:
    """Refuse a run whose ``settings`` differ from those recorded in ``path``; record them when there are none.

    ``what`` names the output (``"out/music_dialogues"``), ``names`` maps a setting to how the user
    spells it (``{"model": "--model"}``), ``fix`` is the advice appended to the default one.
    """
    path = Path(path)
    settings = json.loads(json.dumps(dict(settings), sort_keys=True, default=str))
    if path.is_file():
        recorded = json.loads(path.read_text(encoding="utf-8"))
        for name in sorted(set(recorded) | set(settings)):
            old, new = recorded.get(name), settings.get(name)
            if old != new:
                spelled = names.get(name, name)
                raise SettingsChangedError(
                    f"{what} was written with {spelled!r}: {old!r}, this run asks for {spelled!r}: {new!r}; "
                    f"rerun {f'with {spelled} {old!r}' if old is not None else f'without {spelled}'} to go on, "
                    f"or {fix or 'write into another folder'} "
                    f"(the settings are recorded in {path})."
                )
        return
    if not record:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_atomically(path, lambda file: file.write(json.dumps(settings, indent=1, sort_keys=True) + "\n"))
