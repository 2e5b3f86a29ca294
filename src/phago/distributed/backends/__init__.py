"""Execution backends: ``local`` (threads in this process) and ``ray`` (one actor per shard)."""
