"""The ``audio-dialogues`` command: a thin layer over the library, one function per subcommand."""
