"""Package data: shipped metadata files and their licences (read with importlib.resources)."""
