"""The pair augmenter: :class:`PairAugmenter` runs the stages on a batch and carries its state.

It checks the batch (``N × C × H × W``, uint8 or float), converts it to ``float32`` in
[0, 1], runs the geometric stage (:mod:`~studykit.train.augment.spatial`) on each image —
or, with ``pair_spatial = "independent"``, on each panel — then the photometric stage
(:mod:`~studykit.train.augment.intensity`) in place. Its randomness is one
``torch.Generator`` on the batch's device, seeded with ``seed``; :meth:`PairAugmenter.state_dict`
and :meth:`PairAugmenter.load_state_dict` carry that generator's state for an exact resume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from studykit.errors import InputError

from .config import AugmentConfig
from .intensity import intensity_
from .spatial import apply_spatial, sample_spatial

_STATE_VERSION = 1


class PairAugmenter:
    """Random augmentation of image-pair batches on their own device.

    Parameters
    ----------
    config
        An :class:`AugmentConfig`, a mapping for :meth:`AugmentConfig.from_dict`, or
        ``None`` (identity).
    seed
        Seed of the augmenter's ``torch.Generator``, created on the device of the first
        batch; later batches must be on the same device.

    Examples
    --------
    >>> augment = PairAugmenter({"rotation_deg": 15, "hflip_p": 0.5, "speckle": 0.2}, seed=0)
    >>> out = augment(torch.zeros(8, 2, 64, 64, dtype=torch.uint8))
    >>> out.shape, out.dtype
    (torch.Size([8, 2, 64, 64]), torch.float32)
    """

    def __init__(self, config: AugmentConfig | Mapping[str, Any] | None = None, *, seed: int = 0) -> None:
        if not isinstance(config, AugmentConfig):
            config = AugmentConfig.from_dict(config)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise InputError(f"must be a non-negative integer; got {seed!r}.", field="seed")
        self.config = config
        self.seed = seed
        self._generator: torch.Generator | None = None

    def __call__(self, batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment ``batch`` (``N × C × H × W``, uint8 or float in [0, 1]).

        Parameters
        ----------
        batch
            Images on the training device.
        generator
            Draw from this generator (on the batch's device) instead of the augmenter's own.

        Returns
        -------
        torch.Tensor
            ``float32``, ``N × C × H × W``, in [0, 1], on ``batch.device``.
        """
        images = _as_float(batch)
        gen = self._generator_for(images.device) if generator is None else _check_generator(
            generator, images.device)
        cfg = self.config
        n, c, h, w = images.shape
        if cfg.has_affine or cfg.has_flips or cfg.elastic_px:
            shared = cfg.pair_spatial == "shared"
            flat = images if shared else images.reshape(n * c, 1, h, w)
            params = sample_spatial(cfg, flat.shape[0], (h, w), generator=gen)
            flat = apply_spatial(flat, params, interpolation=cfg.interpolation, padding_mode=cfg.padding_mode)
            images = flat.reshape(n, c, h, w)
        return intensity_(images, cfg, gen)

    def state_dict(self) -> dict[str, Any]:
        """Seed, settings, generator device and state (``None`` before the first batch)."""
        gen = self._generator
        return {"version": _STATE_VERSION, "seed": self.seed, "config": self.config.to_dict(),
                "device": None if gen is None else str(gen.device),
                "generator": None if gen is None else gen.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the generator so the next batches equal those of the interrupted run."""
        if not isinstance(state, Mapping) or state.get("version") != _STATE_VERSION:
            raise InputError("is not a PairAugmenter state.", field="state",
                             hint="pass the dict returned by PairAugmenter.state_dict().")
        if state.get("seed") != self.seed or state.get("config") != self.config.to_dict():
            raise InputError("was saved by an augmenter with another seed or other settings.", field="state",
                             hint="resume with the arm's original augmentation settings and seed.")
        if state.get("device") is None:
            self._generator = None
            return
        try:
            gen = torch.Generator(device=state["device"])
        except RuntimeError as error:
            raise InputError(f"the saved generator lives on {state['device']!r}, unavailable here ({error}).",
                             field="state", hint="resume on the same kind of device as the saved run.",
                             ) from None
        gen.set_state(state["generator"])
        self._generator = gen

    def _generator_for(self, device: torch.device) -> torch.Generator:
        if self._generator is None:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
        return _check_generator(self._generator, device)



def _as_float(batch: Any) -> torch.Tensor:
    """A new float32 copy of ``batch`` (uint8 divided by 255) that the augmenter owns."""
    if not isinstance(batch, torch.Tensor):
        raise InputError(f"must be a torch.Tensor N × C × H × W; got {type(batch).__name__}.", field="batch")
    if batch.ndim != 4 or min(batch.shape) == 0:
        raise InputError(f"must have shape N × C × H × W (C = 2 for a B-mode/CEUS pair) with no empty "
                         f"dimension; got {tuple(batch.shape)}.", field="batch",
                         hint="stack the pairs as batch[:, 0] = B-mode crops, batch[:, 1] = CEUS crops.")
    if batch.dtype == torch.uint8:
        return batch.to(torch.float32).div_(255.0)
    if batch.is_floating_point():
        return batch.to(torch.float32, copy=True)
    raise InputError(f"must be uint8 (0–255) or floating point in [0, 1]; got {batch.dtype}.", field="batch")


def _check_generator(generator: torch.Generator, device: torch.device) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise InputError(f"must be a torch.Generator; got {type(generator).__name__}.", field="generator")
    gen_device = torch.device(generator.device)
    if gen_device.type != device.type or (gen_device.index or 0) != (device.index or 0):
        raise InputError(f"the generator is on {gen_device} but the batch is on {device}.", field="generator",
                         hint="keep one augmenter per device, or pass a generator on the batch's device.")
    return generator
