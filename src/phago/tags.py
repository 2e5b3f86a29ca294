"""Tags on stored documents: the names ``phago ingest --tag`` and a Markdown file's front
matter give, and the time a document was added.

A tag is a word such as ``lab-notes`` or ``project/cells``: no spaces, commas or brackets,
at most :data:`TAG_MAX_CHARS` characters, leading ``#`` dropped (as Obsidian writes them),
and compared without case (stored case-folded, in Unicode's NFKC form). A store keeps each
document's tags and the time it was first added (:class:`phago.store.DocumentInfo`); ``phago
list``, ``phago show`` and ``phago query --documents`` show them, and ``--tag`` keeps to the
documents that carry it.

Example:
    >>> tag_names(["#Lab", "cells", "lab"])
    ('cells', 'lab')
    >>> front_matter_tags("title: Cells\\ntags: [biology, '#Membranes']\\n")
    ('biology', 'membranes')
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable

from phago.errors import ConfigError

__all__ = ["TAG_MAX_CHARS", "front_matter_tags", "tag_name", "tag_names", "utc_now", "utc_stamp"]

TAG_MAX_CHARS = 100
"""The longest tag, in characters."""

_BAD = re.compile(r"[\s,\[\]{}]")


def tag_name(tag: object) -> str:
    """``tag`` as stored: without spaces around it and leading ``#``, case-folded, in
    Unicode's NFKC form (so the same word is one tag however it was typed). Applied to a
    stored tag it gives the tag itself.

    Raises:
        ConfigError: not text, empty, holding a space, a comma or a bracket, or longer than
            :data:`TAG_MAX_CHARS`.

    Example:
        >>> tag_name(" ##Project/Cells "), tag_name("Straße")
        ('project/cells', 'strasse')
        >>> tag_name("two words")
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: a tag is one word (no spaces, commas or brackets), got 'two words'
    """
    if not isinstance(tag, str):
        raise ConfigError(f"a tag is text, got {type(tag).__name__}")
    folded = unicodedata.normalize("NFKC", tag).casefold()
    name = unicodedata.normalize("NFKC", folded).strip().lstrip("#")
    if not name:
        raise ConfigError(f"a tag must not be empty, got {tag!r}")
    if _BAD.search(name):
        raise ConfigError(f"a tag is one word (no spaces, commas or brackets), got {tag.strip()!r}")
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


_TAGS_KEY = re.compile(r"^(?:tags|tag)[ \t]*:(.*)$", re.MULTILINE | re.IGNORECASE)
_COMMENT = re.compile(r"(?:^|[ \t])#.*$")  # (YAML: a # after a space, or starting the line)
_NO_TAGS = frozenset({"null", "~", "true", "false", "{}"})


def front_matter_tags(body: str) -> tuple[str, ...]:
    """The tags a Markdown file's YAML front matter (``body``, between its ``---`` lines)
    names under ``tags:`` (or ``tag:``): a flow list ``[a, b]`` (over several lines too,
    lists in it flattened), words separated by commas or spaces, or a block list of ``- a``
    lines (blank and comment lines between them skipped); comments, quotes and leading
    ``#`` are dropped. ``null``, ``~``, booleans, mappings and block scalars (``|``,
    ``>``) name none, and words that cannot be tags (too long, say) are left out.

    Example:
        >>> front_matter_tags("tags:\\n  - alpha # mine\\n\\n  - '#Beta'\\nauthor: me\\n")
        ('alpha', 'beta')
        >>> front_matter_tags("tags: gamma, delta  # two"), front_matter_tags("tags: null")
        (('delta', 'gamma'), ())
        >>> front_matter_tags("tags: [a,\\n  [b, c]]\\r\\n")
        ('a', 'b', 'c')
    """
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    m = _TAGS_KEY.search(body)
    if m is None:
        return ()
    value = _COMMENT.sub("", m.group(1)).strip()
    rest = body[m.end() :].split("\n")[1:]
    if value.startswith("["):  # a flow list, perhaps over several lines
        text = value
        for line in rest:
            if text.count("[") <= text.count("]"):
                break
            text += " " + _COMMENT.sub("", line)
        words = re.split(r"[,\s]+", text.replace("[", " ").replace("]", " "))
    elif value.lower() in _NO_TAGS or value.startswith(("{", "|", ">", "&", "*", "!")):
        words = []
    elif value:
        words = re.split(r"[,\s]+", value)
    else:  # a block list on the lines after the key
        words = []
        for line in rest:
            item = _COMMENT.sub("", line).rstrip()
            if not item.strip():
                continue  # (blank lines and comments)
            stripped = item.lstrip()
            if not stripped.startswith("-") or (item == stripped and not line.startswith("-")):
                break  # the next key
            words.append(stripped.lstrip("- \t"))
    names = set()
    for w in words:
        w = w.strip().strip("\"'").strip()
        if not w.strip("-"):  # (a stray list dash)
            continue
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


def utc_stamp(text: str) -> str:
    """``text``, a date or a date and time (ISO 8601; a time without a zone is UTC, one with
    an offset is turned to UTC), as a store records times, to compare with them.

    Raises:
        ConfigError: not such a date.

    Example:
        >>> utc_stamp("2026-12-06"), utc_stamp("2026-12-06T19:30+01:00")
        ('2026-12-06T00:00:00Z', '2026-12-06T18:30:00Z')
        >>> utc_stamp("yesterday")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        phago.errors.ConfigError: a time is a date or a date and time such as ...
    """
    from datetime import UTC, datetime

    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError) as exc:
        raise ConfigError(
            "a time is a date or a date and time such as 2026-12-06 or 2026-12-06T18:30, "
            f"got {text!r}"
        ) from exc
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")
