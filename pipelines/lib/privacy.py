"""The key of the user hashes: which key made a warehouse's hashes, and what a reader must be told about it.

End-user ids are stored only as HMAC-SHA256 hashes under a secret key (`GATEWAYLENS_HASH_KEY`). Without one,
the development key, which is public, is used: its hashes can be reversed by anyone who hashes a list of
candidate ids (a few hundred thousand per second), so they protect nothing. Every ingest records in the
warehouse (`_hash_keys.json`) the id of each key it used (an HMAC of a fixed text, which does not reveal the
key), so the report can say when the hashes are not protected, or when they come from several keys (and one
user counts as several).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.lib.storage import Warehouse

DEV_HASH_KEY = "gatewaylens-development-key-not-secret"
KEYS_FILE = "_hash_keys.json"
UNPROTECTED = (
    "GATEWAYLENS_HASH_KEY is not set: user ids are hashed with the public development key, so anyone can "
    "reverse the stored user hashes by hashing candidate ids. Set GATEWAYLENS_HASH_KEY to a secret."
)


def key_id(key: bytes) -> str:
    """A short public name of the key (an HMAC of a fixed text): tells keys apart without revealing them."""
    return hmac.new(key, b"gatewaylens/hash-key-id", hashlib.sha256).hexdigest()[:16]


DEV_KEY_ID = key_id(DEV_HASH_KEY.encode())


def is_development(key: bytes) -> bool:
    return hmac.compare_digest(key, DEV_HASH_KEY.encode())


def keys_used(warehouse: Warehouse) -> dict[str, dict[str, Any]]:
    """The keys that made the warehouse's user hashes, by key id (empty for a warehouse without the file)."""
    try:
        with warehouse.fs.open(warehouse.path(KEYS_FILE), "r") as handle:
            return dict(json.load(handle))
    except FileNotFoundError:
        return {}


def record_keys(warehouse: Warehouse, ids: set[str]) -> None:
    """Add key ids an ingest used to `_hash_keys.json` (the caller holds the warehouse for writing)."""
    if not ids:
        return
    known = keys_used(warehouse)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for kid in sorted(ids):
        entry = known.setdefault(kid, {"first_used": now, "development": kid == DEV_KEY_ID})
        entry["last_used"] = now
    with warehouse.atomic_write(warehouse.path(KEYS_FILE)) as local:
        Path(local).write_text(json.dumps(known, indent=2, sort_keys=True))


def key_changed(warehouse: Warehouse, key: bytes) -> str | None:
    """The warning for an ingest under `key` into a warehouse whose user hashes other keys made (None when the key
    made them, or when none did): the same user hashed under two keys counts as two users from now on."""
    known = keys_used(warehouse)
    if not known or key_id(key) in known:
        return None
    ids = ", ".join(sorted(known))
    return (
        f"GATEWAYLENS_HASH_KEY is not the key that hashed this warehouse's user ids (this key's id {key_id(key)}; "
        f"the warehouse's: {ids}, in {KEYS_FILE}): a user already stored counts as another user from now on. "
        "Set the key used before, or ingest into a new warehouse."
    )


def caveats(warehouse: Warehouse) -> list[str]:
    """What the report must say about the user hashes of this warehouse (nothing when one secret key made them)."""
    known = keys_used(warehouse)
    notes = []
    if any(entry.get("development") for entry in known.values()):
        notes.append(
            "User hashes are not protected: some records were ingested without GATEWAYLENS_HASH_KEY, with the "
            "public development key, so anyone can reverse those user hashes by hashing candidate ids."
        )
    if len(known) > 1:
        notes.append(
            f"User hashes come from {len(known)} different keys: one user hashed under two keys counts as two "
            "users in the per-user figures."
        )
    return notes
