"""Stable 64-bit identifiers.

One hash serves every identifier and the consistent hash ring: the first 8 bytes of
BLAKE2b (digest size 8) read as an unsigned big-endian integer. It is stable across runs,
processes, machines and Python versions, unlike Python's ``hash``.

* A concept's :data:`NodeId` is the hash of ``node:<type>:<normalised label>``.
* A :data:`DocumentId` is the hash of ``doc:<len(title)>:<title><content>`` unless the
  caller supplies one, so ingesting the same document twice gives the same id.
* An :data:`AgentId` is the hash of ``agent:<colony seed>:<spawn index>``.

Example:
    >>> from phago.ids import node_id, normalise_label
    >>> node_id("concept", "Cell") == node_id("concept", " cell ")
    True
    >>> normalise_label("  Ribosome ")
    'ribosome'
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence
from typing import NewType

import numpy as np
import numpy.typing as npt

from phago.errors import GraphError

__all__ = [
    "AgentId",
    "DocumentId",
    "NodeId",
    "agent_id",
    "document_id",
    "document_ids",
    "node_id",
    "normalise_label",
    "stable_hash64",
]

NodeId = NewType("NodeId", int)
DocumentId = NewType("DocumentId", int)
AgentId = NewType("AgentId", int)

_MASK64 = (1 << 64) - 1


def stable_hash64(data: bytes | str) -> int:
    """Return the documented stable 64-bit hash of ``data``.

    Args:
        data: bytes, or a string hashed as its UTF-8 encoding.

    Returns:
        An integer in ``[0, 2**64)``.

    Example:
        >>> stable_hash64("phago") == stable_hash64(b"phago")
        True
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def normalise_label(label: str) -> str:
    """Normalise a label for identity: NFC, stripped, lowercase.

    Example:
        >>> normalise_label("CafÉ ")
        'café'

    Raises:
        GraphError: ``label`` is not text.
    """
    if not isinstance(label, str):
        raise GraphError(f"a label must be text, got {type(label).__name__}")
    return unicodedata.normalize("NFC", label).strip().lower()


def node_id(node_type: str, label: str) -> NodeId:
    """Stable id of the node of ``node_type`` (e.g. ``"concept"``) with this label.

    Example:
        >>> node_id("concept", "dna") != node_id("insight", "dna")
        True
    """
    return NodeId(stable_hash64(f"node:{node_type.lower()}:{normalise_label(label)}"))


def document_id(title: str, content: str) -> DocumentId:
    """Stable id of a document from its title and content.

    Example:
        >>> document_id("a", "bc") != document_id("ab", "c")
        True
    """
    return DocumentId(stable_hash64(_document_key(title, content)))


def _document_key(title: str, content: str) -> str:
    """What a document's id hashes: its title's length, the title and the content."""
    return f"doc:{len(title)}:{title}{content}"


def document_ids(titles: Sequence[str], contents: Sequence[str]) -> npt.NDArray[np.uint64]:
    """:func:`phago.ids.document_id` of each ``(title, content)``, as a uint64 array.

    The same BLAKE2b-64 of the same bytes, with the digests gathered into one buffer and read
    as big-endian words in one step rather than turned into an integer one by one.

    Example:
        >>> document_ids(["a"], ["bc"]).tolist() == [document_id("a", "bc")]
        True
    """
    blake2b = hashlib.blake2b
    digests = b"".join(
        [
            blake2b(_document_key(t, c).encode(), digest_size=8).digest()
            for t, c in zip(titles, contents, strict=True)
        ]
    )
    return np.frombuffer(digests, dtype=">u8").astype(np.uint64)


def agent_id(colony_seed: int, spawn_index: int) -> AgentId:
    """Stable id of the ``spawn_index``-th agent spawned in a colony seeded ``colony_seed``.

    Example:
        >>> agent_id(0, 1) == agent_id(0, 1)
        True
    """
    return AgentId(stable_hash64(f"agent:{colony_seed & _MASK64}:{spawn_index}"))
