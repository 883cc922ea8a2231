"""Procedural street scenes with pixel labels in the Cityscapes train ids.

A scene is laid out like a street view (sky, buildings along a horizon, a
road in perspective, sidewalks, vegetation, poles with signs and lights,
cars, buses, people, bicycles) and painted class by class with a texture and
a colour drawn from a :class:`SceneStyle`. Styles are the controllable
domain factors: palette, textures, lighting and noise, blur, horizon height,
object sizes and density. Rendering is deterministic for a given
``numpy.random.Generator``.
"""
from dataclasses import dataclass, field
from typing import Dict, Tuple

import cv2
import numpy as np

# Cityscapes train ids.
ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN = range(8)
VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR, TRUCK, BUS = range(8, 16)
TRAIN, MOTORCYCLE, BICYCLE = 16, 17, 18
NUM_CLASSES = 19
IGNORE = 255

#: Reference appearance: (RGB colour, texture kind) per train id.
BASE_APPEARANCE = {
    ROAD: ((90, 88, 92), 'grain'),
    SIDEWALK: ((150, 130, 140), 'tiles'),
    BUILDING: ((110, 100, 90), 'windows'),
    WALL: ((140, 135, 120), 'grain'),
    FENCE: ((150, 120, 100), 'lattice'),
    POLE: ((120, 120, 125), 'flat'),
    LIGHT: ((60, 55, 40), 'flat'),
    SIGN: ((210, 190, 40), 'flat'),
    VEGETATION: ((70, 120, 40), 'foliage'),
    TERRAIN: ((140, 160, 90), 'grain'),
    SKY: ((140, 180, 225), 'gradient'),
    PERSON: ((160, 60, 70), 'flat'),
    RIDER: ((200, 80, 50), 'flat'),
    CAR: ((40, 60, 140), 'flat'),
    TRUCK: ((60, 70, 90), 'flat'),
    BUS: ((200, 170, 60), 'windows'),
    TRAIN: ((80, 120, 130), 'windows'),
    MOTORCYCLE: ((30, 30, 160), 'flat'),
    BICYCLE: ((120, 30, 40), 'flat'),
}


@dataclass(frozen=True)
class SceneStyle:
    """Domain factors of a family of scenes.

    Args:
        palette_shift (float): 0 keeps the reference colours; 1 replaces
            each class colour by a random one drawn from ``palette_seed``.
        palette_seed (int): Seed of the replacement palette.
        texture_strength (float): Amplitude of the class textures.
        brightness (float): Additive lighting offset (0-255 scale).
        contrast (float): Multiplicative contrast about mid-grey.
        noise_std (float): Per-pixel Gaussian sensor noise.
        blur_sigma (float): Gaussian blur of the final image, in pixels.
        horizon (float): Horizon height as a fraction of the image height.
        object_scale (float): Size multiplier of cars, people and poles.
        density (float): Multiplier of the expected number of objects.
        colour_jitter (float): Per-instance colour jitter.
        shifted_classes (tuple[int]): Train ids whose colours the palette
            shift changes; empty (default): every class. A few classes
            make a *local* domain shift: those regions look different, the
            rest of the scene alike.
    """

    palette_shift: float = 0.0
    palette_seed: int = 0
    texture_strength: float = 1.0
    brightness: float = 0.0
    contrast: float = 1.0
    noise_std: float = 6.0
    blur_sigma: float = 0.0
    horizon: float = 0.45
    object_scale: float = 1.0
    density: float = 1.0
    colour_jitter: float = 18.0
    shifted_classes: Tuple[int, ...] = ()
    appearance: Dict[int, Tuple[Tuple[int, int, int], str]] = field(
        default_factory=lambda: dict(BASE_APPEARANCE), compare=False)

    def palette(self) -> np.ndarray:
        """Class colours ``(19, 3)`` after the palette shift."""
        base = np.array([self.appearance[c][0] for c in range(NUM_CLASSES)],
                        dtype=np.float64)
        other = np.random.default_rng(self.palette_seed).uniform(
            30, 225, base.shape)
        shift = np.full((NUM_CLASSES, 1), self.palette_shift)
        if self.shifted_classes:
            unknown = set(self.shifted_classes) - set(range(NUM_CLASSES))
            if unknown:
                raise ValueError(f'shifted_classes must be train ids 0-18, '
                                 f'got {sorted(unknown, key=str)}')
            kept = np.ones(NUM_CLASSES, bool)
            kept[list(self.shifted_classes)] = False
            shift[kept] = 0
        return (1 - shift) * base + shift * other


class _Canvas:
    """Label map being drawn; later shapes overwrite earlier ones."""

    def __init__(self, height: int, width: int) -> None:
        self.labels = np.full((height, width), SKY, dtype=np.uint8)
        self.instance = np.zeros((height, width), dtype=np.int32)
        self.count = 0

    def polygon(self, points, label: int) -> None:
        self.count += 1
        pts = np.round(np.asarray(points)).astype(np.int32)
        mask = np.zeros(self.labels.shape, np.uint8)
        cv2.fillPoly(mask, [pts], 1)
        self.labels[mask > 0] = label
        self.instance[mask > 0] = self.count

    def rect(self, x0, y0, x1, y1, label: int) -> None:
        self.polygon([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], label)

    def ellipse(self, cx, cy, rx, ry, label: int) -> None:
        self.count += 1
        mask = np.zeros(self.labels.shape, np.uint8)
        cv2.ellipse(mask, (int(round(cx)), int(round(cy))),
                    (max(1, int(round(rx))), max(1, int(round(ry)))), 0, 0,
                    360, 1, -1)
        self.labels[mask > 0] = label
        self.instance[mask > 0] = self.count


#: Vehicle (width, height) in units of its depth-scaled size.
VEHICLE_SHAPES = {
    CAR: (1.6, 1.0),
    TRUCK: (1.8, 1.6),
    BUS: (2.2, 1.8),
    TRAIN: (3.0, 1.9),
    MOTORCYCLE: (0.5, 0.7),
    BICYCLE: (0.45, 0.7),
}


@dataclass(frozen=True)
class _Street:
    """Perspective of one scene: a horizon, a vanishing point and a road."""

    height: int
    width: int
    horizon: float
    vanish_x: float
    road_half: float
    walk: float
    scale: float

    @classmethod
    def draw(cls, rng: np.random.Generator, style: SceneStyle, height: int,
             width: int) -> '_Street':
        """A random street of ``style``'s horizon and object scale."""
        return cls(
            height=height,
            width=width,
            horizon=height *
            np.clip(style.horizon + rng.normal(0, 0.03), 0.2, 0.7),
            vanish_x=width * rng.uniform(0.4, 0.6),
            road_half=width * rng.uniform(0.35, 0.55),
            walk=width * rng.uniform(0.12, 0.25),
            scale=style.object_scale * height / 128)

    def depth_y(self, depth: float) -> float:
        """y of a point ``depth`` of the way from the horizon down."""
        return self.horizon + (self.height - self.horizon) * depth

    def depth_of(self, y: float) -> float:
        """How far ``y`` is from the horizon down (the inverse of
        :meth:`depth_y`)."""
        return (y - self.horizon) / (self.height - self.horizon)

    def ground_x(self, y: float, offset: float) -> float:
        """x of a point at depth y, offset in road half-widths."""
        return self.vanish_x + offset * self.road_half * self.depth_of(y)


def _layout(rng: np.random.Generator, style: SceneStyle, height: int,
            width: int) -> _Canvas:
    """Draw the label map of one scene."""
    canvas = _Canvas(height, width)
    street = _Street.draw(rng, style, height, width)
    _draw_skyline(canvas, rng, street)
    _draw_ground(canvas, rng, street, style.density)
    _draw_poles(canvas, rng, street, style)
    _draw_vehicles(canvas, rng, street, style.density)
    _draw_people(canvas, rng, street, style.density)
    return canvas


def _draw_skyline(canvas: _Canvas, rng: np.random.Generator,
                  street: _Street) -> None:
    """Buildings, walls and vegetation along the horizon."""
    horizon, height, width = street.horizon, street.height, street.width
    x = 0.0
    while x < width:
        w = width * rng.uniform(0.08, 0.22)
        top = horizon - height * rng.uniform(0.05, 0.4)
        kind = rng.choice([BUILDING, BUILDING, BUILDING, VEGETATION, WALL],
                          p=[0.3, 0.25, 0.2, 0.17, 0.08])
        if kind == VEGETATION:
            canvas.ellipse(x + w / 2, top + (horizon - top) / 2, w / 1.6,
                           (horizon - top) / 1.7, VEGETATION)
        else:
            canvas.rect(x, top, x + w, horizon + 2, kind)
        x += w


def _draw_ground(canvas: _Canvas, rng: np.random.Generator, street: _Street,
                 density: float) -> None:
    """Terrain, sidewalks, the road and sometimes a fence."""
    horizon, height, width = street.horizon, street.height, street.width
    vanish_x, road_half, walk = street.vanish_x, street.road_half, street.walk
    canvas.rect(0, horizon, width, height, TERRAIN)
    left = [(vanish_x - 2, horizon), (vanish_x - road_half - walk, height),
            (0, height), (0, street.depth_y(0.35))]
    right = [(vanish_x + 2, horizon), (vanish_x + road_half + walk, height),
             (width, height), (width, street.depth_y(0.35))]
    for side in (left, right):
        if rng.random() < 0.5:
            canvas.polygon(side, TERRAIN)
    canvas.polygon([(vanish_x - 3, horizon), (vanish_x + 3, horizon),
                    (vanish_x + road_half + walk, height),
                    (vanish_x - road_half - walk, height)], SIDEWALK)
    canvas.polygon([(vanish_x - 1, horizon), (vanish_x + 1, horizon),
                    (vanish_x + road_half, height),
                    (vanish_x - road_half, height)], ROAD)
    if rng.random() < 0.5 * density:
        y0 = street.depth_y(rng.uniform(0.1, 0.3))
        side = rng.choice([-1, 1])
        x_edge = vanish_x + side * (road_half + walk) * (y0 - horizon) / (
            height - horizon)
        canvas.rect(
            min(x_edge, x_edge + side * width * 0.3), y0 - 8 * street.scale,
            max(x_edge, x_edge + side * width * 0.3), y0, FENCE)


def _draw_poles(canvas: _Canvas, rng: np.random.Generator, street: _Street,
                style: SceneStyle) -> None:
    """Poles on the sidewalks, some with a sign or a light."""
    for _ in range(rng.poisson(2.0 * style.density)):
        y = street.depth_y(rng.uniform(0.15, 0.9))
        t = street.depth_of(y)
        xp = street.ground_x(y, rng.choice([-1, 1]) * rng.uniform(1.05, 1.3))
        h = street.height * 0.45 * t * style.object_scale + 4
        w = max(1.0, 2.5 * t * street.scale)
        canvas.rect(xp - w / 2, y - h, xp + w / 2, y, POLE)
        kind = rng.choice([SIGN, LIGHT, None], p=[0.4, 0.3, 0.3])
        if kind is not None:
            s = max(2.0, 6 * t * street.scale)
            canvas.rect(xp - s, y - h - s * (1.6 if kind == LIGHT else 1),
                        xp + s, y - h + s * 0.2, kind)


def _draw_vehicles(canvas: _Canvas, rng: np.random.Generator, street: _Street,
                   density: float) -> None:
    """Vehicles on the road, far ones first; riders on two-wheelers."""
    for depth in sorted(rng.uniform(0.05, 0.95, rng.poisson(3.0 * density))):
        y = street.depth_y(depth)
        kind = rng.choice([CAR, TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE],
                          p=[0.62, 0.12, 0.1, 0.03, 0.06, 0.07])
        xc = street.ground_x(y, rng.uniform(-0.75, 0.75))
        size = street.scale * 26 * depth + 2
        w, h = (ratio * size for ratio in VEHICLE_SHAPES[kind])
        canvas.rect(xc - w / 2, y - h, xc + w / 2, y, kind)
        if kind in (MOTORCYCLE, BICYCLE):
            canvas.ellipse(xc, y - h - 0.5 * size, 0.22 * size, 0.55 * size,
                           RIDER)


def _draw_people(canvas: _Canvas, rng: np.random.Generator, street: _Street,
                 density: float) -> None:
    """People on the sidewalks."""
    for _ in range(rng.poisson(2.5 * density)):
        depth = rng.uniform(0.1, 0.95)
        y = street.depth_y(depth)
        xc = street.ground_x(y, rng.choice([-1, 1]) * rng.uniform(1.0, 1.25))
        size = street.scale * 22 * depth + 2
        canvas.ellipse(xc, y - size / 2, size * 0.18, size / 2, PERSON)


def _texture(kind: str, shape: Tuple[int, int], rng: np.random.Generator,
             strength: float) -> np.ndarray:
    """Luminance texture in about [-1, 1] times ``strength`` * 20."""
    height, width = shape
    yy, xx = np.mgrid[0:height, 0:width]
    period = max(3, height // 16)
    phase_y, phase_x = rng.integers(0, period, 2)
    if kind == 'windows':
        tex = (((yy + phase_y) % period < period // 2) &
               ((xx + phase_x) % period < period // 2)) * -1.6 + 0.6
    elif kind == 'tiles':
        tex = (((yy + phase_y) % period == 0) |
               ((xx + phase_x) % period == 0)) * -1.2 + 0.2
    elif kind == 'lattice':
        tex = np.sin((xx + yy + phase_x) * 2.1) * np.sin((xx - yy) * 2.1)
    elif kind == 'foliage':
        coarse = rng.normal(0, 1, (height // 4 + 1, width // 4 + 1))
        tex = cv2.resize(
            coarse, (width, height), interpolation=cv2.INTER_CUBIC)
        tex += 0.6 * rng.normal(0, 1, shape)
    elif kind == 'grain':
        tex = 0.7 * rng.normal(0, 1, shape)
    elif kind == 'gradient':
        tex = (yy / max(1, height - 1) - 0.5) * 2.0
    else:
        tex = np.zeros(shape)
    return 20.0 * strength * tex


def _paint(canvas: _Canvas, style: SceneStyle,
           rng: np.random.Generator) -> np.ndarray:
    """Colour the label map into an RGB image."""
    shape = canvas.labels.shape
    palette = style.palette()
    image = np.zeros(shape + (3, ), np.float64)
    textures = {}
    for label in np.unique(canvas.labels):
        kind = style.appearance[int(label)][1]
        if kind not in textures:
            textures[kind] = _texture(kind, shape, rng, style.texture_strength)
    for instance in np.unique(canvas.instance):
        mask = canvas.instance == instance
        label = int(canvas.labels[mask][0])
        colour = palette[label] + rng.normal(0, style.colour_jitter, 3)
        kind = style.appearance[label][1]
        image[mask] = colour + textures[kind][mask][:, None]
    image = (image - 128) * style.contrast + 128 + style.brightness
    image += rng.normal(0, style.noise_std, image.shape)
    if style.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), style.blur_sigma)
    return np.clip(image, 0, 255).astype(np.uint8)


def render_scene(rng: np.random.Generator, style: SceneStyle,
                 size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Render one scene.

    Args:
        rng (numpy.random.Generator): Source of randomness.
        style (SceneStyle): Domain factors.
        size (tuple[int, int]): ``(height, width)``.

    Returns:
        tuple[ndarray, ndarray]: ``(H, W, 3)`` uint8 RGB image and ``(H, W)``
        uint8 train-id label map.
    """
    canvas = _layout(rng, style, *size)
    return _paint(canvas, style, rng), canvas.labels


__all__ = ['SceneStyle', 'render_scene', 'NUM_CLASSES', 'IGNORE']
