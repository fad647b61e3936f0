"""The config class of the builder: one subset (``name``) and every load option as a field.

The options, their table and their checks live in :mod:`..core.load_options` (no ``datasets`` there); this
module adds ``datasets.BuilderConfig``, so ``load_dataset(..., sampling_rate=22050)`` sets a field the way
``datasets`` sets any config field.
"""

from __future__ import annotations

from dataclasses import dataclass

import datasets

from ..core.load_options import LoadOptions


@dataclass
class AudioDialoguesConfig(LoadOptions, datasets.BuilderConfig):
    """One subset (``name``) and every option of a load; see :data:`~..core.load_options.OPTIONS`.

    ``data_dir`` and ``data_files`` are ``datasets.BuilderConfig``'s own fields; the others come from
    :class:`~..core.load_options.LoadOptions`, after them, in the same order as always.
    """

    # Set by the builder, not by users: what the rows are built from (release files, audio listing, code).
    rows_fingerprint: str | None = None
