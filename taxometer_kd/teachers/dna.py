"""DNA as small integers: the encoding the DNA-reading teachers share."""

from __future__ import annotations

import numpy as np

_ONEHOT_TABLE = np.full(256, 4, dtype=np.uint8)
for _i, _c in enumerate(b"ACGT"):
    _ONEHOT_TABLE[_c] = _i
    _ONEHOT_TABLE[ord(chr(_c).lower())] = _i


def encode_dna(seq: bytes) -> np.ndarray:
    """DNA bytes -> uint8 codes A=0 C=1 G=2 T=3, anything else 4."""
    return _ONEHOT_TABLE[np.frombuffer(bytes(seq), dtype=np.uint8)]
