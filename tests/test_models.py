"""The networks: shapes, paper-sized encoders, gradients, batching, checkpoint round trips."""

import dataclasses
import json
import math

import pytest
import torch
from safetensors.torch import load_file, save_file
from test_train import TINY

from d2ca import losses
from d2ca.config import D2CAConfig
from d2ca.errors import CheckpointError
from d2ca.hub import load_folder, save_pretrained
from d2ca.models import D2CAModel, encoder_complexity
from d2ca.models.networks import bilinear_matrix
from d2ca.train.objective import discriminator_loss, generator_loss


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: far steadier than two on a CPU shared with other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_config(**kw) -> D2CAConfig:
    return D2CAConfig.from_dict({**TINY, **kw})


def test_shapes_at_the_default_config():
    cfg = D2CAConfig()
    model = D2CAModel(cfg).eval()
    x = torch.zeros(2, 3, 128, 128)
    with torch.no_grad():
        a, d = model.encode_au(x), model.encode_dm(x, "source")
        assert a.shape == d.shape == (2, cfg.au_channels, 8, 8)
        assert model.decode(a, d).shape == (2, 3, 128, 128)
        assert model.classify(a).shape == (2, 12) == model(x).shape
        assert [o.shape for o in model.disc_t(x)] == [(2, 1, 16, 16), (2, 1, 8, 8)]
        z = model.proj(a, d)
        assert z.shape == (2, cfg.proj_dim)
        torch.testing.assert_close(z.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="domain"):
        model.encode_dm(x, "other")


def test_encoder_size_matches_the_paper():
    c = encoder_complexity(D2CAConfig())
    assert 0.8 * 0.35e6 <= c["params"] <= 1.2 * 0.35e6
    assert 0.8 * 82.59e6 <= c["macs"] <= 1.2 * 82.59e6


def test_every_parameter_receives_a_gradient_from_the_full_objective():
    torch.manual_seed(0)
    cfg = tiny_config()
    model = D2CAModel(cfg)
    x_s, x_t = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    z_s = torch.tensor([[1.0, 0, -1, 1, 0, 1, 0, 0, 1, 1, 0, 0]]).repeat(4, 1)
    loss, terms, swaps = generator_loss(model, x_s, z_s, torch.tensor([0, 0, 1, 1]), x_t, cfg)
    assert terms["fcl"] > 0 and terms["icl"] > 0
    loss.backward()
    disc = {id(p) for p in model.discriminator_parameters()}
    missing = [
        n
        for n, p in model.named_parameters()
        if id(p) not in disc and (p.grad is None or p.grad.abs().sum() == 0)
    ]
    assert not missing, missing
    model.zero_grad(set_to_none=True)
    discriminator_loss(model, x_s, x_t, swaps)[0].backward()
    for n, p in model.named_parameters():
        assert (p.grad is not None and p.grad.abs().sum() > 0) == (id(p) in disc), n


@pytest.mark.parametrize(("n_in", "n_out"), [(1, 2), (1, 16), (4, 64), (8, 16), (8, 128)])
def test_the_resize_matrix_is_bilinear_interpolation(n_in, n_out):
    x = torch.randn(3, 5, n_in, n_in, dtype=torch.float64)
    u = bilinear_matrix(n_in, n_out).double()
    want = torch.nn.functional.interpolate(x, size=(n_out, n_out), mode="bilinear")
    torch.testing.assert_close(u @ x @ u.T, want)


@pytest.mark.parametrize("channels_last", [False, True])
def test_the_decoder_resizes_d_as_interpolate_did_and_keeps_the_layout(channels_last):
    """The decoder's resize by matrices equals 0.1.0's F.interpolate, layer by layer."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = D2CAModel(tiny_config()).to(memory_format=fmt)
    dec = model.decoder
    a, d = (torch.randn(2, 16, 2, 2).contiguous(memory_format=fmt) for _ in range(2))
    h, aux = torch.cat([a, d], dim=1), iter(dec.aux)
    for i, layer in enumerate(dec.layers):  # the reference: F.interpolate of each aux map
        if i in dec.UPSAMPLE_BEFORE:
            h = torch.nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")
            d_i = torch.nn.functional.interpolate(next(aux)(d), size=h.shape[-2:], mode="bilinear")
            h = layer(torch.cat([h, d_i], dim=1))
        else:
            h = layer(h)
    want = torch.tanh(dec.to_rgb(h))
    got = model.decode(a, d)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    assert got.is_contiguous(memory_format=fmt)
    assert not any(k.startswith("decoder.resize") for k in model.state_dict())


def test_one_discriminator_pass_over_real_and_fake_equals_two():
    """discriminator_loss batches real and synthesised faces: exact while D's norms are per
    sample (instance norm). A batch norm in D would make this fail."""
    torch.manual_seed(0)
    cfg = tiny_config()
    model = D2CAModel(cfg)
    x_s, x_t = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    z_s = torch.zeros(4, 12)
    _, _, swaps = generator_loss(model, x_s, z_s, torch.tensor([0, 0, 1, 1]), x_t, cfg)
    _, terms = discriminator_loss(model, x_s, x_t, swaps)
    for disc, real, fake, key in ((model.disc_s, x_s, swaps.x_st, "disc_s"),
                                  (model.disc_t, x_t, swaps.x_ts, "disc_t")):  # fmt: skip
        want = losses.adversarial_d_loss(disc(real), disc(fake.detach()))
        torch.testing.assert_close(terms[key], want.detach())


def test_the_projection_head_is_per_sample():
    """generator_loss projects ICL's 8N images in one pass of P: P must stay per sample."""
    torch.manual_seed(0)
    model = D2CAModel(tiny_config())
    a, d = torch.randn(6, 16, 2, 2), torch.randn(6, 16, 2, 2)
    parts = torch.cat([model.proj(a[i : i + 2], d[i : i + 2]) for i in (0, 2, 4)])
    torch.testing.assert_close(model.proj(a, d), parts)


def test_batched_equals_single_in_eval_mode():
    torch.manual_seed(0)
    model = D2CAModel(tiny_config()).eval()
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        batched = model(x)
        single = torch.cat([model(x[i : i + 1]) for i in range(5)])
        a, d = model.encode_au(x), model.encode_dm(x, "target")
        faces = model.decode(a, d)
        faces1 = torch.cat([model.decode(a[i : i + 1], d[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(batched, single, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(faces, faces1, rtol=1e-5, atol=1e-5)


def test_save_load_round_trip_is_bit_exact_and_strict(tmp_path):
    torch.manual_seed(0)
    model = D2CAModel(tiny_config(provenance={"steps": 7}))
    model(torch.randn(3, 3, 32, 32))  # move the batch-norm statistics off their init
    folder = save_pretrained(model, tmp_path / "ckpt", card="# card\n")
    loaded = load_folder(folder)
    assert loaded.config == model.config and loaded.config.provenance == {"steps": 7}
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k]), k
    assert (folder / "README.md").read_text() == "# card\n"

    cfg = json.loads((folder / "config.json").read_text())  # config and weights disagree
    cfg["dec_aux_channels"] = 3
    (folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"tensor 'decoder\.aux\.0\.(weight|bias)' has shape"):
        load_folder(folder)
    cfg["dec_aux_channels"] = TINY["dec_aux_channels"]
    (folder / "config.json").write_text(json.dumps(cfg))
    weights = load_file(str(folder / "model.safetensors"))
    del weights["classifier.fc.bias"]
    save_file(weights, str(folder / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"'classifier\.fc\.bias' missing"):
        load_folder(folder)


def test_objective_options_route_and_weight_the_terms():
    torch.manual_seed(0)
    x_s, x_t = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    z_s = torch.tensor([[1.0, 0, -1, 1, 0, 1, 0, 0, 1, 1, 0, 0]]).repeat(4, 1)
    ids = torch.tensor([0, 0, 1, 1])
    base = tiny_config()
    model = D2CAModel(base)

    def run(**kw):
        torch.manual_seed(1)  # same dropout draws
        cfg = dataclasses.replace(base, **kw)
        return generator_loss(model, x_s, z_s, ids, x_t, cfg, keep_graph=True)

    _, plain, _ = run()
    _, heavy, _ = run(au_weight=10.0)
    extra = 9 * (plain["au_s"] + plain["au_t"])
    torch.testing.assert_close(heavy["total"] - plain["total"], extra, rtol=1e-4, atol=1e-4)
    _, no_t, _ = run(use_au_t=False)
    assert "au_t" not in no_t
    # L_au^t without the classifier: the same value, no gradient on C, some on E_au
    _, frozen, _ = run(au_t_trains_classifier=False)
    torch.testing.assert_close(frozen["au_t"], plain["au_t"])
    grads = torch.autograd.grad(
        frozen["au_t"], [*model.classifier.parameters(), *model.e_au.parameters()],
        allow_unused=True,
    )  # fmt: skip
    n_c = len(list(model.classifier.parameters()))
    assert all(g is None for g in grads[:n_c]) and any(g is not None for g in grads[n_c:])
    # aux_grad_e_au: the same objective value; on E_au the auxiliary terms' gradient is
    # scaled (0: none), while G still receives their gradient in full
    routed = {v: run(aux_grad_e_au=v)[1] for v in (0.0, 1.0)}
    torch.testing.assert_close(routed[0.0]["total"], routed[1.0]["total"])
    e_au, dec = list(model.e_au.parameters()), list(model.decoder.parameters())

    def norm(term, params):
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        return sum(float(g.norm()) for g in grads if g is not None)

    assert norm(routed[0.0]["rec"], e_au) == 0 < norm(routed[1.0]["rec"], e_au)
    assert norm(routed[0.0]["rec"], dec) == pytest.approx(norm(routed[1.0]["rec"], dec))
    assert norm(routed[0.0]["au_s"], e_au) == pytest.approx(norm(routed[1.0]["au_s"], e_au))
    with pytest.raises(ValueError, match="aux_grad_e_au"):
        dataclasses.replace(base, aux_grad_e_au=2.0)
    # feature_norm="batch": L_rep and L_ort on batch-standardised features
    _, std, _ = run(feature_norm="batch")
    assert std["rep_s"] != plain["rep_s"] and std["rec"] == plain["rec"]
    with pytest.raises(ValueError, match="feature_norm"):
        dataclasses.replace(base, feature_norm="layer")


def test_norm_stats_real_keeps_the_running_statistics_of_the_real_faces():
    torch.manual_seed(0)
    x_s, x_t = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32) + 1
    z_s = torch.tensor([[1.0, 0, -1, 1, 0, 1, 0, 0, 1, 1, 0, 0]]).repeat(4, 1)
    ids = torch.tensor([0, 0, 1, 1])

    def bn_buffers(model):
        return {k: v.clone() for k, v in model.state_dict().items() if "running" in k}

    start = D2CAModel(tiny_config())
    expected = dataclasses.replace(start.config)
    ref = D2CAModel(expected)
    ref.load_state_dict(start.state_dict())
    with torch.no_grad():  # what the real faces alone do to the statistics
        a_s, a_t = ref.encode_au(x_s), ref.encode_au(x_t)
        d_s, d_t = ref.encode_dm(x_s, "source"), ref.encode_dm(x_t, "target")
        ref.decode(a_t, d_s), ref.decode(a_s, d_t), ref.classify(a_s)
    after = {}
    for mode in ("real", "all"):
        model = D2CAModel(dataclasses.replace(start.config, norm_stats=mode))
        model.load_state_dict(start.state_dict())
        generator_loss(model, x_s, z_s, ids, x_t, model.config)
        after[mode] = bn_buffers(model)
    want = bn_buffers(ref)
    for k, v in want.items():
        torch.testing.assert_close(after["real"][k], v)
    assert any(not torch.allclose(after["all"][k], v) for k, v in want.items() if "e_au" in k)
    momenta = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert momenta == {0.1}  # restored after the block
    with pytest.raises(ValueError, match="norm_stats"):
        dataclasses.replace(start.config, norm_stats="none")


def test_au_t_rampup_weights_only_l_au_t():
    from d2ca.train.objective import rampup, weighted_terms

    values = [rampup(s, 10) for s in range(12)]
    assert values == sorted(values) and values[0] == pytest.approx(math.exp(-5))
    assert values[10] == values[11] == 1.0 == rampup(0, 0)
    terms = {k: torch.tensor(1.0) for k in ("au_s", "au_t", "rep_s", "rep_t", "rec")}
    terms |= {k: torch.tensor(1.0) for k in ("adv_s", "adv_t", "ort")}
    full, half = weighted_terms(terms, tiny_config()), weighted_terms(terms, tiny_config(), 0.5)
    assert half["au_t"] == 0.5 * full["au_t"]
    assert all(half[k] == full[k] for k in full if k != "au_t")
