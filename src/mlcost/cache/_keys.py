"""Stable keys: a SHA-256 of a canonical encoding of the model identity and the input.

"Stable" means: the same across processes, machines and Python runs (no ``hash()``, whose
string seeds change per process), and insensitive to dict ordering. Floats are encoded by
``repr`` (shortest round-trip form), so ``0.1`` and ``0.1000000000000000055`` are one key and
``1`` and ``1.0`` are two (an int and a float can change a model's output).

    >>> stable_hash({"b": 1, "a": [1.5, "x"]}) == stable_hash({"a": [1.5, "x"], "b": 1})
    True
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from mlcost.errors import InvalidInput

__all__ = ["ModelIdentity", "content_hash", "stable_hash"]


def _encode(value: Any, out: list[bytes]) -> None:
    # One tag byte per type so that "1", 1, 1.0 and True never collide.
    if value is None:
        out.append(b"N")
    elif isinstance(value, bool):
        out.append(b"T" if value else b"F")
    elif isinstance(value, int):
        text = str(value).encode()
        out.append(b"i" + struct.pack(">I", len(text)) + text)
    elif isinstance(value, float):
        text = repr(value).encode()
        out.append(b"f" + struct.pack(">I", len(text)) + text)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        out.append(b"s" + struct.pack(">Q", len(data)) + data)
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        out.append(b"b" + struct.pack(">Q", len(data)) + data)
    elif isinstance(value, Mapping):
        items = sorted(((stable_hash(k), v) for k, v in value.items()), key=lambda kv: kv[0])
        out.append(b"m" + struct.pack(">Q", len(items)))
        for key_hash, v in items:
            out.append(key_hash.encode())
            _encode(v, out)
    elif isinstance(value, list | tuple):
        out.append(b"l" + struct.pack(">Q", len(value)))
        for v in value:
            _encode(v, out)
    elif isinstance(value, set | frozenset):
        members = sorted(stable_hash(v) for v in value)
        out.append(b"S" + struct.pack(">Q", len(members)) + "".join(members).encode())
    elif is_dataclass(value) and not isinstance(value, type):
        out.append(b"d" + type(value).__qualname__.encode())
        _encode({f.name: getattr(value, f.name) for f in fields(value)}, out)
    elif hasattr(value, "__array__") and hasattr(value, "dtype") and hasattr(value, "shape"):
        # numpy arrays and tensors that export one: dtype, shape and raw bytes.
        import numpy as np

        arr = np.ascontiguousarray(np.asarray(value))
        out.append(b"a" + str(arr.dtype).encode() + repr(arr.shape).encode())
        _encode(arr.tobytes(), out)
    else:
        raise InvalidInput(
            f"cannot build a stable cache key from a {type(value).__name__}",
            fix="pass builtins, dataclasses or numpy arrays, or give key=... to the cache "
            "(a function of the input that returns one of those)",
        )


def stable_hash(value: Any) -> str:
    """Hex SHA-256 of a canonical encoding of ``value`` (builtins, dataclasses, arrays)."""
    out: list[bytes] = []
    _encode(value, out)
    return hashlib.sha256(b"".join(out)).hexdigest()


def content_hash(data: bytes | str) -> str:
    """Hex SHA-256 of raw content (a document, an image file's bytes)."""
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


class ModelIdentity:
    """What makes a model's outputs what they are: name, version, and output-changing params.

    Parameters that do not change outputs (batch size, device, number of threads) stay out,
    so that changing them keeps the cache warm.

        >>> a = ModelIdentity("sentiment", "2024-06-01", temperature=0.0)
        >>> a.fingerprint == ModelIdentity("sentiment", "2024-06-01", temperature=0.0).fingerprint
        True
        >>> a.fingerprint == ModelIdentity("sentiment", "2024-07-01", temperature=0.0).fingerprint
        False
    """

    __slots__ = ("fingerprint", "name", "params", "version")

    def __init__(self, name: str, version: str = "", **params: Any) -> None:
        if not name:
            raise InvalidInput(
                "a model identity needs a name", fix="ModelIdentity('my-model', ...)"
            )
        self.name = name
        self.version = version
        self.params = dict(params)
        self.fingerprint = stable_hash(["model", name, version, self.params])

    def __repr__(self) -> str:
        return f"ModelIdentity({self.name!r}, {self.version!r}, **{self.params!r})"
