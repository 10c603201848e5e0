"""``d2ca evaluate`` against hand-computed F1, the published rows, t-SNE, FID and push CLIs."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from d2ca.aus import au_name, shared_aus
from d2ca.cli import app
from d2ca.config import D2CAConfig
from d2ca.data.manifest import read_manifest, write_manifest
from d2ca.evaluation import evaluate, predict
from d2ca.evaluation.tables import (
    _published,
    format_table,
    published_ablation,
    published_table,
)
from d2ca.hub import save_pretrained
from d2ca.models import D2CAModel

DISFA_AUS = ("AU01", "AU02", "AU04", "AU06", "AU09", "AU12", "AU25", "AU26")
# rows: AU01, AU02, AU04, AU06 labels; the other DISFA AUs are 0
LABELS = {
    "AU01": [1, 0, 1, -1, 0, 0],
    "AU02": [1, 1, 0, 0, 0, 0],
    "AU04": [0, 0, 0, 0, 1, 0],
    "AU06": [1, 1, 1, 0, -1, 1],
    "AU12": [0, 1, 0, 1, 0, 1],
}


def tiny_config() -> D2CAConfig:
    return D2CAConfig(
        image_size=32,
        enc_widths=(4, 4, 8, 8, 8, 8, 16, 16),
        dec_widths=(16, 8, 8, 8, 4, 4),
        dec_aux_channels=2,
        disc_widths=(4, 8, 8),
        proj_hidden=8,
        proj_dim=4,
    )


def constant_model(positive: set[str]) -> D2CAModel:
    """A model whose classifier says 'present' for ``positive`` AUs and 'absent' otherwise."""
    torch.manual_seed(0)
    model = D2CAModel(tiny_config()).eval()
    with torch.no_grad():
        model.classifier.fc.weight.zero_()
        for i, name in enumerate(model.config.au_names):
            model.classifier.fc.bias[i] = 10.0 if name in positive else -10.0
    return model


@pytest.fixture()
def disfa_data(tmp_path: Path) -> Path:
    folder = tmp_path / "disfa"
    rng = np.random.default_rng(0)
    rows = []
    for i in range(6):
        rel = f"crops/SN00{i // 2 + 1}/{i:06d}.jpg"
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / rel), rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        row = {"path": rel, "subject": f"SN00{i // 2 + 1}", "frame": i + 1, "fold": i // 2}
        row.update({a: LABELS.get(a, [0] * 6)[i] for a in DISFA_AUS})
        rows.append(row)
    write_manifest(folder / "manifest.csv", rows)
    return folder


def f1_by_hand(pred: list[int], labels: list[int]) -> float:
    tp = sum(p == 1 and y == 1 for p, y in zip(pred, labels, strict=True))
    fp = sum(p == 1 and y == 0 for p, y in zip(pred, labels, strict=True))
    fn = sum(p == 0 and y == 1 for p, y in zip(pred, labels, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def test_evaluate_cli_matches_hand_computed_f1(tmp_path: Path, disfa_data: Path) -> None:
    ckpt = save_pretrained(constant_model({"AU01", "AU06"}), tmp_path / "ckpt")
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", str(ckpt), "--data", f"disfa:{disfa_data}", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    # shared AUs of the BP4D-AU model and DISFA data: 1, 2, 4, 6, 12
    assert list(out["f1"]) == ["AU01", "AU02", "AU04", "AU06", "AU12"]
    # AU01 predicted present everywhere: TP 2, FP 3 (the -1 is ignored) -> 4 / 7
    assert out["f1"]["AU01"] == pytest.approx(4 / 7)
    assert out["f1"]["AU06"] == pytest.approx(8 / 9)  # TP 4, FP 1
    assert out["f1"]["AU02"] == out["f1"]["AU12"] == 0.0
    assert out["avg_f1"] == pytest.approx((4 / 7 + 8 / 9) / 5)
    assert out["n"] == 6 and out["selection"] == "all rows"

    result = runner.invoke(
        app, ["evaluate", str(ckpt), "--data", f"disfa:{disfa_data}", "--fold", "1", "--json"]
    )
    out = json.loads(result.output)
    assert out["n"] == 2 and out["f1"]["AU01"] == 1.0  # rows 2, 3: labels 1, -1

    result = runner.invoke(
        app, ["evaluate", str(ckpt), "--data", f"disfa:{disfa_data}", "--paper", "bp4d"]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Source: bp4d. Target: disfa. (paper: Table III)"
    assert lines[1].split() == ["AU", "1", "2", "4", "6", "12", "AVE"]
    assert lines[2].split() == ["ckpt", "57.1", "0.0", "0.0", "88.9", "0.0", "29.2"]
    paper = [line for line in lines if line.startswith("D2CA (paper) ")]
    assert paper[0].split()[2:] == ["35.5", "42.7", "50.6", "34.0", "70.3", "46.6"]
    assert len(lines) == 3 + 12 + 1  # title, header, model, the paper's 12 rows, footer
    assert "6 faces (all rows)" in lines[-1]


def test_evaluate_paper_columns_the_data_lacks(tmp_path: Path, disfa_data: Path) -> None:
    ckpt = save_pretrained(constant_model({"AU01"}), tmp_path / "ckpt")
    rows = read_manifest(disfa_data).rows
    two_aus = [
        {k: v for k, v in r.items() if k in ("path", "subject", "AU01", "AU02")} for r in rows
    ]
    write_manifest(disfa_data / "two.csv", two_aus)
    args = [
        "evaluate",
        str(ckpt),
        "--data",
        f"affwild2:{disfa_data / 'two.csv'}",
        "--paper",
        "bp4d",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "note: the model or data lacks AU04, AU06, AU07" in result.output
    model_row = [line for line in result.output.splitlines() if line.startswith("ckpt ")][0]
    # Table VI has 10 AUs; the data only AU01 (F1 4/7) and AU02 (0): 8 columns are '-'
    assert model_row.split() == ["ckpt", "57.1", "0.0", *["-"] * 8, "28.6"]


def test_evaluate_equals_f1_of_predictions(disfa_data: Path) -> None:
    torch.manual_seed(3)
    model = D2CAModel(tiny_config()).eval()
    with torch.no_grad():  # spread the logits so both classes occur
        model.classifier.fc.weight.mul_(50.0)
    manifest = read_manifest(disfa_data)
    names = ["AU01", "AU02", "AU04", "AU06", "AU12"]
    result = evaluate(model, manifest, au_names=names, batch_size=4)
    probs = predict(model, manifest, batch_size=4)
    for name in names:
        pred = [int(p >= 0.5) for p in probs[:, model.config.au_names.index(name)]]
        assert result["f1"][name] == pytest.approx(f1_by_hand(pred, LABELS[name]))


def test_evaluate_bad_input_messages(tmp_path: Path, disfa_data: Path) -> None:
    ckpt = save_pretrained(constant_model(set()), tmp_path / "ckpt")
    runner = CliRunner()
    cases = [
        (["--data", str(disfa_data), "--paper", "bp4d"], "--paper needs the target dataset"),
        (["--data", f"disfa:{disfa_data}", "--paper", "disfa"], "no table for disfa -> disfa"),
        (["--data", f"disfa:{disfa_data}", "--fold", "7"], "no faces in fold 7"),
        (["--data", f"disfa:{tmp_path / 'none'}"], "none: no such manifest file"),
    ]
    for args, message in cases:
        result = runner.invoke(app, ["evaluate", str(ckpt), *args])
        assert result.exit_code == 1
        assert result.output.startswith("error: ") and message in result.output, result.output


def test_published_rows_are_consistent() -> None:
    # averages as printed equal the mean of the printed per-AU values (to rounding)
    for pair in _published()["cross_domain"]:
        assert pair["aus"] == [au_name(a) for a in shared_aus(pair["source"], pair["target"])]
        for row in pair["rows"]:
            assert len(row["f1"]) == len(pair["aus"])
            assert np.mean(row["f1"]) == pytest.approx(row["avg"], abs=0.1), row
        assert [r["method"] for r in pair["rows"]][-2:] == ["D2CA", "Target"]
    # D2CA's averages against method.md's headline table (typed separately)
    headline = {("bp4d", "gft"): 35.3, ("gft", "bp4d"): 43.1, ("bp4d+", "gft"): 37.8,
                ("gft", "bp4d+"): 39.5, ("bp4d", "disfa"): 46.6, ("disfa", "bp4d"): 59.2,
                ("bp4d+", "disfa"): 49.7, ("disfa", "bp4d+"): 43.4, ("affwild2", "bp4d+"): 40.1,
                ("bp4d+", "affwild2"): 26.5, ("affwild2", "bp4d"): 46.1,
                ("bp4d", "affwild2"): 25.7, ("affwild2", "gft"): 36.9,
                ("gft", "affwild2"): 22.2}  # fmt: skip
    for (s, t), avg in headline.items():
        assert published_table(s, t).rows["D2CA"][1] == avg
        ablation = published_ablation(s, t)
        if ablation:  # Table VIII's full model equals Tables II-VII
            assert ablation["avg_f1"]["D2CA"] == avg
    assert len(headline) == len(_published()["cross_domain"])
    assert published_ablation("gft", "affwild2")["fid"] == {
        "D2CA (w/o ICL, FCL)": 43.3, "D2CA (w/o FCL)": 42.4, "D2CA": 30.1
    }  # fmt: skip
    assert published_ablation("bp4d", "disfa") == {}


def test_format_table_marks_missing_aus() -> None:
    text = format_table({"a": {"AU01": 10.0}, "b": {"AU01": 1.0, "AU02": 3.0, "AVE": 9.9}},
                        ["AU01", "AU02"])  # fmt: skip
    assert text.splitlines() == [
        "AU     1     2   AVE",
        "a   10.0     -  10.0",
        "b    1.0   3.0   9.9",
    ]


def test_plot_tsne_and_fid_cli(tmp_path: Path, disfa_data: Path) -> None:
    ckpt = save_pretrained(constant_model({"AU06"}), tmp_path / "ckpt")
    runner = CliRunner()
    png = tmp_path / "tsne.png"
    args = ["plot", "tsne", str(ckpt), "--data", f"disfa:{disfa_data}", "--data",
            f"bp4d:{disfa_data}", "--au", "6", "-o", str(png)]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "tsne.png exists" in result.output
    result = runner.invoke(app, [*args[:-4], "--au", "17", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 1 and "no AU17 column" in result.output

    crops = disfa_data / "crops"
    result = runner.invoke(app, ["fid", str(crops / "SN001"), str(crops), "--size", "32"])
    assert result.exit_code == 0, result.output
    assert "over 2 and 6 images, random extractor" in result.output
    assert "not comparable with published FID" in result.output
    assert "fewer images than feature dimensions (512)" in result.output
    result = runner.invoke(app, ["fid", str(crops), str(crops), "--extractor", "inception"])
    assert result.exit_code == 1 and "needs --inception-weights" in result.output


def test_push_validates_before_uploading(tmp_path: Path) -> None:
    ckpt = save_pretrained(constant_model(set()), tmp_path / "ckpt")
    runner = CliRunner()
    result = runner.invoke(app, ["push", str(ckpt), "me/d2ca-bp4d"])
    assert result.exit_code == 1
    assert result.output.strip().endswith(
        "ckpt: missing README.md; a checkpoint to publish holds "
        "config.json, model.safetensors and a README.md model card"
    )
    assert len(result.output.strip().splitlines()) == 1
    (ckpt / "README.md").write_text("# card\n")
    result = runner.invoke(app, ["push", str(ckpt), "not-a-repo-id"])
    assert result.exit_code == 1 and "'not-a-repo-id' is not OWNER/NAME" in result.output
    result = runner.invoke(app, ["push", str(tmp_path / "nothing"), "me/x"])
    assert result.exit_code == 1 and "nothing: no such checkpoint folder" in result.output
