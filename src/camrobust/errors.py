"""Errors that name what to fix: the config key, the file, the setting."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value that cannot be run, with the key it came from."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key '{key}': {message}")
        self.key = key
