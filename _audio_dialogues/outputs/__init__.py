"""What a loaded release becomes: chat formats for training (:mod:`.convert`), lhotse cuts
(:mod:`.lhotse_interop`), script-free Parquet for the Hub (:mod:`.export`) and its card (:mod:`.card`).
"""
