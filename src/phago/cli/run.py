"""``phago run``: digest a directory of text files on one colony or a sharded cluster."""

from __future__ import annotations

import math
import os
import shlex
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from phago.cli.common import (
    build_colony,
    console,
    corpus_argument,
    echo_json,
    fitted_table,
    given_corpus,
    load_corpus_directory,
    out,
    progress,
    stats_table,
)
from phago.config import ColonyConfig

if TYPE_CHECKING:
    from phago.colony import Colony
    from phago.corpus import CorpusDocument
    from phago.distributed import DistributedColony, DistributedTickResult


@click.command()
@corpus_argument
@click.option(
    "--corpus",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder of .txt, .md, .rst, .html and .pdf files, read recursively as phago ingest "
    "reads them (default: the bundled sample corpus); empty, binary or undecodable files are "
    "reported and skipped. Also taken as the argument: phago run FOLDER.",
)
@click.option(
    "--digesters",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Digesters in all (shared out over the shards when sharded, at least one each).",
)
@click.option(
    "--ticks",
    default=None,
    type=click.IntRange(min=1),
    help="Run exactly this many ticks (default: until digested).",
)
@click.option(
    "--max-ticks",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help=(
        "Upper bound when running until digested (with several shards, the degree cap's "
        "8 ticks after digesting come on top)."
    ),
)
@click.option(
    "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Random seed."
)
@click.option("--large", is_flag=True, help="Use ColonyConfig.for_large_corpora().")
@click.option(
    "--shards",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Shards (1 runs a single colony).",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Where shards run: threads in this process, or Ray actors.",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster to join: 'auto' (started on this machine), HEAD:6379 or ray://HEAD:10001.",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=None,
    help=(
        "Checkpoint every K ticks (default: none on Ray; with local shards at least 50 ticks"
        " apart, further while checkpoints would cost over 5% of the run)."
    ),
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write each checkpoint here, and one where the run ends, as one set that "
    "replaces the one before only once it is whole on disk (resume with --resume DIR). A run "
    "of one colony asked for "
    "checkpoints runs as one shard, which takes them.",
)
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Go on with the run whose checkpoints are in this directory, from its newest: its "
    "shards, seed, configuration and documents (so no --corpus, --shards, --seed, --large "
    "or --digesters); on its backend unless --backend says.",
)
@click.option(
    "--start-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=120.0,
    show_default=True,
    help="Ray: seconds the shard actors may take to be placed and start (an autoscaler "
    "adding nodes, say) before the run fails naming them.",
)
@click.option(
    "--timeline",
    "timeline_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the colony's counts after every tick (nodes, edges, agents alive, "
    "documents digested, milliseconds) to this file: .csv, .jsonl or .json, or a chart, "
    ".svg or .html.",
)
@click.option("--json", "as_json", is_flag=True, help="Print stats as JSON.")
def run(
    corpus_folder: Path | None,
    corpus: Path | None,
    digesters: int,
    ticks: int | None,
    max_ticks: int,
    seed: int,
    large: bool,
    shards: int,
    backend: str,
    address: str | None,
    checkpoint_every: int | None,
    checkpoint_dir: str | None,
    resume: str | None,
    start_timeout: float,
    timeline_path: Path | None,
    as_json: bool,
) -> None:
    """Digest a corpus into a knowledge graph and print the colony's stats.

    CORPUS (or --corpus) is a folder of notes; without one, the bundled sample corpus.
    With --shards N (or --backend ray) the colony is sharded: documents are routed by a
    consistent hash ring, shards tick in lockstep, and the stats include cross-shard edges
    and one row per shard. With --resume DIR a sharded run goes on from the newest
    checkpoint written to DIR (by --checkpoint-dir), on either backend. With --timeline
    FILE the counts after every tick go to FILE, as a table or a chart (a resumed run's
    include the ticks before it).
    """
    ctx = click.get_current_context()
    corpus = given_corpus(corpus, corpus_folder)
    if timeline_path is not None:
        _check_timeline_path(timeline_path)
    if resume is not None:
        given = [
            f"--{name}"
            for name in ("corpus", "shards", "seed", "large", "digesters")
            if ctx.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE
        ]
        if corpus_folder is not None:
            given.insert(0, "CORPUS")
        if given:
            raise click.UsageError(f"--resume goes on with a run's own {', '.join(given)}")
    elif address is not None and backend != "ray":
        raise click.UsageError("--address joins a Ray cluster: add --backend ray")
    if not math.isfinite(start_timeout):
        raise click.BadParameter("must be a finite number of seconds", param_hint="--start-timeout")
    config = ColonyConfig.for_large_corpora() if large else ColonyConfig()
    docs, skipped = ([], []) if resume else load_corpus_directory(corpus, config)
    sharded = shards > 1 or backend == "ray" or resume is not None
    if not sharded and checkpoint_every is None and checkpoint_dir is None:
        # one colony; asked for checkpoints, it runs as one shard, which takes them
        from phago.errors import PhagoError

        colony: Colony | None = None
        try:
            colony = build_colony(docs, digesters=digesters, seed=seed, config=config)
            ran, seconds = _run_with_progress(colony, ticks, max_ticks)
        except PhagoError as exc:  # a document too wide to wire, say
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
        except KeyboardInterrupt:  # the ticks that completed are the timeline's
            if colony is not None:
                _write_timeline(colony, timeline_path)
            raise
        stats: dict[str, Any] = {**colony.stats().to_dict(), "run_seconds": round(seconds, 3)}
        written = _write_timeline(colony, timeline_path)
        if as_json:
            echo_json({"ticks_run": ran, **stats, "skipped": skipped, **written})
        else:
            out.print(stats_table(stats, title=f"Colony after {ran} ticks"))
        _fail_unwritten(written)
        return
    from dataclasses import replace

    from phago.distributed import DistributedColony, RunnerConfig
    from phago.distributed.runner import DEFAULT_CHECKPOINT_COST_SHARE
    from phago.errors import PhagoError

    # no per-tick lists of cross-shard edges (the stats count the graph's); as without a
    # runner configuration, Ray takes no in-memory checkpoints unless asked, and local
    # shards' checkpoints are spaced by what they cost unless --checkpoint-every says
    if resume is not None and ctx.get_parameter_source("backend") is not (
        click.core.ParameterSource.COMMANDLINE
    ):
        try:
            backend = _checkpoint_backend(resume)
        except PhagoError as exc:  # no checkpoint there, a damaged one
            raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    runner_config = RunnerConfig(cross_shard_edge_lists=False)
    if backend == "ray":
        runner_config = replace(runner_config, checkpoint_every=None)
    elif checkpoint_every is None:
        runner_config = replace(runner_config, checkpoint_cost_share=DEFAULT_CHECKPOINT_COST_SHARE)
    if resume is not None and checkpoint_dir is None:
        checkpoint_dir = resume  # a resumed run goes on checkpointing where it was
    options: dict[str, Any] = {
        "runner_config": runner_config,
        "address": address,
        "checkpoint_every": checkpoint_every,
        "checkpoint_dir": checkpoint_dir,
        "ray_start_timeout_s": start_timeout,
    }
    dc: DistributedColony | None = None
    try:
        if resume is not None:
            dc = DistributedColony.from_checkpoint(resume, backend, **options)
            shards = dc.num_shards
        else:
            dc = DistributedColony(shards, backend, config, seed, **options)
        # what the command to go on with after Ctrl-C keeps of this one's options
        kept = [] if checkpoint_every is None else ["--checkpoint-every", str(checkpoint_every)]
        if backend == "ray":
            kept += ["--backend", "ray"] + ([] if address is None else ["--address", address])
        if timeline_path is not None:  # (a resumed run's timeline holds the earlier ticks)
            kept += ["--timeline", str(timeline_path)]
        ran, recovered, st = _run_sharded(
            docs if resume is None else None, dc, shards, digesters, ticks, max_ticks, kept
        )
    except PhagoError as exc:  # shards not placed, a lost shard without checkpoints, ...
        raise click.ClickException(f"{type(exc).__name__}: {exc}") from exc
    except KeyboardInterrupt:  # (said by _run_sharded)
        if dc is not None:  # the ticks that completed are the timeline's
            _write_timeline(dc, timeline_path)
        raise click.exceptions.Exit(130) from None
    per_shard = st.pop("shards")
    written = _write_timeline(dc, timeline_path)
    if as_json:
        echo_json(
            {
                "ticks_run": ran,
                "backend": backend,
                "recoveries": recovered,
                **st,
                "shards": per_shard,
                "skipped": skipped,
                **written,
            }
        )
        _fail_unwritten(written)
        return
    out.print(stats_table(st, title=f"{shards} shards ({backend}) after {ran} ticks"))
    cols = [
        "shard",
        "documents_total",
        "documents_digested",
        "graph_nodes",
        "nodes_held",
        "graph_edges",
        "cross_shard_edges",
        "agents_alive",
        "status",
    ]
    if per_shard and "busy_s" in per_shard[0]:  # where Ray shards waited for each other
        cols += ["busy_s", "waiting_s"]
    rows = [[str(row.get(c, "")) for c in cols] for row in per_shard]
    out.print(fitted_table("Shards", cols, rows))
    if recovered:
        console.print(f"[yellow]recovered from {recovered} shard failure(s)")
    _fail_unwritten(written)


def _check_timeline_path(path: Path) -> None:
    """Refuse, before the run, a ``--timeline`` file that could not be written after it:
    a name of no timeline format, a phago store, a folder (where a symbolic link leads)
    that does not exist or where no file can be made."""
    import tempfile

    from phago.errors import ConfigError, StoreError
    from phago.export import check_output_path, is_stream_output
    from phago.timeline import timeline_format

    try:
        timeline_format(path)
        check_output_path(path)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), param_hint="--timeline") from exc
    except StoreError as exc:
        raise click.ClickException(f"StoreError: {exc}") from exc
    if is_stream_output(path):  # (a FIFO: written in place)
        return
    folder = Path(os.path.realpath(path)).parent
    if not folder.is_dir():
        raise click.BadParameter(
            f"cannot write {path}: the folder {folder} does not exist", param_hint="--timeline"
        )
    try:  # (the file is written beside itself first, then renamed)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".phago-probe-"):
            pass
    except OSError as exc:
        raise click.BadParameter(
            f"cannot write {path}: no file can be made in {folder} ({exc.strerror or exc})",
            param_hint="--timeline",
        ) from exc


def _write_timeline(colony: Colony | DistributedColony, path: Path | None) -> dict[str, str]:
    """Write the colony's timeline to ``path`` (None: nothing) and say so on stderr;
    returns what ``--json`` adds: the file written, as ``timeline``, or why it was not, as
    ``timeline_error`` (the run's results are printed all the same, and the command then
    fails: :func:`_fail_unwritten`)."""
    if path is None:
        return {}
    from phago.errors import PhagoError
    from phago.timeline import write_timeline

    records = colony.timeline()
    try:
        write_timeline(records, path, title=f"phago run ({len(records)} ticks)")
    except PhagoError as exc:
        said = f"{type(exc).__name__}: {exc}"
        console.print(f"[red]the timeline was not written: {escape(said)}", highlight=False)
        return {"timeline_error": said}
    span = f" (ticks {records[0].tick} to {records[-1].tick})" if records else ""
    console.print(
        f"timeline of {len(records)} ticks{span} written to {path}", highlight=False, markup=False
    )
    return {"timeline": os.path.abspath(path)}


def _fail_unwritten(written: dict[str, str]) -> None:
    """Exit with status 1 where the timeline could not be written (said already)."""
    if "timeline_error" in written:
        raise click.exceptions.Exit(1)


def _checkpoint_backend(directory: str) -> str:
    """The backend that wrote the checkpoint in ``directory`` ("local" if it does not say)."""
    from phago.distributed.checkpoint_files import read_checkpoint_info

    return str(read_checkpoint_info(directory).get("backend", "local"))


def _run_sharded(
    docs: list[CorpusDocument] | None,
    dc: DistributedColony,
    shards: int,
    digesters: int,
    ticks: int | None,
    max_ticks: int,
    kept: Sequence[str] = (),
) -> tuple[int, int, dict[str, Any]]:
    """Digest ``docs`` on the sharded colony ``dc`` (closed afterwards); returns the ticks
    run, the recoveries and the stats (``docs`` None: a resumed run, which has its own).
    ``kept``: the options a run resumed after Ctrl-C would need again."""
    started_at = dc.current_tick
    with dc:
        if docs is not None:
            from phago.corpus import grid_positions

            positions = grid_positions(len(docs))
            dc.ingest_documents(
                [(d.title, d.content, p) for d, p in zip(docs, positions, strict=True)]
            )
            dc.spawn_digesters(max(1, digesters // shards) if shards > 1 else digesters)
        try:
            ran, seconds = _run_with_progress(dc, ticks, max_ticks)
        except KeyboardInterrupt:
            left = [] if ticks is None else ["--ticks", str(ticks - (dc.current_tick - started_at))]
            _say_interrupted(dc, [*left, *kept])
            raise
        if dc.runner.config.checkpoint_dir is not None:
            dc.checkpoint()  # where the run ended, so that --resume goes on from there
        recovered = len(dc.runner.recoveries)
        st = {**dc.stats().to_dict(), "run_seconds": round(seconds, 3)}
        waits = dc.waits()
    if waits is not None and waits.ticks:  # Ray shards ran whole ticks actor to actor
        for row, w in zip(st["shards"], waits.shards, strict=True):
            row["busy_s"] = round(w.busy_s, 3)
            row["waiting_s"] = round(w.before_sense_s + w.before_decay_s, 3)
    return ran, recovered, st


def _say_interrupted(dc: DistributedColony, options: Sequence[str] = ()) -> None:
    """After Ctrl-C stopped a run at a tick boundary: with ``--checkpoint-dir``, write a
    checkpoint there at that tick, so that ``--resume`` goes on from exactly there; say
    where the colony stopped, and the command that goes on with the run (``options``: what
    it keeps of this one's, such as the ticks left), on stderr."""
    directory = dc.runner.config.checkpoint_dir
    tick = dc.current_tick
    if directory is None:
        console.print(f"[yellow]interrupted: stopped at tick {tick}")
        return
    from phago.errors import PhagoError

    try:
        tick = dc.checkpoint()
    except PhagoError as exc:
        why = escape(f"{type(exc).__name__}: {exc}")
        console.print(
            f"[yellow]interrupted at tick {tick}; no checkpoint could be taken there "
            f"({why}); --resume {escape(str(directory))} goes on from the last one"
        )
        return
    again = shlex.join(["phago", "run", "--resume", str(directory), *options])
    console.print(
        f"[yellow]interrupted: stopped at tick {tick}, checkpointed to {escape(str(directory))}; "
        f"go on with: {escape(again)}",
        highlight=False,
        soft_wrap=True,
    )


def _run_with_progress(
    colony: Colony | DistributedColony, ticks: int | None, max_ticks: int
) -> tuple[int, float]:
    """Run exactly ``ticks`` ticks under a bar of ticks, or until digested within
    ``max_ticks`` under a bar of documents digested; returns the ticks run and the seconds
    they took."""
    began = time.perf_counter()
    ran = _ticks_with_progress(colony, ticks, max_ticks)
    return ran, time.perf_counter() - began


def _ticks_with_progress(
    colony: Colony | DistributedColony, ticks: int | None, max_ticks: int
) -> int:
    """:func:`_run_with_progress`'s run; returns the ticks run."""
    from phago.distributed import DistributedColony

    start = colony.current_tick  # (a resumed run starts past 0; the bar counts this run's)
    with progress() as bar:
        if ticks is not None:
            task = bar.add_task("ticks", total=ticks)
        else:
            st = colony.stats()
            task = bar.add_task("digesting", total=st.documents_total)
            bar.update(task, completed=st.documents_digested)

        def show(tick: int, digested: int) -> None:
            bar.update(task, completed=tick - start if ticks is not None else digested)

        if isinstance(colony, DistributedColony):
            # the bar moves after each runner call, whose ticks Ray shards chain (one call
            # a tick, as on_tick takes them, ran a Ray run of short ticks a fifth longer)
            def reached(result: DistributedTickResult) -> None:
                show(result.tick, result.documents_digested())

            if ticks is not None:
                colony.run(ticks, on_progress=reached)
                return ticks
            ran = colony.run_until_digested(max_ticks, on_progress=reached)
            if not colony.has_undigested_work():  # the cap across shards acts ticks later
                ran += colony.settle_degree_cap()
            return ran
        single = colony

        def advance(tick: int) -> None:  # one colony: its counts are at hand
            show(tick, single.stats().documents_digested)

        if ticks is not None:
            single.run(ticks, on_tick=advance)
            return ticks
        return single.run_until_digested(max_ticks, on_tick=advance)
