"""JWT signing key for game-client tokens.

Production passes ``JWT_PRIVATE_KEY`` (PEM) in the environment. Embedded mode and tests create
a key on first start under ``var/`` (git-ignored, mode 0600) so a fresh clone needs no set-up.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def load_or_create_private_key(path: Path) -> str:
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()
    # Write atomically so two processes starting together never read half a key.
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    if path.exists():  # another process won the race: use its key
        tmp.unlink()
        return path.read_text()
    tmp.replace(path)
    return pem
