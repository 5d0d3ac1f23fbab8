"""Read the Python 2 pickles of the official CIFAR layout, and nothing else.

A pickle can run any code it names, and a local copy may come from anywhere,
so only the few globals a NumPy array needs are allowed. Keys arrive as str
(`encoding="latin1"`, the way the official files were written) or as bytes
(files rewritten by Python 3); both are returned as str.
"""

from __future__ import annotations

import codecs
import io
import pickle

import numpy as np

_RECONSTRUCT = np.zeros(1).__reduce__()[0]
_ALLOWED = {
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("_codecs", "encode"): codecs.encode,  # bytes pickled by Python 3, protocol 2
}


class _Refused(ValueError):
    """A pickle that names a global a data batch never needs."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED:
            raise _Refused(f"names {module}.{name}, which a data batch never needs")
        return _ALLOWED[module, name]


def load_dict(raw: bytes) -> dict:
    """Unpickle `raw` into a dict with str keys; raise ValueError if it is not one."""
    try:
        data = _Unpickler(io.BytesIO(raw), encoding="latin1").load()
    except _Refused:
        raise
    except Exception as e:  # a damaged pickle fails in many ways
        raise ValueError(f"is not a readable pickle ({type(e).__name__})") from None

    if not isinstance(data, dict):
        raise ValueError(f"holds a {type(data).__name__}, not a dict")
    return {_text(k): v for k, v in data.items()}


def _text(key) -> str:
    return key.decode("latin1") if isinstance(key, bytes) else str(key)
