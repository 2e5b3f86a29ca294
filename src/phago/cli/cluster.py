"""``phago cluster status``: what a Ray cluster offers phago."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table
from rich.text import Text

from phago.cli.common import echo_json, out


@click.group()
def cluster() -> None:
    """Inspect the Ray cluster phago runs on."""


@cluster.command()
@click.option(
    "--address",
    default="auto",
    show_default=True,
    help="Ray cluster address ('auto' finds a running `ray start --head`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(address: str, as_json: bool) -> None:
    """Show the cluster's nodes, CPUs and memory, and any phago shard actors."""
    from phago.distributed.backends.ray_cluster import list_shard_actors, wants_a_token

    try:
        import ray
    except ImportError as exc:
        raise click.ClickException("Ray is not installed: pip install 'phago[ray]'") from exc
    from phago.distributed.backends.ray import check_reachable, init_ray, resolve_address
    from phago.errors import DistributedError

    # (RAY_ADDRESS stands in for "auto", as in ray.init; the error names it and says so)
    resolved, _ = resolve_address(address)
    started = False
    if not ray.is_initialized():
        try:
            check_reachable(address)  # (its error says how to start a cluster)
        except DistributedError as exc:
            raise click.ClickException(str(exc)) from exc
        joining = resolved or address
        try:
            init_ray(ray, joining, address=address, include_dashboard=False, log_to_driver=False)
        except DistributedError as exc:
            wanted = exc.__cause__ is not None and wants_a_token(exc.__cause__)
            hint = "" if wanted else "; to start a cluster: `ray start --head`"
            raise click.ClickException(f"{exc}{hint}") from exc
        started = True
    try:
        nodes = [n for n in ray.nodes() if n.get("Alive")]  # type: ignore[no-untyped-call]
        total: dict[str, Any] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        free: dict[str, Any] = ray.available_resources()  # type: ignore[no-untyped-call]
        actors = list_shard_actors(ray)
        joined = _joined_address(ray, resolved or address)
        data = {
            "address": address,
            "joined": joined,
            "nodes": len(nodes),
            "cpus": total.get("CPU", 0),
            "cpus_free": free.get("CPU", 0),
            "memory_gib": round(total.get("memory", 0) / 2**30, 2),
            "shard_actors": actors,
        }
    finally:
        if started:
            ray.shutdown()
    if as_json:
        echo_json(data)
        return
    t = Table(title=Text(f"Ray cluster at {joined}"), show_header=False)
    for k in ("nodes", "cpus", "cpus_free", "memory_gib"):
        t.add_row(k, str(data[k]))
    t.add_row("phago shard actors", str(len(actors)))
    out.print(t)
    if actors:
        a = Table(title="phago shard actors")
        for col in ("colony", "shard", "generation", "tick", "pid", "peak RSS MiB"):
            a.add_column(col)
        for row in actors:
            a.add_row(
                Text(str(row["colony"])),
                str(row["shard"]),
                str(row["generation"]),
                *(
                    ("busy", "", "")
                    if not row["answered"]
                    else (str(row["tick"]), str(row["pid"]), f"{row['rss_mib']:.0f}")
                ),
            )
        out.print(a)


def _joined_address(ray: Any, fallback: str) -> str:
    """The address of the control store of the cluster Ray joined (``host:port``), or
    ``fallback`` where Ray does not say (a Ray Client connection, say)."""
    try:
        gcs = ray.get_runtime_context().gcs_address
    except Exception:  # (not knowable here)
        return fallback
    return str(gcs) if gcs else fallback
