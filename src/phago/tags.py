"""Tags on stored documents: the names ``phago ingest --tag`` and a Markdown file's front
matter give, and the time a document was added.

A tag is a word such as ``lab-notes`` or ``project/cells``: no spaces or commas, at most
:data:`TAG_MAX_CHARS` characters, a leading ``#`` dropped (as Obsidian writes them), and
compared without case (stored in lowercase). A store keeps each document's tags and the
time it was first added (:class:`phago.store.DocumentInfo`); ``phago list``, ``phago
show`` and ``phago query --documents`` show them, and ``--tag`` keeps to the documents
that carry it.

Example:
    >>> tag_names(["#Lab", "cells", "lab"])
    ('cells', 'lab')
    >>> front_matter_tags("title: Cells\\ntags: [biology, '#Membranes']\\n")
    ('biology', 'membranes')
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from phago.errors import ConfigError

__all__ = ["TAG_MAX_CHARS", "front_matter_tags", "tag_name", "tag_names", "utc_now"]

TAG_MAX_CHARS = 100
"""The longest tag, in characters."""

_BAD = re.compile(r"[\s,]")


def tag_name(tag: object) -> str:
    """``tag`` as stored: without spaces around it and a leading ``#``, in lowercase.

    Raises:
        ConfigError: not text, empty, holding a space or a comma, or longer than
            :data:`TAG_MAX_CHARS`.

    Example:
        >>> tag_name(" #Project/Cells ")
        'project/cells'
        >>> tag_name("two words")
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: a tag is one word (no spaces or commas), got 'two words'
    """
    if not isinstance(tag, str):
        raise ConfigError(f"a tag is text, got {type(tag).__name__}")
    name = tag.strip().removeprefix("#").lower()
    if not name:
        raise ConfigError(f"a tag must not be empty, got {tag!r}")
    if _BAD.search(name):
        raise ConfigError(f"a tag is one word (no spaces or commas), got {tag.strip()!r}")
    if len(name) > TAG_MAX_CHARS:
        raise ConfigError(f"a tag has at most {TAG_MAX_CHARS} characters, got {len(name)}")
    return name


def tag_names(tags: Iterable[str]) -> tuple[str, ...]:
    """``tags`` as stored (:func:`tag_name`), sorted, each once.

    Raises:
        ConfigError: a tag :func:`tag_name` refuses, or text given for the collection.

    Example:
        >>> tag_names(["b", "A", "#a"])
        ('a', 'b')
    """
    if isinstance(tags, str):
        raise ConfigError(f"tags are a collection of tags, got the text {tags!r}")
    return tuple(sorted({tag_name(t) for t in tags}))


_TAGS_KEY = re.compile(r"^(?:tags|tag)[ \t]*:[ \t]*(.*?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
_LIST_ITEM = re.compile(r"[ \t]*-[ \t]+(.*?)[ \t]*$")


def front_matter_tags(body: str) -> tuple[str, ...]:
    """The tags a Markdown file's YAML front matter (``body``, between its ``---`` lines)
    names under ``tags:`` (or ``tag:``): a flow list ``[a, b]``, words separated by commas
    or spaces, or a block list of ``- a`` lines; quotes and a leading ``#`` are dropped,
    and words that cannot be tags (too long) are left out.

    Example:
        >>> front_matter_tags("tags:\\n  - alpha\\n  - '#Beta'\\nauthor: me\\n")
        ('alpha', 'beta')
        >>> front_matter_tags("tags: gamma, delta"), front_matter_tags("title: none")
        (('delta', 'gamma'), ())
    """
    m = _TAGS_KEY.search(body)
    if m is None:
        return ()
    value = m.group(1)
    if value:
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]
        words = re.split(r"[,\s]+", value)
    else:  # a block list on the lines after the key
        words = []
        for line in body[m.end() :].lstrip("\r\n").splitlines():
            item = _LIST_ITEM.fullmatch(line)
            if item is None:
                break
            words.append(item.group(1))
    names = set()
    for w in words:
        w = w.strip().strip("\"'").strip()
        try:
            names.add(tag_name(w))
        except ConfigError:
            continue
    return tuple(sorted(names))


def utc_now() -> str:
    """The time now, UTC, to the second, as a store records it.

    Example:
        >>> len(utc_now()), utc_now().endswith("Z")
        (20, True)
    """
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
