"""The command line: one module per command, each with ``main(argv) -> exit status``.

``scripts/<name>.py`` in a checkout runs the same ``main``; ``common`` holds what the commands
share (``--set``, ``--debug``, one ``error:`` line and exit status 2 for a failure).
"""
