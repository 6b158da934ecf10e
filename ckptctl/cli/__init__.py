"""The command-line interface: one small module per command, rendering in ``render``."""
