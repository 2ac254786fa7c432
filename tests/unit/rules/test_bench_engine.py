"""`bench.engine` (the engine-alone benchmark): a tiny run gives the same members plain and
dictionary-encoded, and `--write` replaces only its own section of docs/benchmarks.md."""

from __future__ import annotations

from bench import engine


def test_a_small_run_measures_every_segment_and_counts_members():
    result = engine.run(True, contacts=3_000, repeat=1, batch_size=1_000)
    assert result["contacts"] == 3_000 and result["batches"] == 3 and result["segments"] == 20
    assert set(result["per_segment_s"]) == set(result["member_counts"])
    assert all(0 <= count <= 3_000 for count in result["member_counts"].values())
    assert sum(result["member_counts"].values()) > 0
    assert result["engine_s"] > 0 and result["floor_s"] > 0 and result["dictionary_columns"]


def test_write_replaces_only_the_vectorised_engine_section(tmp_path):
    result = engine.run(True, contacts=1_000, repeat=1)
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n\n## Vectorised engine\n\nold figures\n\n## Imports\n\nkept\n"
                   "<!-- bench:begin (generated) -->\ngenerated\n<!-- bench:end -->\n")
    engine.write(result, doc)
    text = doc.read_text()
    assert "old figures" not in text and text.count("## Vectorised engine") == 1
    assert "intro" in text and "## Imports\n\nkept" in text and "generated" in text
    assert "| engine: `evaluate_segments`, 20 segments, one pass |" in text
    fresh = tmp_path / "new.md"
    engine.write(result, fresh)
    assert fresh.read_text().startswith("# Benchmarks\n\n## Vectorised engine")
