"""The local backend: shards are in-process objects whose phases run in worker threads.

The handle itself lives in :mod:`phago.distributed.runner` (:class:`LocalShardHandle`), which
the runner wraps around plain :class:`~phago.distributed.ShardedColony` objects.

Example:
    >>> from phago.distributed.backends.local import LocalShardHandle
    >>> LocalShardHandle.__name__
    'LocalShardHandle'
"""

from phago.distributed.runner import LocalShardHandle

__all__ = ["LocalShardHandle"]
