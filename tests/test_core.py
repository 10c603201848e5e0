"""Config, AU vocabulary, manifest, atomic outputs and F1: the shared plumbing."""

import json
import os

import numpy as np
import pytest

from d2ca.aus import au_name, au_number, shared_aus
from d2ca.config import D2CAConfig
from d2ca.data.manifest import ManifestError, parse_data_spec, read_manifest, write_manifest
from d2ca.evaluation import f1_per_au
from d2ca.evaluation.fid import frechet_distance
from d2ca.io import OutputExistsError, atomic_path


def test_config_json_round_trip(tmp_path):
    cfg = D2CAConfig(image_size=64, use_fcl=False, provenance={"steps": 3})
    cfg.save(tmp_path)
    loaded = D2CAConfig.load(tmp_path)
    assert loaded == cfg and loaded.provenance == {"steps": 3}
    assert isinstance(loaded.enc_widths, tuple)


def test_config_rejects_unknown_keys_and_bad_values(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"image_size": 128, "bogus": 1}))
    with pytest.raises(ValueError, match="bogus"):
        D2CAConfig.load(tmp_path)
    with pytest.raises(ValueError, match="multiple of 16"):
        D2CAConfig(image_size=100)
    with pytest.raises(ValueError, match="au_thresholds"):
        D2CAConfig(au_thresholds=(0.5,))


def test_au_names_and_pairs():
    assert au_name(1) == "AU01" and au_number("AU24") == 24
    assert shared_aus("bp4d+", "disfa") == (1, 2, 4, 6, 12)
    assert shared_aus("gft", "bp4d") == (1, 2, 4, 6, 10, 12, 14, 15, 23, 24)
    assert shared_aus("affwild2", "bp4d+") == (1, 2, 4, 6, 7, 10, 12, 15, 23, 24)
    assert shared_aus("gft", "affwild2") == (1, 2, 4, 6, 10, 12, 15, 23, 24)
    with pytest.raises(ValueError, match="unknown dataset"):
        shared_aus("ck+", "bp4d")


def test_manifest_round_trip_and_errors(tmp_path):
    rows = [
        {"path": "a.png", "subject": "s1", "AU01": 1, "AU12": -1, "split": "train"},
        {"path": "b.png", "subject": "s2", "AU01": 0, "AU12": 1, "split": "test"},
    ]
    path = write_manifest(tmp_path / "manifest.csv", rows)
    m = read_manifest(tmp_path)
    assert m.au_names == ("AU01", "AU12")
    assert m.labels.tolist() == [[1, -1], [0, 1]]
    assert m.split("test").subjects == ["s2"]
    assert m.image_path(0) == tmp_path / "a.png"
    with pytest.raises(OutputExistsError):
        write_manifest(path, rows)
    bad = tmp_path / "bad.csv"
    bad.write_text("path,subject,AU01\na.png,s1,1\nb.png,s2,7\n")
    with pytest.raises(ManifestError, match="line 3"):
        read_manifest(bad)
    bad.write_text("path,AU01\na.png,1\n")
    with pytest.raises(ManifestError, match="subject"):
        read_manifest(bad)


def test_parse_data_spec(tmp_path):
    assert parse_data_spec(f"disfa:{tmp_path}") == ("disfa", tmp_path)
    assert parse_data_spec(tmp_path) == (None, tmp_path)
    with pytest.raises(ManifestError, match="unknown dataset"):
        parse_data_spec("casme:/nowhere")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("partial")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("done")
    assert target.read_text() == "done"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    with pytest.raises(OutputExistsError):
        with atomic_path(target):
            pass
    assert target.read_text() == "done"


def test_f1_by_hand_with_unknown_labels():
    pred = np.array([[1, 1], [1, 0], [0, 0], [1, 1]])
    labels = np.array([[1, -1], [0, 1], [1, 0], [1, -1]])
    # AU a: tp=2 fp=1 fn=1 -> 4/6; AU b: one known positive missed -> 0
    np.testing.assert_allclose(f1_per_au(pred, labels), [4 / 6, 0.0])


def test_frechet_distance_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4, 4))
    s1 = a @ a.T + np.eye(4)
    mu1, mu2 = np.zeros(4), np.ones(4)
    # equal covariances: the trace term vanishes, the distance is ||mu1 - mu2||^2
    assert frechet_distance(mu1, s1, mu2, s1) == pytest.approx(4.0, abs=1e-6)
    # diagonal covariances: sum (sqrt(s1) - sqrt(s2))^2
    d1, d2 = np.diag([1.0, 4.0]), np.diag([9.0, 1.0])
    assert frechet_distance(np.zeros(2), d1, np.zeros(2), d2) == pytest.approx(4 + 1)
