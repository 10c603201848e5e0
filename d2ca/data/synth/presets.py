"""SynthAU domain presets: the nuisance factors that make one synthetic domain differ from another.

Each preset is a frozen :class:`Preset`; :data:`PRESETS` maps its name to it. The fields are
the paper's domain factors (head pose, alignment, illumination, shadows, skin-tone
population, background, occlusion, camera blur, noise, JPEG quality, resolution) plus the
AU base rates, given as the probabilities of expression prototypes (:data:`PROTOTYPES`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# Skin tones (sRGB, light to deep); a preset's population is a weighting of them.
SKIN_PALETTE: tuple[tuple[int, int, int], ...] = (
    (242, 208, 186),
    (226, 182, 150),
    (200, 148, 110),
    (162, 112, 78),
    (120, 80, 54),
    (82, 54, 38),
)
HAIR_PALETTE: tuple[tuple[int, int, int], ...] = (
    (28, 22, 20),  # black
    (62, 42, 30),  # dark brown
    (104, 72, 46),  # brown
    (196, 164, 112),  # blond
    (142, 72, 40),  # auburn
    (168, 166, 162),  # grey
)
IRIS_PALETTE: tuple[tuple[float, float, float], ...] = (
    (0.35, 0.22, 0.12),  # brown
    (0.2, 0.13, 0.08),  # dark brown
    (0.3, 0.45, 0.6),  # blue
    (0.35, 0.45, 0.3),  # green
)

# Expression prototypes: mean intensity (0-5) of each AU that a prototype activates.
PROTOTYPES: dict[str, dict[int, float]] = {
    "neutral": {},
    "happy": {6: 3.5, 12: 4.0},
    "polite-smile": {12: 2.5, 14: 1.5},
    "surprise": {1: 3.5, 2: 3.5},
    "anger": {4: 3.5, 7: 3.0, 23: 3.0, 24: 2.0},
    "sadness": {1: 3.0, 4: 2.5, 15: 3.0, 17: 2.0},
    "disgust": {4: 2.0, 10: 3.5, 17: 3.0},
    "pain": {4: 3.0, 6: 3.0, 7: 3.5, 10: 2.5},
    "contempt": {14: 3.5, 12: 1.5},
    "lip-press": {17: 2.5, 24: 3.5},
    "doubt": {4: 2.5, 15: 2.5, 17: 3.0, 23: 2.0},
}


@dataclass(frozen=True)
class Preset:
    """The distributions a SynthAU domain draws its nuisance factors and AUs from.

    Ranges are ``(low, high)`` of a uniform draw; ``*_std`` fields are standard deviations of
    a normal draw clipped at 2.5 standard deviations. Angles are in degrees.

    Example:
        >>> PRESETS["wild"].yaw_std > PRESETS["lab-a"].yaw_std
        True
    """

    name: str
    description: str
    skin_tones: tuple[float, ...]  # weights over SKIN_PALETTE
    yaw_std: float
    pitch_std: float
    roll_std: float
    scale_std: float  # std of the log of the face scale (alignment jitter)
    shift_std: float  # std of the face shift, as a fraction of the crop
    light_spread: float  # std of the light direction's angle from frontal
    ambient: tuple[float, float]  # share of light that is non-directional
    light_tint: float  # std of the light colour's deviation from white
    exposure: tuple[float, float]
    shadow_prob: float  # probability of a soft cast shadow across the crop
    background: str  # "plain", "blurred" (out-of-focus clutter) or "clutter"
    background_rgb: tuple[int, int, int]  # plain backgrounds: the colour (plus small jitter)
    glasses: float  # occlusion probabilities (at most one occluder per frame)
    sunglasses: float
    hand: float
    bar: float
    camera_res: tuple[float, float]  # rendered at this fraction of the crop, then upsampled
    blur: tuple[float, float]  # Gaussian blur sigma, in pixels of a 128x128 crop
    noise: tuple[float, float]  # sensor noise std, in 8-bit levels
    jpeg: tuple[int, int]  # JPEG quality range; 100 means no JPEG compression
    prototypes: tuple[tuple[str, float], ...]  # (prototype, probability) pairs
    au_noise: float  # per-AU probability of an independent activation

    def __post_init__(self) -> None:
        if len(self.skin_tones) != len(SKIN_PALETTE) or min(self.skin_tones) < 0:
            raise ValueError(f"{self.name}: skin_tones needs {len(SKIN_PALETTE)} weights >= 0")
        unknown = [p for p, _ in self.prototypes if p not in PROTOTYPES]
        if unknown:
            raise ValueError(f"{self.name}: unknown prototype(s) {', '.join(unknown)}")
        if self.background not in ("plain", "blurred", "clutter"):
            raise ValueError(f"{self.name}: unknown background {self.background!r}")


_LAB_FACTORS = dict(
    yaw_std=3.0,
    pitch_std=3.0,
    roll_std=2.0,
    scale_std=0.015,
    shift_std=0.008,
    light_spread=8.0,
    ambient=(0.55, 0.65),
    light_tint=0.015,
    shadow_prob=0.0,
    background="plain",
    glasses=0.0,
    sunglasses=0.0,
    hand=0.0,
    bar=0.0,
)

_LAB_A = Preset(
    name="lab-a",
    description="lab studio A: frontal, even light, grey-blue backdrop, "
    "mostly light skin tones, sharp camera",
    skin_tones=(0.35, 0.35, 0.2, 0.1, 0.0, 0.0),
    exposure=(0.98, 1.05),
    background_rgb=(150, 162, 178),
    camera_res=(1.0, 1.0),
    blur=(0.2, 0.4),
    noise=(0.5, 1.5),
    jpeg=(95, 100),
    prototypes=(
        ("neutral", 0.2),
        ("happy", 0.2),
        ("surprise", 0.12),
        ("pain", 0.12),
        ("disgust", 0.1),
        ("sadness", 0.1),
        ("anger", 0.08),
        ("lip-press", 0.08),
    ),
    au_noise=0.06,
    **_LAB_FACTORS,
)

PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _LAB_A,
        Preset(
            name="lab-b",
            description="lab studio B: frontal, even light, darker backdrop, "
            "mostly medium to dark skin tones, softer lower-resolution camera",
            skin_tones=(0.05, 0.15, 0.25, 0.3, 0.15, 0.1),
            exposure=(0.95, 1.02),
            background_rgb=(112, 108, 102),
            camera_res=(0.7, 0.8),
            blur=(0.5, 0.8),
            noise=(2.0, 3.5),
            jpeg=(85, 95),
            prototypes=(
                ("neutral", 0.25),
                ("happy", 0.15),
                ("polite-smile", 0.1),
                ("contempt", 0.1),
                ("doubt", 0.12),
                ("sadness", 0.1),
                ("anger", 0.1),
                ("lip-press", 0.08),
            ),
            au_noise=0.06,
            **_LAB_FACTORS,
        ),
        # lab-a's studio, light, camera and AU base rates with another population
        replace(
            _LAB_A,
            name="lab-c",
            description="lab studio C: lab-a's studio, light and camera, mostly medium skin tones",
            skin_tones=(0.1, 0.25, 0.3, 0.25, 0.1, 0.0),
        ),
        Preset(
            name="social",
            description="video calls and vlogs: moderate head motion, varied indoor light, "
            "out-of-focus rooms, some glasses, webcam compression",
            skin_tones=(0.2, 0.2, 0.2, 0.15, 0.15, 0.1),
            yaw_std=12.0,
            pitch_std=7.0,
            roll_std=6.0,
            scale_std=0.04,
            shift_std=0.02,
            light_spread=25.0,
            ambient=(0.4, 0.6),
            light_tint=0.06,
            exposure=(0.85, 1.1),
            shadow_prob=0.2,
            background="blurred",
            background_rgb=(128, 128, 128),
            glasses=0.2,
            sunglasses=0.0,
            hand=0.05,
            bar=0.0,
            camera_res=(0.55, 0.9),
            blur=(0.4, 1.2),
            noise=(2.0, 6.0),
            jpeg=(55, 85),
            prototypes=(
                ("neutral", 0.3),
                ("happy", 0.25),
                ("polite-smile", 0.15),
                ("surprise", 0.1),
                ("contempt", 0.05),
                ("doubt", 0.05),
                ("lip-press", 0.05),
                ("sadness", 0.05),
            ),
            au_noise=0.08,
        ),
        Preset(
            name="wild",
            description="in the wild: large pose, coloured directional light and shadows, "
            "cluttered backgrounds, occluders, blur, noise and heavy JPEG",
            skin_tones=(0.18, 0.18, 0.18, 0.16, 0.15, 0.15),
            yaw_std=20.0,
            pitch_std=8.0,
            roll_std=10.0,
            scale_std=0.06,
            shift_std=0.03,
            light_spread=40.0,
            ambient=(0.35, 0.55),
            light_tint=0.12,
            exposure=(0.85, 1.1),
            shadow_prob=0.4,
            background="clutter",
            background_rgb=(128, 128, 128),
            glasses=0.12,
            sunglasses=0.08,
            hand=0.1,
            bar=0.08,
            camera_res=(0.6, 1.0),
            blur=(0.4, 1.2),
            noise=(2.0, 8.0),
            jpeg=(40, 90),
            prototypes=(
                ("neutral", 0.35),
                ("happy", 0.3),
                ("polite-smile", 0.1),
                ("surprise", 0.08),
                ("anger", 0.05),
                ("disgust", 0.04),
                ("sadness", 0.04),
                ("pain", 0.04),
            ),
            au_noise=0.1,
        ),
    )
}
