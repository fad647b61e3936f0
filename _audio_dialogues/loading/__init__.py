"""The ``datasets`` wing: the builder, its options and its features (the only wing that needs ``datasets``
to work; the outputs and the evaluation protocol load through it).

- :mod:`.options`   the config class (the load options and their table: :mod:`..core.load_options`);
- :mod:`.builder`   the ``datasets`` builder; :mod:`.load` its ``load_dataset``;
- :mod:`.features`  the columns, and the ``Audio`` feature that decodes with :mod:`..core.decoding`;
- :mod:`.training`  a padding collate function for a PyTorch ``DataLoader`` (torch optional).
"""
