"""Ingestion of real files: formats, duplicates, bad input, huge files."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from store_helpers import write

import phago.ingest as ingest_mod
from phago import Colony, ColonyConfig
from phago.errors import DocumentError, EmptyDocument, InvalidPosition
from phago.ingest import (
    discover,
    ingest_paths,
    inspect_file,
    read_parts,
    split_text,
    text_chunks,
)

TEXT = "Ribosomes translate messenger RNA into protein chains inside the cell."


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose page shows ``text`` in Helvetica (offsets computed)."""
    stream = f"BT /F1 12 Tf 72 712 Td ({text}) Tj ET".encode()
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_doctests() -> None:
    r = doctest.testmod(ingest_mod)
    assert r.attempted > 0 and r.failed == 0


def test_every_supported_format(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", TEXT)
    write(tmp_path / "sub" / "b.md", "# Genes\n\nGenes encode proteins through transcription.")
    write(tmp_path / "sub" / "deeper" / "c.rst", "Mitosis\n=======\n\nCells divide by mitosis.")
    write(
        tmp_path / "d.html",
        "<html><head><title>Immune cells</title><style>p{color:red}</style>"
        "<script>var antibodyScript = 1;</script></head><body><h1>Lymphocytes</h1>"
        "<p>Antibodies &amp; antigens bind.</p><noscript>enable javascript</noscript>"
        "</body></html>",
    )
    write(tmp_path / "e.pdf", minimal_pdf("Photosynthesis converts sunlight into sugar"))
    c = Colony()
    report, sources = ingest_paths(c, [tmp_path])
    assert report.skipped == [] and report.documents_added == 5
    docs = {d.title: d.content for d in c.documents()}
    assert docs["a"] == TEXT
    assert "Genes encode proteins" in docs["Genes"]  # (a Markdown file's first heading)
    assert "Cells divide by mitosis" in docs["Mitosis"]  # (an underlined first line)
    html = docs["Immune cells"]
    assert "Antibodies & antigens bind." in html and "Lymphocytes" in html
    assert "antibodyScript" not in html and "color" not in html and "javascript" not in html
    assert "Photosynthesis converts sunlight into sugar" in docs["e"]
    assert {Path(s.path).name for s in sources} == {"a.txt", "b.md", "c.rst", "d.html", "e.pdf"}


def test_duplicates_by_content_and_idempotence(tmp_path: Path) -> None:
    write(tmp_path / "one.txt", TEXT)
    write(tmp_path / "copy" / "same-text-other-name.md", TEXT + "\n\n")
    c = Colony()
    known: set[str] = set()
    r1, _ = ingest_paths(c, [tmp_path], known_hashes=known)
    assert r1.documents_added == 1 and len(r1.duplicates) == 1
    before = c.stats()
    r2, src2 = ingest_paths(c, [tmp_path], known_hashes=known)
    assert r2.documents_added == 0 and len(r2.duplicates) == 2 and src2 == []
    assert c.stats() == before


@pytest.mark.parametrize(
    ("name", "data", "error", "message"),
    [
        ("empty.txt", b"", EmptyDocument, "empty file"),
        ("blank.md", b"  \n\t\n   \n", EmptyDocument, "only whitespace"),
        ("nul.txt", b"text\x00more", DocumentError, "binary file"),
        ("latin1.rst", "caf\xe9 cr\xe8me".encode("latin-1"), DocumentError, "not valid utf-8"),
        ("utf16.txt", "hello".encode("utf-16-le"), DocumentError, "binary file"),  # no BOM
        (
            "scripts.html",
            b"<script>var x = 1;</script><style>p{}</style>",
            EmptyDocument,
            "no text",
        ),
        ("broken.pdf", b"%PDF-1.4\nthis is not really a pdf", DocumentError, "cannot read the PDF"),
    ],
)
def test_bad_files_are_reported_and_skipped(
    tmp_path: Path, name: str, data: bytes, error: type[Exception], message: str
) -> None:
    bad = write(tmp_path / name, data)
    good = write(tmp_path / "good.txt", TEXT)
    with pytest.raises(error, match=message) as info:
        inspect_file(bad)
    assert str(bad) in str(info.value)  # every error names the file
    c = Colony()
    c.ingest_document("kept", "an earlier document about membranes")
    report, _ = ingest_paths(c, [tmp_path])
    assert [s.path for s in report.skipped] == [str(bad)]
    assert message in report.skipped[0].reason and str(bad) in report.skipped[0].reason
    assert [a.path for a in report.added] == [str(good.resolve())]
    assert [d.title for d in c.documents()] == ["kept", "good"]  # nothing stored was lost


def test_unsupported_missing_and_unreadable(tmp_path: Path) -> None:
    img = write(tmp_path / "photo.jpg", b"\xff\xd8\xff")
    files, skipped = discover([tmp_path, img, tmp_path / "gone.txt"])
    assert files == []
    reasons = [s.reason for s in skipped]
    assert any("unsupported file type '.jpg'" in r for r in reasons)
    assert any("gone.txt: no such file" in r for r in reasons)
    with pytest.raises(DocumentError, match="unknown text encoding"):
        list(text_chunks(write(tmp_path / "x.txt", "x"), encoding="no-such-codec"))


def test_other_encodings(tmp_path: Path) -> None:
    p = write(tmp_path / "latin.txt", "café crème brûlée".encode("latin-1"))
    assert "".join(text_chunks(p, encoding="latin-1")) == "café crème brûlée"
    bom = write(tmp_path / "bom.txt", "\ufeffmembrane".encode())
    assert "".join(text_chunks(bom)) == "membrane"


def test_split_text_limits_and_boundaries() -> None:
    paras = [f"Paragraph {i} " + "word " * (i % 7 + 3) for i in range(200)]
    text = "\n\n".join(paras)
    chunks = [text[i : i + 37] for i in range(0, len(text), 37)]  # arbitrary chunking
    parts = list(split_text(chunks, 120))
    assert all(0 < len(p) <= 120 for p in parts)
    assert all(p.startswith("Paragraph") for p in parts)  # cut on paragraph breaks
    assert " ".join(" ".join(p.split()) for p in parts) == " ".join(text.split())
    hard = list(split_text(["x" * 1000], 300))
    assert [len(p) for p in hard] == [300, 300, 300, 100]


def test_huge_file_is_streamed_and_split(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file far larger than one read and than max_chars: read in chunks, split into parts."""
    para = "Glaciers carve valleys while meltwater feeds rivers and lakes downstream. "
    text = "\n\n".join(f"{i}: " + para * 3 for i in range(3000))  # ~700 kB
    p = write(tmp_path / "huge.txt", text)
    reads: list[int] = []
    real_open = open

    class Spy:
        def __init__(self, fh: object) -> None:
            self._fh = fh

        def read(self, n: int = -1) -> bytes:
            assert n > 0, "the file must never be read whole"
            data = self._fh.read(n)  # type: ignore[attr-defined]
            reads.append(len(data))
            return data  # type: ignore[no-any-return]

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *a: object) -> None:
            self._fh.close()  # type: ignore[attr-defined]

    def spy_open(path: object, mode: str = "r", *a: object, **k: object) -> object:
        fh = real_open(path, mode, *a, **k)  # type: ignore[call-overload]
        return Spy(fh) if "b" in mode and str(path) == str(p) else fh

    monkeypatch.setattr(ingest_mod, "READ_CHUNK", 64 * 1024)
    monkeypatch.setattr("builtins.open", spy_open)
    info = inspect_file(p, max_chars=20_000)
    assert max(reads) <= 64 * 1024 and len(reads) > 10
    parts = list(read_parts(p, max_chars=20_000))
    assert info.parts == len(parts) > 30 and all(len(x) <= 20_000 for x in parts)
    monkeypatch.undo()
    c = Colony(ColonyConfig(max_document_chars=25_000))
    report, sources = ingest_paths(c, [p], max_chars=20_000)
    assert report.documents_added == len(parts)
    assert [s.part for s in sources] == list(range(1, len(parts) + 1))
    titles = [d.title for d in c.documents()]
    assert titles[0] == f"huge (part 1/{len(parts)})"
    words = " ".join(d.content for d in c.documents()).split()
    assert words == text.split()  # nothing lost or reordered, only whitespace at cuts


def test_positions_are_finite_and_laid_out(tmp_path: Path) -> None:
    for i in range(5):
        write(tmp_path / f"{i}.txt", f"document number {i} about topic{i}")
    c = Colony()
    ingest_paths(c, [tmp_path])
    pos = [(d.position.x, d.position.y) for d in c.documents()]
    assert len(set(pos)) == 5
    from phago.errors import InvalidPosition

    with pytest.raises(InvalidPosition):
        c.ingest_document("t", "text", (float("nan"), 0.0))


def test_a_distributed_sink_queues_documents_and_sends_them_in_batches(tmp_path: Path) -> None:
    from phago.distributed import DistributedColony
    from phago.ids import document_id
    from phago.ingest import DistributedSink, digest_new_distributed

    for i in range(7):
        write(tmp_path / f"{i}.txt", f"document number {i} about topic{i} and cells")
    with DistributedColony(2, config=ColonyConfig(max_document_chars=200), seed=0) as dc:
        sink = DistributedSink(dc, batch=3)
        sent: list[int] = []
        report, _ = ingest_paths(
            sink, [tmp_path], on_file=lambda _p, _o: sent.append(sink.flush_when_full())
        )
        assert sent == [0, 0, 3, 0, 0, 3, 0] and sink.pending == 1
        assert len(dc.documents()) == 6  # queued documents are not on a shard yet
        # bad input is refused at once, typed, and queues nothing
        with pytest.raises(EmptyDocument):
            sink.ingest_document("blank", "   ")
        with pytest.raises(DocumentError):
            sink.ingest_document("huge", "cell " * 60)
        assert sink.pending == 1
        ids = report.new_document_ids
        assert len(ids) == 7 and set(ids) >= {
            document_id(d.title, d.content) for d in dc.documents()
        }
        digest_new_distributed(sink, ids, digesters=2)  # flushes first
        assert sink.pending == 0
        assert sorted(d.id for d in dc.documents()) == sorted(ids)
        assert dc.stats().documents_digested == 7
        placed = {d.id: d.position for d in dc.documents()}
        assert placed == {int(k): p for k, p in sink.positions.items()}
        # a with block sends what is queued when it ends, and nothing when it raises
        with pytest.raises(RuntimeError), DistributedSink(dc) as failing:
            failing.ingest_document("lost", "queued then abandoned text")
            raise RuntimeError("stop")
        with DistributedSink(dc) as ok:
            late = ok.ingest_document("late", "queued then sent text")
            # a position of its own (what a rebuild gives each document), checked
            placed_at = ok.ingest_document("placed", "text with a place", (40.5, -3.0))
            with pytest.raises(InvalidPosition):
                ok.ingest_document("nowhere", "text without a place", (float("nan"), 0.0))
        assert {d.id for d in dc.documents()} == {*ids, late, placed_at}
        where = next(d.position for d in dc.documents() if d.id == placed_at)
        assert (where.x, where.y) == (40.5, -3.0)


def test_every_shard_holding_new_documents_gets_a_digester() -> None:
    """Agents never leave their shard: one digester asked for, new documents on both shards,
    and each shard still gets one, so every document is digested."""
    from phago.distributed import DistributedColony
    from phago.ingest import DistributedSink, digest_new_distributed

    with DistributedColony(2, seed=0) as dc, DistributedSink(dc) as sink:
        ids = [sink.ingest_document(f"d{i}", f"cell membrane protein {i} lipid") for i in range(12)]
        sink.flush()
        owners = {int(dc.coordinator.route_document(int(d))) for d in ids}
        assert owners == {0, 1}
        digest_new_distributed(sink, ids, digesters=1, max_ticks=400)
        assert dc.stats().documents_digested == 12
        assert [s["total_spawned"] for s in dc.stats().shards] == [1, 1]
