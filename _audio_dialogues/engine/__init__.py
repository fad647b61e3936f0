"""The run engine the long commands share (download, generate, the evaluation protocol, convert):
the output folder's lock and the append-only ledger that makes a run resumable.
"""
