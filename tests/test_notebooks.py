"""The walkthrough notebook runs headless, top to bottom, without a cell error."""

from pathlib import Path

import nbclient
import nbformat

from tests.conftest import REAL_DATA, requires_real_data

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@requires_real_data
def test_walkthrough_executes_with_few_epochs(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_EPOCHS", "20")
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_TRIALS", "2")
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("TFSIGNS_DATA", str(REAL_DATA))
    notebook = nbformat.read(NOTEBOOKS / "TensorFlow_Tutorial.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in notebook.cells), "stored without outputs"
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "\n".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "w after 1000 steps: 4.9999" in text and "Test Accuracy:" in text and "best trial:" in text
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert {p.name for p in tmp_path.glob("*.png")} >= {"samples.png", "batch_norm_curves.png", "search.png",
                                                        "confusion.png"}
