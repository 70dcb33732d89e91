"""The walkthrough notebook runs headless, top to bottom, without a cell error."""

from pathlib import Path

import nbclient
import nbformat

from tests.conftest import REAL_DATA, requires_hands, snapshot

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@requires_hands  # the SIGNS data and MediaPipe's hand models
def test_walkthrough_executes_with_few_epochs(tmp_path, monkeypatch):
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_EPOCHS", "10")
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_TRIALS", "2")
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_SHIFTED", "12")  # the hand model on 12 x 47 photos, not 120 x 47
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_OUT", str(tmp_path))
    # the user's reader: a `make reader` interrupted before it finished, which the notebook must leave alone
    users = tmp_path / "reader"
    (users / "checkpoints").mkdir(parents=True)
    (users / "config.json").write_text("{}")
    (users / "checkpoints" / "checkpoint").write_text('model_checkpoint_path: "model-10"\n')
    before = snapshot(users)
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_READER", str(users))
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_OWN_READER", str(tmp_path / "own"))  # trained by the notebook,
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_READER_EPOCHS", "3")  # briefly: what it reads is not checked here
    others = REAL_DATA.parent / "otherhands"  # other people's hands, beside the data when the mirror has them
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_OTHERHANDS", str(others))
    digits = REAL_DATA.parent / "digits"  # other people's 6-9: the signs section 12 teaches and meets unknown
    monkeypatch.setenv("TFSIGNS_NOTEBOOK_DIGITS", str(digits))
    monkeypatch.setenv("TFSIGNS_DATA", str(REAL_DATA))
    notebook = nbformat.read(NOTEBOOKS / "TensorFlow_Tutorial.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in notebook.cells), "stored without outputs"
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    text = "\n".join(output.get("text", "") for cell in notebook.cells for output in cell.get("outputs", []))
    assert "w after 1000 steps: 4.9999" in text and "Test Accuracy:" in text and "best trial:" in text
    assert not [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert {p.name for p in tmp_path.glob("*.png")} >= {"samples.png", "batch_norm_curves.png", "search.png",
                                                        "confusion.png", "cnn_vs_mlp.png",
                                                        "first_layer_filters.png", "shifts.png",
                                                        "landmarks.png", "reading.png", "reading_no_hand.png"}
    # the CNN section: its parameter count, and 10 epochs of cnn_model with the cost every 5
    assert "course CNN: 1,286 parameters" in text and "the CNN has 1/239 of the MLP's parameters" in text
    (cnn_training,) = [c for c in notebook.cells if c.cell_type == "code" and "cnn_model(" in c.source]
    cnn_text = "".join(output.get("text", "") for output in cnn_training.outputs)
    assert "Cost after epoch 5:" in cnn_text and "Test Accuracy:" in cnn_text and "10 epochs in" in cnn_text
    # the real-photo sections: the reader trained as make reader does, scored under every shift beside the
    # two MLPs, and a phone's JPEG of a test photo read through the photo path
    assert "the reader in" in text and "3 epochs, test accuracy" in text
    for shift in ("darker", "mirror", "phone framing"):
        assert f"\n{shift:<14}" in text
    assert "IMG_0007.jpg: 832x624 pixels, EXIF orientation" in text
    # the landmark reader says no hand where there is none, never a sign
    assert "a room with no hand in it: no hand" in text
    # other people's hands: the three networks' accuracy and a confusion matrix, then a calibration on 5
    # photos per sign measured on the rest; or, without the photos, the section says so
    if (others / "0").is_dir():
        assert "\nother people's hands, " in text and " photos: sign reader " in text
        assert "course MLP" in text and "; the reader saw no hand in " in text
        assert (tmp_path / "otherhands_confusion.png").is_file()
        assert "not tuned on" in text and "\nthe reader  " in text and "\ncalibrated on 30  " in text
    else:
        assert f"no photos of other people's hands in {others}" in text
    # a sign it does not know, and teaching it one: other students' 6-9 before and after it learns 6
    if (digits / "6").is_dir():
        assert "taught the sign 6 from 10 photos in " in text and "after: read as 6" in text
        assert "\n6, " in text and "\n9, " in text
    else:
        assert f"no photos of 6-9 in {digits}" in text
    assert (tmp_path / "own" / "metrics.json").is_file() and snapshot(users) == before
    assert "the run has not finished" in text and f"leaves {users} as it is" in text
