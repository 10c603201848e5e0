"""SynthAU: determinism, AU locality, labels, domain statistics, manifests and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from d2ca.aus import au_name
from d2ca.cli import app
from d2ca.data.manifest import read_manifest
from d2ca.data.synth import (
    AUS,
    PRESETS,
    Identity,
    Scene,
    face_landmarks,
    frame_factors,
    render_dataset,
    render_face,
    sample_aus,
    sample_identity,
    sample_scene,
)
from d2ca.errors import InputError
from d2ca.io import OutputExistsError


def _sample(seed: int, preset: str = "wild"):
    rng = np.random.default_rng(seed)
    return sample_identity(rng, preset), sample_aus(rng, preset), sample_scene(rng, preset)


def test_same_seed_same_pixels_other_seed_differs():
    a = render_face(*_sample(3), size=64)
    b = render_face(*_sample(3), size=64)
    c = render_face(*_sample(4), size=64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c).mean() > 10


def test_dataset_independent_of_workers(tmp_path):
    kw = dict(subjects=3, frames_per_subject=2, size=32, seed=5)
    one = read_manifest(render_dataset(tmp_path / "one", "social", workers=1, **kw))
    two = read_manifest(render_dataset(tmp_path / "two", "social", workers=2, **kw))
    assert one.rows == two.rows
    for i in range(len(one)):
        assert one.image_path(i).read_bytes() == two.image_path(i).read_bytes()
    other = read_manifest(render_dataset(tmp_path / "other", "social", **{**kw, "seed": 6}))
    assert other.column("AU01_r") + other.column("yaw") != one.column("AU01_r") + one.column("yaw")


def _regions(pts: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
    """Upper face, eyes-and-cheeks and lower face masks from the rendered landmarks."""
    import cv2

    eye_y = (pts["eye_centre_l"][1] + pts["eye_centre_r"][1]) / 2
    brow_y = np.vstack([pts["brow_l"], pts["brow_r"]])[:, 1].mean()
    nose_y = np.vstack([pts["nostril_l"], pts["nostril_r"]])[:, 1].mean()
    mouth_top = pts["mouth"][:, 1].min()
    face = np.zeros((size, size), np.uint8)
    cv2.fillPoly(face, [np.round(pts["outline"]).astype(np.int32)], 1)
    face = cv2.dilate(face, np.ones((3, 3), np.uint8)).astype(bool)
    y = np.arange(size)[:, None].repeat(size, 1) + 0.5
    return {
        "upper": face & (y < eye_y + 0.25 * (nose_y - eye_y)),
        "eyes": face & (y > brow_y) & (y < mouth_top),
        "lower": face & (y > eye_y + 0.25 * (nose_y - eye_y)),
    }


REGION_OF = {1: "upper", 2: "upper", 4: "upper", 6: "eyes", 7: "eyes"}


@pytest.mark.parametrize(
    "size, identity, scene",
    [
        (64, Identity(), Scene()),
        (128, sample_identity(np.random.default_rng(8), "lab-a"), Scene(yaw=20.0, pitch=5.0)),
    ],
)
def test_each_au_changes_pixels_mainly_in_its_region(size, identity, scene):
    neutral = render_face(identity, {}, scene, size).astype(float)
    pts = face_landmarks(identity, {}, scene, size)
    regions = _regions(pts, size)
    x = np.arange(size)[None, :].repeat(size, 0) + 0.5
    midline = (pts["eye_centre_l"][0] + pts["eye_centre_r"][0]) / 2
    spread = {}
    for au in AUS:
        diff = np.abs(render_face(identity, {au: 5.0}, scene, size) - neutral).max(-1)
        region = regions[REGION_OF.get(au, "lower")]
        share = diff[region].sum() / diff.sum()
        assert share > 0.85, f"AU{au}: only {share:.0%} of the change inside its region"
        visible = (diff > 10).sum()
        assert visible >= 15 * (size / 64) ** 2, f"AU{au} is barely visible at {size}x{size}"
        spread[au] = (diff * np.abs(x - midline)).sum() / diff.sum()
    # FACS: AU1 raises the inner brows, AU2 the outer ones; AU14 acts at the lip corners
    assert spread[1] < spread[2] - size / 48
    assert spread[14] > spread[17]


def test_label_is_intensity_at_least_two(tmp_path):
    rng = np.random.default_rng(0)
    draws = np.stack([sample_aus(rng, "lab-a") for _ in range(300)])
    assert draws.min() >= 0 and draws.max() <= 5
    assert 0.05 < (draws >= 2).mean() < 0.5  # AUs are neither always on nor always off
    # prototypes make AUs co-occur: AU6 with AU12, AU1 with AU2
    on = draws >= 2
    i = {au: AUS.index(au) for au in AUS}
    assert on[on[:, i[6]], i[12]].mean() > on[:, i[12]].mean() + 0.2
    assert on[on[:, i[1]], i[2]].mean() > on[:, i[2]].mean() + 0.2
    m = read_manifest(
        render_dataset(tmp_path / "d", "lab-b", subjects=3, frames_per_subject=6, size=32)
    )
    intensities = np.array([[float(r[f"{au_name(a)}_r"]) for a in AUS] for r in m.rows])
    np.testing.assert_array_equal(m.labels, (intensities >= 2).astype(np.int8))


def test_frame_factors_render_a_datasets_frame_again(tmp_path):
    m = read_manifest(
        render_dataset(tmp_path / "d", "wild", subjects=2, frames_per_subject=3, size=32, seed=9)
    )
    import cv2

    for i, row in enumerate(m.rows):
        subject = int(row["subject"].rsplit("_s", 1)[1])
        idt, aus, scene = frame_factors("wild", subject, int(row["frame"]), seed=9)
        saved = cv2.imread(str(m.image_path(i)))[..., ::-1]
        np.testing.assert_array_equal(render_face(idt, aus, scene, 32), saved)
        assert [f"{v:.2f}" for v in aus] == [row[f"{au_name(a)}_r"] for a in AUS]
        assert scene.yaw == float(row["yaw"])
        # other AUs: the same face, pose and light, other pixels
        moved = render_face(idt, np.clip(aus + 3.0, 0, 5), scene, 32)
        assert 0 < np.abs(moved.astype(int) - saved).mean() < 20
    other = frame_factors("wild", 0, 0, seed=10)[1]
    assert not np.array_equal(other, frame_factors("wild", 0, 0, seed=9)[1])


def _stats(preset: str, n: int = 24, size: int = 48) -> dict[str, float]:
    rng = np.random.default_rng(11)
    corner, bright, cast, yaw = [], [], [], []
    for _ in range(n):
        identity, aus, scene = (f(rng, preset) for f in (sample_identity, sample_aus, sample_scene))
        img = render_face(identity, aus, scene, size).astype(float)
        corner.append(img[:6, :6].std(axis=(0, 1)).mean())
        centre = img[size // 3 : 2 * size // 3, size // 3 : 2 * size // 3]
        bright.append(centre.mean())
        cast.append(np.std(img.mean(axis=(0, 1))))
        yaw.append(scene.yaw)
    return {
        "corner": float(np.median(corner)),  # hair reaches a corner now and then
        "bright": float(np.mean(bright)),
        "cast": float(np.std(cast) + np.mean(cast)),
        "yaw": float(np.std(yaw)),
    }


def test_presets_differ_in_their_statistics():
    s = {name: _stats(name) for name in PRESETS}
    assert s["wild"]["corner"] > 3 * s["lab-a"]["corner"]  # cluttered vs plain background
    assert s["lab-a"]["bright"] > s["lab-b"]["bright"] + 20  # skin-tone population
    assert s["lab-a"]["bright"] > s["lab-c"]["bright"] + 12 > s["lab-b"]["bright"] + 12
    assert s["lab-c"]["yaw"] == s["lab-a"]["yaw"]  # lab-c is lab-a's studio
    assert s["wild"]["yaw"] > s["social"]["yaw"] > 2 * s["lab-a"]["yaw"]
    assert s["wild"]["cast"] > s["lab-a"]["cast"]


def test_manifest_round_trip_and_subject_disjoint_splits(tmp_path):
    out = tmp_path / "wild"
    path = render_dataset(out, "wild", subjects=6, frames_per_subject=2, size=32, seed=1)
    m = read_manifest(path)
    assert len(m) == 12 and m.au_names == tuple(au_name(a) for a in AUS)
    assert set(m.column("domain")) == {"wild"}
    assert set(m.subjects) == {f"wild_s{i:03d}" for i in range(6)}
    by_split = {s: set(m.split(s).subjects) for s in ("train", "val", "test")}
    assert [len(v) for v in by_split.values()] == [4, 1, 1]
    assert not (by_split["train"] & by_split["val"] or by_split["train"] & by_split["test"])
    assert {"yaw", "light_azimuth", "occluder", "jpeg"} <= set(m.rows[0])
    import cv2

    assert cv2.imread(str(m.image_path(0))).shape == (32, 32, 3)
    with pytest.raises(OutputExistsError):
        render_dataset(out, "wild", subjects=6, frames_per_subject=2, size=32, seed=1)
    # overwrite with fewer frames: stale images go, the manifest matches the folder
    render_dataset(out, "wild", subjects=2, frames_per_subject=1, size=32, overwrite=True)
    assert len(read_manifest(path)) == 2 and len(list((out / "images").glob("*.png"))) == 2


def test_interrupted_dataset_resumes(tmp_path):
    out = tmp_path / "d"
    kw = dict(subjects=2, frames_per_subject=2, size=32)
    path = render_dataset(out, "lab-a", **kw)
    first = (out / "images" / "lab-a_s000_f000.png").read_bytes()
    path.unlink()  # as if killed before the manifest was written
    (out / "images" / "lab-a_s001_f001.png").unlink()
    render_dataset(out, "lab-a", **kw)
    assert len(read_manifest(path)) == 4
    assert (out / "images" / "lab-a_s000_f000.png").read_bytes() == first


def test_bad_arguments_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="unknown SynthAU preset"):
        render_dataset(tmp_path, "studio", subjects=1, frames_per_subject=1)
    with pytest.raises(InputError, match="intensities"):
        render_face(Identity(), {12: 7.0})
    with pytest.raises(InputError, match="renders AUs"):
        render_face(Identity(), {9: 3.0})
    with pytest.raises(InputError, match="occluder"):
        Scene(occluder="hat")
    with pytest.raises(InputError, match="seed"):
        render_dataset(tmp_path, "wild", subjects=1, frames_per_subject=1, seed=-1)


def test_cli_end_to_end(tmp_path):
    runner = CliRunner()
    out = tmp_path / "synth"
    args = ["synth", str(out), "--preset", "lab-b", "--subjects", "3", "--frames", "2"]
    result = runner.invoke(app, [*args, "--size", "32", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert len(read_manifest(out / "manifest.csv")) == 6
    again = runner.invoke(app, [*args, "--size", "32"])
    assert again.exit_code == 1 and "error:" in again.output and "overwrite" in again.output
    assert runner.invoke(app, [*args, "--size", "32", "--overwrite"]).exit_code == 0
    bad = runner.invoke(app, ["synth", str(tmp_path / "x"), "--preset", "studio"])
    assert bad.exit_code == 1
    lines = [line for line in bad.output.splitlines() if line.strip()]
    assert lines == [
        "error: unknown SynthAU preset 'studio'; known: lab-a, lab-b, lab-c, social, wild"
    ]


def test_custom_preset_varies_one_factor(tmp_path):
    import dataclasses

    import cv2

    dark = dataclasses.replace(PRESETS["lab-a"], name="lab-a-dark", exposure=(0.5, 0.5))
    kw = dict(subjects=2, frames_per_subject=2, size=32)
    m_dark = read_manifest(render_dataset(tmp_path / "dark", dark, **kw))
    m_base = read_manifest(render_dataset(tmp_path / "base", "lab-a", **kw))
    assert (
        set(m_dark.column("domain")) == {"lab-a-dark"} and m_dark.subjects[0] == "lab-a-dark_s000"
    )
    mean = [
        np.mean([cv2.imread(str(m.image_path(i))).mean() for i in range(4)])
        for m in (m_dark, m_base)
    ]
    assert mean[0] < 0.7 * mean[1]


@pytest.mark.filterwarnings("error")
def test_extreme_poses_render_cleanly():
    aus = {a: 5.0 for a in AUS}
    for yaw, pitch, roll in ((55, 25, 30), (-55, -25, -30)):
        scene = Scene(yaw=yaw, pitch=pitch, roll=roll, shift_x=0.1, occluder="glasses")
        img = render_face(Identity(hair_style="curly"), aus, scene, size=48)
        pts = face_landmarks(Identity(hair_style="curly"), aus, scene, size=48)
        assert img.std() > 10  # a face, not a blank or a NaN-black canvas
        nose = np.vstack([pts["nostril_l"], pts["nostril_r"]]).mean(0)
        outline = pts["outline"]
        # the nose turns towards the side the face turns to
        assert np.sign(nose[0] - outline[:, 0].mean()) == np.sign(yaw)


def test_light_comes_from_where_the_scene_says():
    def halves(**light):
        img = render_face(Identity(), {}, Scene(ambient=0.2, **light), size=64).astype(float)
        face = img[16:48, 16:48].mean(-1)
        return face[:, :16].mean(), face[:, 16:].mean(), face[:16].mean(), face[16:].mean()

    left, right, _, _ = halves(light_azimuth=60.0, light_elevation=0.0)
    assert right > left + 20  # lit from the image's right
    _, _, top, bottom = halves(light_azimuth=0.0, light_elevation=60.0)
    assert top > bottom + 10  # lit from above
