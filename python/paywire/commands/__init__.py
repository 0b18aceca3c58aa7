"""Sub-commands of `paywire`; each module exposes `register(subparsers)`.

A handler receives the parsed arguments and returns the process exit code.
"""
