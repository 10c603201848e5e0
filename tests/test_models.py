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
from d2ca.models import D2CAModel, encoder_complexity, frozen_norm_stats, stacked
from d2ca.models.networks import bilinear_matrix
from d2ca.train.objective import discriminator_loss, generator_loss, weighted_terms


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


@pytest.mark.parametrize(("channels_last", "aux_au"), [(False, False), (True, False), (True, True)])
def test_the_decoder_resizes_d_as_interpolate_did_and_keeps_the_layout(channels_last, aux_au):
    """The decoder's resize by matrices equals 0.1.0's F.interpolate, layer by layer; with
    ``dec_aux_au`` the auxiliary branch re-injects ``[a, d]``, not ``d``."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = D2CAModel(tiny_config(dec_aux_au=aux_au)).to(memory_format=fmt)
    dec = model.decoder
    a, d = (torch.randn(2, 16, 2, 2).contiguous(memory_format=fmt) for _ in range(2))
    h, aux = torch.cat([a, d], dim=1), iter(dec.aux)
    side = h if aux_au else d
    for i, layer in enumerate(dec.layers):  # the reference: F.interpolate of each aux map
        if i in dec.UPSAMPLE_BEFORE:
            h = torch.nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")
            d_i = next(aux)(side)
            d_i = torch.nn.functional.interpolate(d_i, size=h.shape[-2:], mode="bilinear")
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


@pytest.mark.parametrize("net", ["e_au", "decoder"])
def test_a_stacked_pass_equals_separate_passes(net):
    """stacked(n, ...) runs n inputs as one call: outputs, gradients (inputs and weights) and
    the running statistics, updated slice after slice, are those of n separate calls."""
    torch.manual_seed(0)
    start = D2CAModel(tiny_config())
    models = [D2CAModel(start.config) for _ in range(2)]
    for m in models:
        m.load_state_dict(start.state_dict())
    sizes = {"e_au": [(3, 32, 32)], "decoder": [(16, 2, 2), (16, 2, 2)]}[net]
    inputs = [[torch.randn(3, *s, requires_grad=True) for s in sizes] for _ in range(3)]
    outs = []
    for m, joined in zip(models, (False, True), strict=True):
        module = getattr(m, net)
        if joined:
            with stacked(3, module):
                out = module(*(torch.cat(parts) for parts in zip(*inputs, strict=True)))
        else:
            out = torch.cat([module(*x) for x in inputs])
        weights = torch.linspace(-1, 1, out.numel()).view_as(out)
        leaves = [*module.parameters(), *(x for xs in inputs for x in xs)]
        grads = torch.autograd.grad((out * weights).sum(), leaves)
        outs.append((out, grads, dict(module.state_dict())))
    (o1, g1, b1), (o2, g2, b2) = outs
    torch.testing.assert_close(o2, o1, rtol=1e-5, atol=1e-6)
    for a, b in zip(g1, g2, strict=True):  # sums in another order: relative to the norm
        assert float((b - a).norm()) <= 1e-4 * float(a.norm()) + 1e-7
    for k in b1:
        torch.testing.assert_close(b2[k], b1[k])
    assert all(m.passes == 1 for m in models[1].modules() if hasattr(m, "passes"))  # reset


def test_a_compiled_stacked_pass_equals_separate_passes():
    """Under torch.compile (inductor, as --compile) the stacked batch norm runs eagerly:
    traced, its in-place writes failed in inductor, and a concatenating version broke the
    next step's backward pass (its running statistics, saved for backward by an earlier
    call, were written by the stacked one). Two steps of a plain call and a stacked call of
    one small net, compiled, against the same eagerly."""
    from d2ca.models.layers import conv_block

    torch.manual_seed(0)
    net, ref = (torch.nn.Sequential(conv_block(3, 4), conv_block(4, 4, stride=2)) for _ in "ab")
    ref.load_state_dict(net.state_dict())
    net.compile()
    x = torch.randn(6, 3, 8, 8)
    for _ in range(2):
        outs = []
        for m in (net, ref):
            first = m(x[:2])
            with stacked(2, m):
                second = m(x[2:])
            outs.append(torch.cat([first, second]))
            (outs[-1].square().mean()).backward()
        torch.testing.assert_close(outs[0], outs[1], rtol=1e-5, atol=1e-6)
    for p, q in zip(net.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-6)
    for (k, v), w in zip(net.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, msg=k)


def test_two_compiled_steps_of_the_objective_equal_eager_ones():
    """The networks compiled as ``--compile`` does (per network; the aot_eager backend, which
    compiles in seconds) through two steps of the full objective: a concatenating stacked
    batch norm inside the compiled graphs failed the second backward pass here."""
    torch.manual_seed(0)
    start = D2CAModel(tiny_config())
    models = [D2CAModel(start.config).train() for _ in range(2)]
    for m in models:
        m.load_state_dict(start.state_dict())
        m.classifier.dropout.p = 0.0
    for part in (models[0].e_au, models[0].e_dm_s, models[0].e_dm_t, models[0].decoder):
        part.compile(backend="aot_eager")
    x_s, x_t = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    z_s, ids = torch.zeros(4, 12), torch.tensor([0, 0, 1, 1])
    for _ in range(2):
        totals = []
        for m in models:
            loss, _, swaps = generator_loss(m, x_s, z_s, ids, x_t, m.config)
            (loss + discriminator_loss(m, x_s, x_t, swaps)[0]).backward()
            totals.append(loss.detach())
        torch.testing.assert_close(totals[0], totals[1], rtol=1e-5, atol=1e-6)


def test_the_objective_equals_its_passes_written_one_by_one():
    """generator_loss stacks the passes of one network over several inputs; every term, every
    gradient and the running statistics must be those of the paper's passes one at a time
    (Eq. 1-12 written out below with the paper's E_au for every term, aux_grad_e_au=1)."""
    torch.manual_seed(0)
    cfg = tiny_config(aux_grad_e_au=1.0)
    start = D2CAModel(cfg)
    start.classifier.dropout.p = 0.0  # C runs twice a step: no random masks to line up
    ours, ref = D2CAModel(cfg), D2CAModel(cfg)
    for m in (ours, ref):
        m.load_state_dict(start.state_dict())
        m.classifier.dropout.p = 0.0
    x_s, x_t = torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32)
    z_s = torch.tensor([[1.0, 0, -1, 1, 0, 1, 0, 0, 1, 1, 0, 0]]).repeat(4, 1)
    ids = torch.tensor([0, 0, 1, 1])
    loss, got, _ = generator_loss(ours, x_s, z_s, ids, x_t, cfg)

    m = ref
    a_s, d_s = m.encode_au(x_s), m.encode_dm(x_s, "source")
    a_t, d_t = m.encode_au(x_t), m.encode_dm(x_t, "target")
    x_st, x_ts = m.decode(a_t, d_s), m.decode(a_s, d_t)
    with frozen_norm_stats(m):
        a_st, d_st = m.encode_au(x_st), m.encode_dm(x_st, "source")
        a_ts, d_ts = m.encode_au(x_ts), m.encode_dm(x_ts, "target")
        x_s_hat, x_t_hat = m.decode(a_ts, d_st), m.decode(a_st, d_ts)
        x_st_hat, x_ts_hat = m.decode(a_st, d_st), m.decode(a_ts, d_ts)
        pairs = [(a_s, d_s), (a_t, d_t), (a_st, d_st), (a_ts, d_ts)]
        for x, domain in ((x_s_hat, "source"), (x_t_hat, "target"),
                          (x_st_hat, "source"), (x_ts_hat, "target")):  # fmt: skip
            pairs.append((m.encode_au(x), m.encode_dm(x, domain)))
        logits_ts = m.classify(a_ts)
    want = {
        "ort": losses.orthogonality_loss(a_s, d_s) + losses.orthogonality_loss(a_t, d_t),
        "au_s": losses.au_loss(m.classify(a_s), z_s),
        "au_t": losses.au_loss(logits_ts, z_s),
        "rep_s": losses.feature_consistency_loss(a_t, a_st, d_s, d_st),
        "rep_t": losses.feature_consistency_loss(a_s, a_ts, d_t, d_ts),
        "rec": losses.reconstruction_loss(x_s, x_s_hat) + losses.reconstruction_loss(x_t, x_t_hat),
        "adv_s": losses.adversarial_g_loss(m.disc_s(x_st)),
        "adv_t": losses.adversarial_g_loss(m.disc_t(x_ts)),
        "icl": losses.image_contrastive_loss(torch.stack([m.proj(*p) for p in pairs]), cfg.tau),
        "fcl": losses.feature_contrastive_loss(d_s, ids, cfg.alpha),
    }
    for k, v in want.items():
        torch.testing.assert_close(got[k], v.detach(), rtol=1e-5, atol=1e-6, msg=k)
    loss.backward()
    sum(weighted_terms(want, cfg).values()).backward()
    for (k, p), q in zip(ours.named_parameters(), ref.parameters(), strict=True):
        if p.grad is None or q.grad is None:
            assert p.grad is q.grad is None, k
            continue
        assert float((p.grad - q.grad).norm()) <= 1e-4 * float(q.grad.norm()) + 1e-7, k
    for (k, v), w in zip(ours.state_dict().items(), ref.state_dict().values(), strict=True):
        torch.testing.assert_close(v, w, msg=k)


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
    # rec_loss="l2": Eq. 7 as a mean squared error, every other term as it was
    _, l2, _ = run(rec_loss="l2")
    assert l2["rec"] != plain["rec"] and l2["rep_s"] == plain["rep_s"]
    with pytest.raises(ValueError, match="rec_loss"):
        dataclasses.replace(base, rec_loss="l3")


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
