"""Helpers the datasets share: file checks and the no-download policy."""
from __future__ import annotations

import hashlib
import os


def calculate_md5(fpath: str, chunk_size: int = 1024 * 1024) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    with open(fpath, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
    return md5.hexdigest()


def check_integrity(fpath: str, md5: str | None = None) -> bool:
    """The file exists and, when `md5` is given, has that checksum."""
    if not os.path.isfile(fpath):
        return False
    return md5 is None or calculate_md5(fpath) == md5


def no_download(dataset: str, folder: str, files: list[str]) -> RuntimeError:
    """The error download=True raises when the files are not there: ember never uses
    the network, so it says what to put where instead."""
    listing = "\n".join(f"  {os.path.join(folder, name)}" for name in files)
    return RuntimeError(f"{dataset}: download=True was given but ember does not download "
                        f"datasets (no network is used). Place these files yourself, then "
                        f"run again:\n{listing}")
