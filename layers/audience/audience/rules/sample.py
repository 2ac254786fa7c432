"""Random buckets for holdouts (`{"sample": {"from": A, "to": B, "seed": S}}`, SPEC §2).

A contact's bucket is a percentage with two decimals taken from a hash of the seed and its id, so it
is the same in every run and in both evaluators, and independent seeds give independent splits.
`int(sha256(...).hexdigest()[:8], 16)` is the first four bytes of the digest read big-endian, which is
what is computed here (no hex round trip).
"""

from __future__ import annotations

from hashlib import sha256

BUCKETS = 10_000  # 0.00 .. 99.99


def bucket_code(seed: str, contact_id: str) -> int:
    """The bucket times 100: an integer in [0, 10000)."""
    digest = sha256(f"{seed}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % BUCKETS


def bucket(seed: str, contact_id: str) -> float:
    """SPEC's ``int(sha256((S + ":" + contact_id).encode()).hexdigest()[:8], 16) % 10000 / 100``."""
    return bucket_code(seed, contact_id) / 100


def in_sample(seed: str, contact_id: str, low: float, high: float) -> bool:
    return low <= bucket(seed, contact_id) < high


def bucket_codes(seed: str, contact_ids: list[str]) -> list[int]:
    """`bucket_code` of many ids, the seed's part of the hash computed once (the vectorised path)."""
    start = sha256(f"{seed}:".encode())
    codes = []
    for contact_id in contact_ids:
        hasher = start.copy()
        hasher.update(contact_id.encode())
        codes.append(int.from_bytes(hasher.digest()[:4], "big") % BUCKETS)
    return codes
