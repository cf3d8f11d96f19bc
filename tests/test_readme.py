"""README quotes the catalog's pedal table as the catalog writes it (the catalog is the reference)."""

from pathlib import Path

from experiments.pedal_table import pedal_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_pedal_table_is_the_catalogs():
    text = README.read_text(encoding="utf-8")
    block = text[text.index("<!-- PEDAL TABLE"):text.index("<!-- END PEDAL TABLE -->")]
    assert pedal_table() in block
    assert block.count("| noise_gate *") == 1 and block.count("| compressor |") == 1
