"""Package data: the bundled sample release and its clips (read with importlib.resources)."""
