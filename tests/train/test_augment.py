"""On-device pair augmentation: identity, exact geometry, elastic field, noise statistics,
determinism and resume, vectorisation, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from studykit.errors import InputError
from studykit.train.augment import (
    AugmentConfig,
    PairAugmenter,
    SpatialParams,
    affine_grid,
    affine_theta,
    apply_spatial,
    elastic_displacement,
)

FULL = {"rotation_deg": 20, "scale": 0.1, "translate": 0.05, "hflip_p": 0.5, "vflip_p": 0.5,
        "elastic_px": 2.0, "gain": 0.2, "contrast": 0.2, "gamma": 0.2, "speckle": 0.2, "noise": 0.02}
SPATIAL = {key: FULL[key] for key in
           ("rotation_deg", "scale", "translate", "hflip_p", "vflip_p", "elastic_px")}




def pairs(n: int = 6, size: tuple[int, int] = (32, 32), seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 2, *size), dtype=torch.uint8, generator=generator)


def identity_params(n: int, size: tuple[int, int]) -> SpatialParams:
    return SpatialParams(affine=affine_theta(torch.zeros(n), torch.ones(n), torch.zeros(n, 2), size),
                         displacement=torch.zeros(n, *size, 2))


def ramps(n: int, size: tuple[int, int]) -> torch.Tensor:
    """Pairs whose panels are the x and the y pixel coordinate, scaled to [0, 1]."""
    h, w = size
    x = torch.arange(w, dtype=torch.float32).expand(h, w) / (w - 1)
    y = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w) / (h - 1)
    return torch.stack([x, y]).expand(n, 2, h, w).clone()


# ---------------------------------------------------------------- identity and exact geometry

@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32, torch.float64, torch.float16])
def test_zero_magnitudes_return_the_input_exactly(dtype):
    batch = pairs()
    batch = batch if dtype == torch.uint8 else (batch.to(torch.float64) / 255).to(dtype)
    out = PairAugmenter(AugmentConfig(), seed=3)(batch)
    expected = batch.to(torch.float32) / (255 if dtype == torch.uint8 else 1)
    assert out.dtype == torch.float32 and out.shape == batch.shape and out.device == batch.device
    assert torch.equal(out, expected)
    assert out.data_ptr() != batch.data_ptr()  # a new tensor: the caller's batch is never modified


@pytest.mark.parametrize("size", [(33, 33), (24, 40)])
def test_the_general_resampling_path_reproduces_the_input_with_an_identity_grid(size):
    images = pairs(4, size).float() / 255
    params = identity_params(4, size)
    assert torch.equal(apply_spatial(images, params, interpolation="nearest"), images)
    for mode in ("bilinear", "bicubic"):
        assert (apply_spatial(images, params, interpolation=mode) - images).abs().max() < 5e-6


def test_affine_grid_equals_torch_affine_grid():
    theta = torch.randn(5, 2, 3, generator=torch.Generator().manual_seed(1))
    for size in [(17, 17), (20, 31)]:
        expected = F.affine_grid(theta, [5, 1, *size], align_corners=False)
        assert (affine_grid(theta, size) - expected).abs().max() < 1e-6


@pytest.mark.parametrize(("key", "dims"), [("hflip_p", (-1,)), ("vflip_p", (-2,))])
def test_flip_with_probability_one_equals_torch_flip(key, dims):
    batch = pairs()
    out = PairAugmenter({key: 1.0})(batch)
    assert torch.equal(out, torch.flip(batch.float() / 255, dims))
    both = PairAugmenter({"hflip_p": 1.0, "vflip_p": 1.0})(batch)
    assert torch.equal(both, torch.flip(batch.float() / 255, (-2, -1)))


def test_random_flips_pick_either_the_image_or_its_mirror_per_pair():
    batch = pairs(64).float() / 255
    out = PairAugmenter({"hflip_p": 0.5}, seed=2)(batch)
    kept = (out == batch).flatten(1).all(1)
    mirrored = (out == batch.flip(-1)).flatten(1).all(1)
    assert torch.all(kept | mirrored) and 10 < int(mirrored.sum()) < 54


def test_flips_folded_into_the_resampling_grid_match_exact_flips():
    images = pairs(4).float() / 255
    params = identity_params(4, (32, 32))
    params.hflip, params.vflip = torch.tensor([1, 0, 1, 0]).bool(), torch.tensor([1, 1, 0, 0]).bool()
    expected = torch.stack([images[0].flip(-1).flip(-2), images[1].flip(-2), images[2].flip(-1), images[3]])
    assert (apply_spatial(images, params) - expected).abs().max() < 5e-6


def rotation(n: int, degrees: float, size: tuple[int, int]) -> torch.Tensor:
    return affine_theta(torch.full((n,), degrees), torch.ones(n), torch.zeros(n, 2), size)


def test_rotation_by_90_degrees_equals_rot90():
    images = pairs(3, (31, 31)).float() / 255
    quarter = SpatialParams(affine=rotation(3, 90.0, (31, 31)))
    expected = torch.rot90(images, 1, (-2, -1))
    assert torch.equal(apply_spatial(images, quarter, interpolation="nearest"), expected)
    assert (apply_spatial(images, quarter) - expected).abs().max() < 5e-6
    half = SpatialParams(affine=rotation(3, 180.0, (31, 31)))
    assert torch.equal(apply_spatial(images, half, interpolation="nearest"), images.flip(-2, -1))


def test_zoom_and_shift_move_pixel_coordinates_as_documented():
    h, w = 40, 40
    params = SpatialParams(affine=affine_theta(torch.zeros(1), torch.full((1,), 2.0),
                                               torch.tensor([[0.1, -0.05]]), (h, w)))
    out = apply_spatial(ramps(1, (h, w)), params, padding_mode="border")
    cx, cy = (w - 1) / 2, (h - 1) / 2  # output pixel p samples input centre + (p - centre) / zoom + shift
    for i, j in [(10, 20), (25, 15), (19, 30)]:
        assert out[0, 0, i, j] * (w - 1) == pytest.approx(cx + (j - cx) / 2 + 0.1 * w, abs=1e-3)
        assert out[0, 1, i, j] * (h - 1) == pytest.approx(cy + (i - cy) / 2 - 0.05 * h, abs=1e-3)


# ---------------------------------------------------------------- elastic field

def test_elastic_field_has_the_configured_mean_length_and_a_bounded_gradient():
    magnitude, points, side = 3.0, 4, 64
    field = elastic_displacement(500, (side, side), magnitude_px=magnitude, grid_points=points,
                                 generator=torch.Generator().manual_seed(0))
    assert field.shape == (500, side, side, 2)
    torch.testing.assert_close(field.norm(dim=-1).mean(dim=(1, 2)), torch.full((500,), magnitude))
    step = torch.maximum((field[:, :, 1:] - field[:, :, :-1]).abs().amax(dim=(1, 2, 3)),
                         (field[:, 1:] - field[:, :-1]).abs().amax(dim=(1, 2, 3)))
    spacing = (side - 1) / (points - 1)  # pixels between control points
    assert step.max() < 12 * magnitude / spacing  # smooth: ≈ 4 × on average, < 9 × in 2000 draws
    curvature = (field[:, :, 2:] - 2 * field[:, :, 1:-1] + field[:, :, :-2]).abs().amax()
    assert curvature < 0.2 * step.max()


def test_elastic_displacement_is_applied_in_pixels_to_the_sampling_grid():
    size = (48, 48)
    field = elastic_displacement(2, size, magnitude_px=2.0, generator=torch.Generator().manual_seed(5))
    out = apply_spatial(ramps(2, size), SpatialParams(displacement=field), padding_mode="border")
    recovered = torch.stack([out[:, 0] * (size[1] - 1), out[:, 1] * (size[0] - 1)], dim=-1)
    base = torch.stack([ramps(1, size)[0, 0] * (size[1] - 1), ramps(1, size)[0, 1] * (size[0] - 1)], dim=-1)
    inner = (slice(None), slice(8, -8), slice(8, -8))
    assert ((recovered - base)[inner] - field[inner]).abs().max() < 1e-3


def test_the_augmenter_elastic_stage_reaches_its_configured_magnitude():
    size = (64, 64)
    out = PairAugmenter({"elastic_px": 1.5, "padding_mode": "border"}, seed=9)(ramps(8, size))
    expected = elastic_displacement(8, size, magnitude_px=1.5, generator=torch.Generator().manual_seed(9))
    pixel = torch.arange(64.0)
    moved = torch.stack([out[:, 0] * 63 - pixel, out[:, 1] * 63 - pixel[:, None]], dim=-1)
    inner = (slice(None), slice(6, -6), slice(6, -6))
    assert (moved[inner] - expected[inner]).abs().max() < 1e-3


# ---------------------------------------------------------------- pairs: shared and independent geometry

def identical_panels(n: int = 8) -> torch.Tensor:
    one = pairs(n)[:, :1]
    return torch.cat([one, one], dim=1)


def test_shared_mode_gives_both_panels_the_same_transform():
    out = PairAugmenter(SPATIAL, seed=1)(identical_panels())
    assert torch.equal(out[:, 0], out[:, 1])
    assert not torch.equal(out, identical_panels().float() / 255)


def test_independent_mode_draws_a_transform_per_panel():
    out = PairAugmenter({**SPATIAL, "pair_spatial": "independent"}, seed=1)(identical_panels())
    differs = (out[:, 0] - out[:, 1]).abs().flatten(1).amax(1) > 1e-3
    assert differs.all()


def test_intensity_is_drawn_per_panel_even_in_shared_mode():
    out = PairAugmenter({"gain": 0.3}, seed=1)(identical_panels())
    ratio = out[:, 0].flatten(1).sum(1) / out[:, 1].flatten(1).sum(1)
    assert ((ratio - 1).abs() > 1e-4).all()


# ---------------------------------------------------------------- intensity statistics

def test_speckle_has_mean_one_and_the_configured_spread():
    flat = torch.full((16, 2, 64, 64), 0.25)
    factor = PairAugmenter({"speckle": 0.3}, seed=0)(flat) / 0.25
    assert factor.mean().item() == pytest.approx(1.0, abs=0.005)
    assert factor.std().item() == pytest.approx(0.3, abs=0.01)
    assert factor.min() > 0


def test_additive_noise_has_mean_zero_and_the_configured_sd():
    noise = PairAugmenter({"noise": 0.05}, seed=0)(torch.full((16, 2, 64, 64), 0.5)) - 0.5
    assert noise.mean().item() == pytest.approx(0.0, abs=0.002)
    assert noise.std().item() == pytest.approx(0.05, abs=0.002)


def test_gain_contrast_and_gamma_stay_within_their_ranges():
    batch = (pairs(32).float() / 255) * 0.5 + 0.25
    gain = PairAugmenter({"gain": 0.2}, seed=0)(batch) / batch
    per_panel = gain.flatten(2)
    assert torch.allclose(per_panel, per_panel[..., :1].expand_as(per_panel), atol=1e-5)
    assert per_panel.min() >= 0.8 - 1e-6 and per_panel.max() <= 1.2 + 1e-6
    contrast = PairAugmenter({"contrast": 0.5}, seed=0)(batch)
    torch.testing.assert_close(contrast.mean(dim=(-2, -1)), batch.mean(dim=(-2, -1)), atol=1e-5, rtol=0)
    exponent = torch.log(PairAugmenter({"gamma": 0.3}, seed=0)(batch)) / torch.log(batch)
    assert exponent.min() >= torch.exp(torch.tensor(-0.3)) - 1e-4
    assert exponent.max() <= torch.exp(torch.tensor(0.3)) + 1e-4


def test_output_is_float32_in_the_unit_interval():
    out = PairAugmenter({**FULL, "gain": 0.9, "noise": 0.5}, seed=0)(pairs(8))
    assert out.dtype == torch.float32 and out.min() >= 0 and out.max() <= 1


# ---------------------------------------------------------------- determinism, resume, vectorisation

def test_same_seed_same_batches_other_seed_other_batches():
    batch = pairs(8)
    a, b = PairAugmenter(FULL, seed=11), PairAugmenter(FULL, seed=11)
    first, second = a(batch), a(batch)
    assert torch.equal(first, b(batch)) and torch.equal(second, b(batch))
    assert not torch.equal(first, second)
    assert not torch.equal(first, PairAugmenter(FULL, seed=12)(batch))


def test_an_explicit_generator_is_used_and_the_own_state_is_untouched():
    batch = pairs(4)
    augment = PairAugmenter(FULL, seed=5)
    out = augment(batch, generator=torch.Generator().manual_seed(5))
    assert augment.state_dict()["generator"] is None
    assert torch.equal(out, augment(batch))


def test_state_dict_resume_reproduces_the_next_batches():
    batch = pairs(4)
    run = PairAugmenter(FULL, seed=2)
    fresh_state = run.state_dict()
    run(batch)
    state = run.state_dict()
    expected = [run(batch), run(batch)]
    resumed = PairAugmenter(FULL, seed=2)
    resumed.load_state_dict(state)
    assert all(torch.equal(resumed(batch), e) for e in expected)
    resumed.load_state_dict(fresh_state)  # a state saved before any batch restarts the stream
    assert torch.equal(resumed(batch), PairAugmenter(FULL, seed=2)(batch))


@pytest.mark.parametrize("pair_spatial", ["shared", "independent"])
def test_a_batch_of_256_is_resampled_by_one_grid_sample_call(monkeypatch, pair_spatial):
    calls = []
    original = F.grid_sample

    def counting(images, grid, **kwargs):
        calls.append(tuple(images.shape))
        return original(images, grid, **kwargs)

    monkeypatch.setattr(F, "grid_sample", counting)
    out = PairAugmenter({**FULL, "pair_spatial": pair_spatial}, seed=0)(pairs(256, (24, 24)))
    assert out.shape == (256, 2, 24, 24)
    assert calls == [(256, 2, 24, 24)] if pair_spatial == "shared" else calls == [(512, 1, 24, 24)]


def test_single_panel_batches_work():
    out = PairAugmenter(FULL, seed=0)(pairs(4)[:, :1])
    assert out.shape == (4, 1, 32, 32)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_batches_stay_on_the_device_and_are_reproducible():
    batch = pairs(8).cuda()
    out = PairAugmenter(FULL, seed=1)(batch)
    assert out.device == batch.device and out.dtype == torch.float32
    assert torch.equal(out, PairAugmenter(FULL, seed=1)(batch))
    resumed = PairAugmenter(FULL, seed=1)
    resumed.load_state_dict(PairAugmenter(FULL, seed=1).state_dict())
    assert torch.equal(resumed(batch), out)


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize(("settings", "message"), [
    ({"rotation_deg": -5}, r"^'rotation_deg': the maximum rotation in degrees must be a number "
                           r"in \[0, 180\]; got -5\.\n  hint: 0 switches this augmentation off\.$"),
    ({"scale": 1.0}, r"'scale': the zoom factor .* must be a number in \[0, 1\); got 1.0"),
    ({"hflip_p": 1.5}, r"'hflip_p': the probability of a horizontal flip must be a number in \[0, 1\]; "
                       r"got 1.5"),
    ({"speckle": float("nan")}, r"'speckle': .* must be a number ≥ 0; got nan"),
    ({"noise": "0.1"}, r"'noise': .* got '0.1'"),
    ({"elastic_px": True}, r"'elastic_px': the mean elastic displacement in pixels .* got True"),
    ({"elastic_grid": 1}, r"'elastic_grid': the elastic control points per side must be an integer ≥ 2; "
                          r"got 1"),
])
def test_error_bad_magnitudes(settings, message):
    with pytest.raises(InputError, match=message) as info:
        AugmentConfig.from_dict(settings)
    assert info.value.field == next(iter(settings))


def test_error_unknown_choice_or_setting_suggests_the_close_name():
    with pytest.raises(InputError, match=r"'pair_spatial': must be one of 'shared', 'independent'; "
                                         r"got 'shraed'\.\n  hint: did you mean 'shared'\?"):
        AugmentConfig(pair_spatial="shraed")
    with pytest.raises(InputError, match=r"(?s)'interpolation': must be one of .* got 'cubic'.*"
                                         r"did you mean 'bicubic'"):
        AugmentConfig(interpolation="cubic")
    with pytest.raises(InputError, match=r"unknown augmentation setting 'rotation'\.\n  hint: did you mean "
                                         r"'rotation_deg'\?"):
        PairAugmenter({"rotation": 10})
    with pytest.raises(InputError, match=r"(?s)unknown augmentation setting 'zzz'.*"
                                         r"known settings: rotation_deg"):
        AugmentConfig.from_dict({"zzz": 1})


def test_config_round_trips_through_a_dict():
    config = AugmentConfig.from_dict(FULL)
    assert AugmentConfig.from_dict(config.to_dict()) == config and config.rotation_deg == 20.0


@pytest.mark.parametrize(("batch", "message"), [
    (torch.zeros(2, 32, 32), r"'batch': must have shape N × C × H × W .* got \(2, 32, 32\)"),
    (torch.zeros(0, 2, 8, 8), r"no empty dimension; got \(0, 2, 8, 8\)"),
    (torch.zeros(2, 2, 8, 8, dtype=torch.int64),
     r"must be uint8 \(0–255\) or floating point .* got torch.int64"),
    ([[0.0]], r"must be a torch.Tensor N × C × H × W; got list"),
])
def test_error_bad_batches(batch, message):
    with pytest.raises(InputError, match=message):
        PairAugmenter(FULL)(batch)


def test_error_bad_seed_generator_or_state():
    with pytest.raises(InputError, match=r"'seed': must be a non-negative integer; got -1"):
        PairAugmenter(FULL, seed=-1)
    with pytest.raises(InputError, match=r"'generator': must be a torch.Generator; got int"):
        PairAugmenter(FULL)(pairs(2), generator=3)
    with pytest.raises(InputError, match="another seed or other settings"):
        PairAugmenter(FULL, seed=1).load_state_dict(PairAugmenter(FULL, seed=2).state_dict())
    with pytest.raises(InputError, match="is not a PairAugmenter state"):
        PairAugmenter(FULL).load_state_dict({"seed": 0})
