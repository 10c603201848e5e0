"""benchmarks/synthesis_quality.py end to end on tiny renders, and its figures on synthesisers
whose answers are known: one that copies the donor, one that copies the receiver, one whose
decoder ignores the AU features, one that makes the ideal swaps (benchmarks/ideal_swaps.py)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _inference import save_small_checkpoint, small_model

from d2ca.data.manifest import read_manifest
from d2ca.models import D2CAModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import ideal_swaps as ideal  # noqa: E402
import synthesis_figures as sf  # noqa: E402
import synthesis_quality as sq  # noqa: E402
from oracles import au_f1, load_images  # noqa: E402

TRAINING_SEEDS = {0, 1, 2, 3, 101, 102, 103, 104, 105}  # the default's, tests', the grid's


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # on a loaded shared CPU, two threads made these runs many times slower (spin-waits)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One ``--tiny`` run of the script on a random 64x64 checkpoint: (work, json, figures)."""
    root = tmp_path_factory.mktemp("synthesis_quality")
    model_dir = save_small_checkpoint(root / "model")
    argv = ["--tiny", "--model", str(model_dir), "--domain", "lab-a", "--cross", "wild",
            "--work", str(root / "work"), "--strip", "5", "--device", "cpu",
            "--json", str(root / "out.json")]  # fmt: skip
    figures = sq.main(argv)
    return root / "work", json.loads((root / "out.json").read_text()), figures


def _test_faces(work: Path, preset: str, model: D2CAModel):
    data = sq.render(work, preset, model.config.image_size, sq.TINY)
    oracle = sq.train_oracle(work, data, model.config.image_size, sq.TINY, "cpu")  # cached
    test = read_manifest(data).split("test")
    return (test, load_images(test, model.config)), oracle


def _shares(condition: dict) -> list[float | None]:
    interp = condition["interpolation"]
    return [interp["monotonic"], *(v["monotonic"] for v in interp["per_au"].values())]


def test_tiny_run_writes_every_figure(run):
    work, written, figures = run
    assert written == json.loads(json.dumps(figures))  # the JSON is what main returned
    assert written["mode"] == "tiny" and "--tiny" in written["command"]
    assert written["split"] == "test"
    assert written["domain"] == "lab-a" and written["cross"] == "wild"
    assert set(written["render_seeds"]) == {"lab-a", "wild"}
    assert all(s >= 9001 and s not in TRAINING_SEEDS for s in written["render_seeds"].values())
    assert written["renders"]["image_size"] == 64 == written["model_image_size"]
    fresh = {"renders": False, "oracle": False}  # the run rendered and trained everything
    assert written["reused_from_work"] == {"lab-a": fresh, "wild": fresh}
    assert len(written["aus"]) == 12
    for oracle in written["oracles"].values():
        assert oracle["steps"] == sq.TINY.oracle_steps and oracle["test_faces"] == 8
        assert 0.0 <= oracle["test_f1"]["avg_f1"] <= 1.0
    conditions = (("within", "source", "lab-a"), ("cross_domain", "target", "wild"))
    for name, encoder, oracle in conditions:
        c = written[name]
        assert (c["encoder"], c["oracle"], c["pairs"]) == (encoder, oracle, sq.TINY.pairs)
        oracle_f1 = written["oracles"][c["oracle"]]["test_f1"]["avg_f1"]
        assert c["oracle_f1"] == oracle_f1
        assert c["oracle_usable"] == (oracle_f1 >= sq.MIN_ORACLE_F1)
        avg = c["transfer"]["avg_f1"]
        rebuilt = {"reconstructed", "blur_matched"} if name == "within" else set()
        assert set(avg) == {"swapped", "floor", "donors", "ceiling"} | rebuilt
        assert all(0.0 <= v <= 1.0 for v in avg.values())
        kept = c["transfer"]["receiver_aus"]
        expected = sf.carried_share(kept["swapped"], kept["chance"], kept["receivers"])
        assert kept["kept"] == pytest.approx(expected)
        assert set(c["interpolation_model"]) == {"features", "faces"}
        for own in c["interpolation_model"].values():  # the same strips, read by the model
            assert own["cases"] == c["interpolation"]["cases"]
        expected = sf.carried_share(avg["swapped"], avg["floor"], avg["ceiling"])
        assert c["transfer"]["carried"] == pytest.approx(expected)
        interp = c["interpolation"]
        assert interp["points"] == 5 and interp["tol"] == sf.TOL
        assert 0 < interp["cases"] == sum(v["cases"] for v in interp["per_au"].values())
        assert all(s is None or 0.0 <= s <= 1.0 for s in _shares(c))
        assert -1.0 <= interp["spearman"] <= 1.0
        i = c["ideal"]
        assert 0.0 <= i["avg_f1"] <= 1.0 and ("reconstruction" in i) == (name == "within")
        for px in [i["swap"], *([i["reconstruction"]] if name == "within" else [])]:
            assert px["au_signal"] > 0 and px["error"] > 0 and 0 < px["au_region"] < 1
            assert px["au_moved"] is not None and px["from_base"] > 0
    # within a domain the ceiling is the donors themselves
    within = written["within"]["transfer"]
    assert within["avg_f1"]["ceiling"] == within["avg_f1"]["donors"]
    assert (work / "oracles").is_dir() and len(list((work / "oracles").iterdir())) == 2


def test_a_synthesiser_that_copies_the_donor_carries_everything(run):
    work, _, _ = run
    model = small_model()
    model.encode_au = lambda x: x  # a = the donor's pixels
    model.decode = lambda a, d: a  # G returns them: It->s = Is, the strip blends the donors
    faces, oracle = _test_faces(work, "lab-a", model)
    model.classify = lambda a: oracle(a)  # its AU head reads pixels as the oracle does
    out = sq.condition(model, oracle, faces, faces, "source", oracle.config.au_names, 12, 4)
    t = out["transfer"]
    assert t["avg_f1"]["swapped"] == t["avg_f1"]["donors"] == t["avg_f1"]["ceiling"]
    assert t["carried"] is None or t["carried"] == pytest.approx(1.0)
    assert t["avg_f1"]["reconstructed"] == t["avg_f1"]["donors"]  # G copies the AU half
    rec = out["ideal"]["reconstruction"]  # the donors themselves: their own AUs, exactly
    assert rec["error"] == pytest.approx(0.0, abs=1e-6) and rec["au_moved"] == pytest.approx(1.0)
    # as sharp as the donors: no blur, the same F1
    assert t["blur"]["sigma"] == 0.0 and t["avg_f1"]["blur_matched"] == t["avg_f1"]["donors"]
    kept = t["receiver_aus"]  # the receivers' AUs are gone: the swap is the donor
    assert kept["swapped"] == kept["chance"] and kept["kept"] in (None, pytest.approx(0.0))
    # the strip starts at donor a (t = 0) and ends at donor b (t = 1)
    test, x = faces
    i_a, i_b, i_r = sq.draw_pairs(test.subjects, test.subjects, 3, 0)
    aus = list(oracle.config.au_names)
    readings = sq.strip_readings(model, oracle, x[i_a], x[i_b], x[i_r], 4, "source", aus)
    probs = readings["oracle"]
    with torch.no_grad():
        ends = torch.sigmoid(oracle(torch.cat([x[i_a], x[i_b]]))).numpy()
    np.testing.assert_allclose(probs[:, 0], ends[:3], atol=1e-5)
    np.testing.assert_allclose(probs[:, -1], ends[3:], atol=1e-5)
    # G copies its AU half, so the model reads its faces as it reads the features
    np.testing.assert_allclose(readings["faces"], readings["features"], atol=1e-5)


def test_a_synthesiser_that_copies_the_receiver_carries_nothing(run):
    work, _, _ = run
    model = small_model()
    model.encode_dm = lambda x, domain: x
    model.decode = lambda a, d: d  # It->s = It: no AU moved
    donors, _ = _test_faces(work, "lab-a", model)
    receivers, oracle = _test_faces(work, "wild", model)
    aus = list(oracle.config.au_names)
    out = sq.condition(model, oracle, donors, receivers, "target", aus, 12, 3)
    t = out["transfer"]
    assert t["avg_f1"]["swapped"] == t["avg_f1"]["floor"]
    assert t["carried"] is None or t["carried"] == pytest.approx(0.0)
    assert out["interpolation"]["monotonic"] == 0.0 and out["interpolation"]["spearman"] == 0.0
    kept = t["receiver_aus"]  # every AU of the receivers kept
    assert kept["swapped"] == kept["receivers"] and kept["kept"] in (None, pytest.approx(1.0))
    assert "reconstructed" not in t["avg_f1"]  # across domains nothing is rebuilt
    px = out["ideal"]["swap"]  # the receivers untouched: as far from the ideal as the AUs are
    assert px["error"] == pytest.approx(px["au_signal"]) and px["au_moved"] == 0.0
    # across domains the ceiling is the receivers, scored against their own labels
    (m_d, _), (m_r, x_r) = donors, receivers
    _, _, i_r = sq.draw_pairs(m_d.subjects, m_r.subjects, 12, sq.PAIR_SEED)
    own = au_f1(oracle, x_r[i_r], m_r.with_aus(aus).labels[i_r], aus)
    assert t["avg_f1"]["ceiling"] == own["avg_f1"] and t["ceiling_faces"].startswith("receivers")


def test_a_decoder_blind_to_au_features_moves_no_strip(run):
    work, _, _ = run
    model = small_model()
    decode = model.decode
    model.decode = lambda a, d: decode(torch.zeros_like(a), d)
    faces, oracle = _test_faces(work, "lab-a", model)
    # a fine tolerance: the untrained head's probabilities move little, but they move
    out = sq.condition(model, oracle, faces, faces, "source", oracle.config.au_names, 8, 4, 1e-6)
    interp = out["interpolation"]
    assert interp["cases"] > 0 and interp["monotonic"] == 0.0 and interp["spearman"] == 0.0
    # the model's own head moves along the features but not along the decoded faces
    faces, features = out["interpolation_model"]["faces"], out["interpolation_model"]["features"]
    assert faces["monotonic"] == 0.0 and faces["spearman"] == 0.0
    assert features["spearman"] != 0.0


def test_the_ideal_swaps_are_the_receivers_rendered_with_the_donors_aus(run):
    work, _, _ = run
    model = small_model()
    (test, x), oracle = _test_faces(work, "lab-a", model)
    faces = ideal.factors(test, range(len(test)))
    own = np.stack([f[1] for f in faces])
    # with their own AUs, the faces as loaded from the PNGs
    torch.testing.assert_close(ideal.rerender(faces, own, model.config), x, atol=1e-6, rtol=0)
    # a synthesiser that renders the ideal swap: no error, all of the AUs' change, its F1
    i_a, i_r = np.array([0, 2, 4, 6]), np.array([7, 5, 3, 1])
    perfect = ideal.rerender([faces[i] for i in i_r], own[i_a], model.config)
    aus = list(oracle.config.au_names)
    z_a = test.with_aus(aus).labels[i_a]
    out = ideal.ideal_figures(oracle, (test, x), (test, x), i_a, i_r, perfect, z_a, aus,
                              model.config)  # fmt: skip
    px = out["swap"]
    assert px["error"] == 0.0 and px["au_moved"] == pytest.approx(1.0)
    # against the change between noise-free renders: nearly all of it (JPEG's part is not)
    assert 0.9 < px["au_moved_clean"] < 1.05
    assert px["from_base"] == pytest.approx(px["au_signal"]) and px["error_in_au_region"] == 0.0
    assert out["avg_f1"] == au_f1(oracle, perfect, z_a, aus)["avg_f1"]
    assert "reconstruction" not in out
    moved = out["blurred_ideal_au_moved"]  # blurred, the ideal swaps make less of the change
    assert 0 < moved["1.0"] < moved["0.6"] < 1
    # half the AUs' change under noise ten times its size: half of it made, a large error
    base = x[i_r]
    noise = (
        10
        * (perfect - base).abs().mean()
        * torch.randn(base.shape, generator=torch.Generator().manual_seed(0))
    )
    half = ideal.pixel_figures(base + 0.5 * (perfect - base) + noise, perfect, base)
    assert (
        half["au_moved"] == pytest.approx(0.5, abs=0.05) and half["error"] > 5 * half["au_signal"]
    )
    # the AUs move pixels only where the donor's and the receiver's AUs differ
    same = ideal.rerender([faces[i] for i in i_r], own[i_r], model.config)
    assert ideal.pixel_figures(same, same, same)["au_signal"] == 0.0
    # the bands add up to the face; a blurred copy makes less of the finer bands' content; a
    # reconstruction that is the face, of the AUs' change what its bands predict
    torch.testing.assert_close(sum(ideal.split_bands(x)), x, atol=1e-5, rtol=0)
    soft = ideal.band_figures(sf.blurred(x, 1.0), x, perfect - base)
    assert soft["content_made"][0] < soft["content_made"][1] < soft["content_made"][3] <= 1.01
    assert sum(soft["au_change_energy"]) == pytest.approx(1.0)
    rec = ideal.ideal_figures(oracle, (test, x), (test, x), i_a, i_r, perfect, z_a, aus,
                              model.config, x_rec=x[i_a])["reconstruction"]  # fmt: skip
    assert rec["au_moved"] == pytest.approx(1.0) and 0.9 < rec["au_moved_clean"] < 1.05
    # against the noise-free renders, the noisy faces make their content, not their noise
    bands = rec["bands"]
    assert 0.9 < bands["predicted_au_moved"] < 1.1
    assert bands["content_made"][3] == pytest.approx(1, abs=0.02)


def test_strip_figures_on_known_strips():
    t = np.linspace(0, 1, 5)
    strips = [t, t[::-1], np.full(5, 0.5), np.array([0.0, 0.5, 0.49, 0.75, 1.0]), t**3]
    probs = np.stack(strips)[:, :, None]  # (strips, K, 1 AU)
    z_a = np.array([[0], [1], [0], [0], [0]])  # strip 1 falls from a present AU: it rises
    z_b = 1 - z_a
    out = sf.strip_figures(probs, z_a, z_b, ["AU12"], tol=0.02)
    assert out["cases"] == 5 and out["per_au"]["AU12"]["cases"] == 5
    # rising, rising (oriented), flat (not monotonic), a fall within tolerance, rising
    assert out["monotonic"] == pytest.approx(4 / 5)
    # Spearman 1, 1, 0 (a flat strip has no order), 0.9 (one swapped rank), 1
    assert out["spearman"] == pytest.approx((1 + 1 + 0 + 0.9 + 1) / 5)
    assert sf.strip_figures(probs, z_a, z_a, ["AU12"])["monotonic"] is None  # nothing differs
    falling = sf.strip_figures(probs[:1], z_b[:1], z_a[:1], ["AU12"])  # present at t = 0
    assert falling["monotonic"] == 0.0 and falling["spearman"] == pytest.approx(-1.0)
    unknown = sf.strip_figures(probs[:1], np.array([[-1]]), np.array([[1]]), ["AU12"])
    assert unknown["cases"] == 0


def test_pairs_are_fixed_and_never_share_a_subject():
    subjects = [f"s{i // 3}" for i in range(9)]
    i_a, i_b, i_r = sq.draw_pairs(subjects, subjects, 50, 7)
    s = np.asarray(subjects)
    assert (s[i_r] != s[i_a]).all() and (s[i_r] != s[i_b]).all()
    assert all((u == v).all() for u, v in zip(sq.draw_pairs(subjects, subjects, 50, 7),
                                              (i_a, i_b, i_r), strict=True))  # fmt: skip
    with pytest.raises(ValueError, match="too few test subjects"):
        sq.draw_pairs(["s0"] * 3, ["s0"] * 3, 2, 0)


def test_domains_come_from_the_card(tmp_path):
    card = json.loads(
        (Path(sq.__file__).parents[1] / "d2ca/pretrained/default/config.json").read_text()
    )["provenance"]
    assert (sq.preset_of(card["source"]), sq.preset_of(card["target"])) == ("lab-a", "wild")
    assert sq.preset_of("bp4d:data/bp4d") is None and sq.preset_of(None) is None
    assert sq.preset_of("synthau:/data/lab-c-64") == "lab-c"
    # a checkpoint that records no SynthAU source needs --domain
    model_dir = save_small_checkpoint(tmp_path / "model")
    with pytest.raises(SystemExit, match="--domain"):
        sq.main(["--tiny", "--model", str(model_dir), "--work", str(tmp_path / "w")])


def test_the_table_reads_saved_figures(run, tmp_path, capsys):
    _, written, _ = run
    paths = []
    for folder, steps in (("b", 1000), ("a", 2000), ("a", 500)):
        path = tmp_path / folder / f"step-{steps}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(written | {"model_steps": steps, "model_seed": 2}))
        paths.append(str(path))
    sq.main(["--table", *paths])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 11 and lines[5] == ""  # two tables: header, rule, a row per JSON
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:5]]
    assert [r[0] for r in rows] == ["a", "a", "b"]  # by folder, then by steps
    assert [r[2] for r in rows] == ["500", "2000", "1000"] and rows[0][3] == "2"
    assert rows[0][11] == f"{100 * written['within']['transfer']['carried']:.1f}"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[8:]]
    assert [(r[0], r[1]) for r in rows] == [("a", "500"), ("a", "2000"), ("b", "1000")]
    assert rows[0][3] == f"{100 * written['within']['ideal']['avg_f1']:.1f}"
    assert rows[0][9] == f"{written['within']['ideal']['swap']['au_moved']:.2f}"


def test_blur_matching_finds_the_blur_of_blurred_faces():
    x = torch.rand(6, 3, 32, 32) * 2 - 1
    blurred, sigma = sf.blur_like(x, sf.gaussian_blur(x, [13, 13], [2.0, 2.0]))
    assert sigma == 2.0 and sf.sharpness(blurred) < sf.sharpness(x) / 10
    assert sf.blur_like(x, x)[1] == 0.0  # as sharp already
    flat = torch.zeros_like(x)  # no detail at all: the strongest blur there is
    assert sf.blur_like(x, flat)[1] == sf.BLUR_SIGMAS[-1]


def test_the_decoder_probe_trains_the_decoder_alone(run, tmp_path):
    import decoder_probe

    from d2ca.hub import load_folder
    from d2ca.io import OutputExistsError

    work, _, _ = run
    src = save_small_checkpoint(tmp_path / "model")
    argv = ["--model", str(src), "--domain", "lab-a", "--out", str(tmp_path / "probe"),
            "--steps", "3", "--batch", "4", "--tiny", "--work", str(work)]  # fmt: skip
    probe = decoder_probe.main(argv)
    before, after = load_folder(src).state_dict(), load_folder(tmp_path / "probe")
    assert after.config.provenance["decoder_probe"] == probe and probe["steps"] == 3
    moved = {k for k, v in after.state_dict().items() if not torch.equal(v, before[k])}
    assert moved and all(k.startswith("decoder.") for k in moved)  # the encoders are frozen
    assert probe["train_faces"] == 24 and probe["loss"] == "l1" and not probe["fresh"]
    with pytest.raises(OutputExistsError):  # an existing checkpoint is not replaced
        decoder_probe.main(argv)
    fresh = decoder_probe.main([*argv[:5], str(tmp_path / "fresh"), *argv[6:], "--fresh"])
    assert fresh["fresh"] and fresh["loss_first_10"] != probe["loss_first_10"]
    # --decoder: a new decoder of another structure, written with the config that builds it
    other = ["--decoder", '{"dec_aux_au": true}']
    aux = decoder_probe.main([*argv[:5], str(tmp_path / "aux"), *argv[6:], *other])
    assert aux["fresh"] and aux["decoder"] == {"dec_aux_au": True}
    same = decoder_probe.main([*argv[:5], str(tmp_path / "same"), *argv[6:], "--decoder", "{}"])
    assert same["fresh"] and same["loss_first_10"] == fresh["loss_first_10"]  # {}: as --fresh
    # not the decoder's keys, an unknown key or a wrong value: refused, nothing written
    for bad in ('{"enc_widths": [8]}', "[1]", '{"dec_foo": 1}', '{"dec_aux_au": 2}'):
        with pytest.raises(SystemExit) as refused:
            decoder_probe.main([*argv[:5], str(tmp_path / "bad"), *argv[6:], "--decoder", bad])
        assert refused.value.code == 2 and not (tmp_path / "bad").exists()
    aux_model = load_folder(tmp_path / "aux")
    assert aux_model.config.dec_aux_au and not load_folder(src).config.dec_aux_au
    cfg = aux_model.config
    assert aux_model.decoder.aux[0].in_channels == cfg.au_channels + cfg.dm_channels
    # --au-map: the map of where the AUs act, mean 1, larger on the face than in the corners
    train, x = decoder_probe.training_faces(decoder_probe.common_args("").parse_args(argv[2:]),
                                            load_folder(src).config)  # fmt: skip
    where = decoder_probe.au_map(train, x, load_folder(src).config)
    assert where.shape == x.shape[2:] and where.mean().item() == pytest.approx(1.0)
    assert where[:4, :4].mean() < where[24:40, 16:48].mean()  # corners against brows to mouth
    weighted = decoder_probe.main([*argv[:5], str(tmp_path / "w"), *argv[6:], "--au-map", "5"])
    assert weighted["au_map"] == 5.0 and weighted["loss_first_10"] != probe["loss_first_10"]
    # --au-from: E_au and C of another checkpoint, the rest of this one's
    other = load_folder(save_small_checkpoint(tmp_path / "other", seed=1)).state_dict()
    mixed = [*argv[:5], str(tmp_path / "mixed"), *argv[6:], "--au-from", str(tmp_path / "other")]
    assert decoder_probe.main(mixed)["au_from"] == str(tmp_path / "other")
    for k, v in load_folder(tmp_path / "mixed").state_dict().items():
        if k.startswith(("e_au.", "classifier.")):
            assert torch.equal(v, other[k])
        elif not k.startswith("decoder."):
            assert torch.equal(v, before[k])


def test_rec_au_weighted_forks_train_with_a_weighted_l_rec(run, tmp_path):
    import rec_au_weighted as fork
    from _inference import small_config

    import d2ca.losses

    x, x_hat = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    for norm in ("l1", "l2"):  # a constant weight is Eq. 7
        flat = fork.probe.weighted_reconstruction_loss(torch.full((8, 8), 3.0))(x, x_hat, norm)
        torch.testing.assert_close(flat, d2ca.losses.reconstruction_loss(x, x_hat, norm))
    work, _, _ = run
    cfg = small_config()
    src = save_small_checkpoint(tmp_path / "like")
    data = [sq.render(work, p, cfg.image_size, sq.TINY) for p in ("lab-a", "wild")]
    train = ["train", "--source", str(data[0]), "--target", str(data[1]), "--steps", "1",
             "--batch-size", "4", "--subjects", "2", "--image-size", str(cfg.image_size),
             "--no-progress", "--threads", "1", "--device", "cpu", "--method", "d2ca"]  # fmt: skip
    for name in ("enc_widths", "dec_widths", "disc_widths", "proj_hidden", "proj_dim"):
        train += ["--set", f"{name}={json.dumps(getattr(cfg, name))}"]
    plain = d2ca.losses.reconstruction_loss
    rec = {}
    for weight in ("0", "10"):
        out = tmp_path / f"w{weight}"
        with pytest.raises(SystemExit) as done:  # d2ca's exit
            fork.main(["--weight", weight, "--like", str(src), "--domain", "lab-a", "--tiny",
                       "--work", str(work), "--", *train, "--out", str(out)])  # fmt: skip
        assert done.value.code == 0
        assert d2ca.losses.reconstruction_loss is plain  # restored after the run
        logs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        rec[weight] = next(r["loss"]["rec"] for r in logs if r["kind"] == "train")
    assert rec["0"] != rec["10"]  # the same first step, another L_rec


def test_au_encoders_train_on_labels_or_intensities(run, tmp_path):
    import au_encoder

    from d2ca.hub import load_folder

    work, _, _ = run
    like = save_small_checkpoint(tmp_path / "like")
    trained = {}
    for target in ("labels", "intensity"):
        out = str(tmp_path / target)
        argv = ["--like", str(like), "--domain", "lab-a", "--target", target, "--steps", "2",
                "--batch", "4", "--tiny", "--work", str(work), "--out", out]  # fmt: skip
        info = au_encoder.main(argv)
        model = load_folder(tmp_path / target)
        assert model.config.provenance == {"au_encoder": info} and info["target"] == target
        assert info["train_faces"] == 24 and info["loss_first_10"] > 0
        trained[target] = model.state_dict()
    # the same start and batches, other targets: other weights; the same network as --like
    shapes = {k: v.shape for k, v in load_folder(like).state_dict().items()}
    assert {k: v.shape for k, v in trained["labels"].items()} == shapes
    first = "e_au.layers.0.0.weight"
    assert not torch.equal(trained["labels"][first], trained["intensity"][first])


def test_the_faces_of_another_split_can_be_paired(run, tmp_path):
    work, written, _ = run
    model_dir = save_small_checkpoint(tmp_path / "model")
    argv = ["--tiny", "--model", str(model_dir), "--domain", "lab-a", "--no-cross",
            "--work", str(work), "--strip", "3", "--split", "train"]  # fmt: skip
    out = sq.main(argv)
    assert out["split"] == "train" and out["reused_from_work"]["lab-a"]["oracle"]
    assert out["oracles"]["lab-a"]["test_faces"] == 24  # the training split's faces
    assert out["within"]["ideal"]["swap"] != written["within"]["ideal"]["swap"]
