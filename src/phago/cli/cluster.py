"""``phago cluster status``: what a Ray cluster offers phago."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

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
    from phago.distributed.backends.ray import check_reachable, init_ray
    from phago.errors import DistributedError

    started = False
    if not ray.is_initialized():
        try:
            check_reachable(address)  # (its error says how to start a cluster)
        except DistributedError as exc:
            raise click.ClickException(str(exc)) from exc
        try:
            init_ray(ray, address, address=address, include_dashboard=False, log_to_driver=False)
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
        data = {
            "address": address,
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
    t = Table(title=f"Ray cluster at {address}", show_header=False)
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
                row["colony"],
                str(row["shard"]),
                str(row["generation"]),
                *(
                    ("busy", "", "")
                    if not row["answered"]
                    else (str(row["tick"]), str(row["pid"]), f"{row['rss_mib']:.0f}")
                ),
            )
        out.print(a)
