"""Identifiers (router, environment, client ids): one rule everywhere they enter the system.

They end up in HDF5 group names, log lines and JSON, so they are kept to a safe alphabet.
"""

import re

_IDENTIFIER = re.compile(r"[A-Za-z0-9._-]{1,64}")

IDENTIFIER_RULE = "1-64 letters, digits, '.', '_' or '-'"


def is_identifier(value: str) -> bool:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None
