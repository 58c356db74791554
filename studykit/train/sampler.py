"""Class-balanced sampling of training images (Kang et al. 2020 family), seeded and resumable.

An epoch is a list of ``epoch_length`` instance indices drawn in two stages: a class
``j`` with probability

.. math:: p_j = \\frac{n_j^{\\,q}}{\\sum_k n_k^{\\,q}},

then an instance of that class. ``q = 0`` is class-balanced sampling (every class equally
likely — the reference study's "pick a class uniformly, then an instance of it"),
``q = 1`` is instance-balanced sampling (every instance equally likely, the usual
shuffle's frequencies), ``q = 1/2`` is square-root sampling; any ``q`` in [0, 1] is
allowed. Classes are drawn independently (with replacement); within a class the
instances are taken from freshly shuffled copies of the class, one after the other, so no
instance of a class repeats before every instance of it has been drawn in that epoch
(the "class-aware" sampling of Shen et al. 2016 that Kang et al.'s code uses). Each draw is
therefore marginally uniform within its class.

Everything is a pure function of ``(seed, epoch)``: the sampler owns a NumPy
``Generator`` seeded with ``SeedSequence([seed, epoch])`` for every epoch and never touches
the global random state, so ``set_epoch`` gives each epoch a different but reproducible
order, and :meth:`ClassBalancedSampler.state_dict` only needs the epoch and how far into it
training got to resume mid-epoch with exactly the remaining indices.

Data-parallel training (``torchrun``): every rank builds the same global epoch list, pads
it by repeating its first indices to a multiple of ``num_replicas`` (as
``torch.utils.data.DistributedSampler`` does) and takes every ``num_replicas``-th index
starting at ``rank``. Interleaving the shards of ranks 0, 1, … gives back the
single-process epoch (plus the padding).

References
----------
Kang B, Xie S, Rohrbach M, Yan Z, Gordo A, Feng J, Kalantidis Y. Decoupling
representation and classifier for long-tailed recognition. ICLR 2020.
arXiv:1910.09217.

Shen L, Lin Z, Huang Q. Relay backpropagation for effective learning of deep convolutional
neural networks. ECCV 2016. doi:10.1007/978-3-319-46478-7_29.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from studykit.errors import InputError

__all__ = ["ClassBalancedSampler"]

_STATE_VERSION = 1
_SHOW = 5  # offending positions listed in a message


class ClassBalancedSampler(Sampler[int]):
    """Draw instance indices with class probabilities proportional to ``n_j ** q``.

    Parameters
    ----------
    labels
        Class of every training instance, shape ``(n,)``: integers ``0 … K-1`` (a list,
        NumPy array or tensor). Every class must have at least one instance.
    q
        Exponent in [0, 1]: 0 = class-balanced (default), 1 = instance-balanced.
    epoch_length
        Number of indices in one epoch over all ranks; default ``n``.
    seed
        Non-negative integer; the epoch order is a function of ``(seed, epoch)`` only.
    num_classes
        ``K``; default ``max(labels) + 1``. Give it so that a training fold missing a
        class is an error rather than a silently smaller problem.
    num_replicas, rank
        Data-parallel sharding; default from ``torch.distributed`` when it is
        initialised, else one replica of rank 0.

    Notes
    -----
    ``len(sampler)`` is the number of indices the next ``iter(sampler)`` yields on this
    rank: ``ceil(epoch_length / num_replicas)``, minus the indices already consumed when a
    mid-epoch :meth:`load_state_dict` is pending.

    References
    ----------
    Kang B et al. Decoupling representation and classifier for long-tailed recognition.
    ICLR 2020. arXiv:1910.09217.

    Examples
    --------
    >>> sampler = ClassBalancedSampler([0, 0, 0, 1], q=0.0, epoch_length=6, seed=1)
    >>> sampler.class_probabilities.tolist()
    [0.5, 0.5]
    >>> len(list(sampler))
    6
    """

    def __init__(self, labels: Sequence[int] | np.ndarray | torch.Tensor, *, q: float = 0.0,
                 epoch_length: int | None = None, seed: int = 0, num_classes: int | None = None,
                 num_replicas: int | None = None, rank: int | None = None) -> None:
        self._labels = _check_labels(labels, num_classes)
        self.num_classes = int(num_classes) if num_classes is not None else int(self._labels.max()) + 1
        self.class_counts = np.bincount(self._labels, minlength=self.num_classes)
        _check_counts(self.class_counts)
        self.q = _check_q(q)
        self.epoch_length = len(self._labels) if epoch_length is None else _check_int(
            "epoch_length", epoch_length, minimum=1)
        self.seed = _check_int("seed", seed, minimum=0)
        self.num_replicas, self.rank = _check_replicas(num_replicas, rank)
        weights = self.class_counts.astype(np.float64) ** self.q
        self.class_probabilities = weights / weights.sum()
        self._members = [np.flatnonzero(self._labels == j) for j in range(self.num_classes)]
        self._fingerprint = zlib.crc32(self._labels.astype("<i8").tobytes())
        self._epoch = 0
        self._start = 0  # first index of the next iteration (mid-epoch resume)
        self._position = 0  # indices yielded so far in the current epoch on this rank

    @property
    def epoch(self) -> int:
        """The epoch whose indices the next iteration yields."""
        return self._epoch

    @property
    def per_replica_length(self) -> int:
        """Indices per rank in a full epoch: ``ceil(epoch_length / num_replicas)``."""
        return math.ceil(self.epoch_length / self.num_replicas)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch to iterate; a new epoch starts at its first index.

        Calling it with the epoch already set (as a resumed loop does right after
        :meth:`load_state_dict`) keeps a pending mid-epoch position.
        """
        epoch = _check_int("epoch", epoch, minimum=0)
        if epoch != self._epoch:
            self._epoch, self._start, self._position = epoch, 0, 0

    def epoch_indices(self, epoch: int | None = None) -> np.ndarray:
        """The global index list of an epoch (all ranks, padded), shape ``(R·ceil(L/R),)``.

        Rank ``r`` iterates ``epoch_indices(e)[r::R]``; the first ``epoch_length``
        entries are the single-process epoch.
        """
        epoch = self._epoch if epoch is None else _check_int("epoch", epoch, minimum=0)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch]))
        classes = rng.choice(self.num_classes, size=self.epoch_length, p=self.class_probabilities)
        out = np.empty(self.epoch_length, dtype=np.int64)
        for j, members in enumerate(self._members):  # K classes, not instances
            where = np.flatnonzero(classes == j)
            out[where] = _cycled_shuffles(members, where.size, rng)
        total = self.per_replica_length * self.num_replicas
        return np.concatenate([out, out[: total - self.epoch_length]]) if total > out.size else out

    def __iter__(self) -> Iterator[int]:
        shard = self.epoch_indices()[self.rank :: self.num_replicas]
        start, self._start = self._start, 0
        self._position = start
        for index in shard[start:].tolist():
            self._position += 1
            yield index

    def __len__(self) -> int:
        return self.per_replica_length - self._start

    def state_dict(self, *, consumed: int | None = None) -> dict[str, Any]:
        """Everything needed to resume: the epoch, the position in it and a fingerprint.

        Parameters
        ----------
        consumed
            Indices of the current epoch actually used by training on this rank (e.g.
            ``steps × batch_size``). Default: the number this sampler has yielded, which
            is right for a ``DataLoader`` with ``num_workers=0``; a loader with workers
            prefetches ahead, so pass the consumed count then.
        """
        position = self._position if consumed is None else _check_int(
            "consumed", consumed, minimum=0, maximum=self.per_replica_length)
        return {"version": _STATE_VERSION, "seed": self.seed, "epoch": self._epoch,
                "position": position, "q": self.q, "epoch_length": self.epoch_length,
                "num_classes": self.num_classes, "num_replicas": self.num_replicas,
                "labels_crc32": self._fingerprint}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume: the next iteration yields the rest of the saved epoch, exactly.

        Raises
        ------
        InputError
            When the state was saved by a sampler with other labels or settings.
        """
        _check_state(self.state_dict(consumed=0), state)
        self._epoch = int(state["epoch"])
        self._start = self._position = int(state["position"])


def _cycled_shuffles(members: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` members taken from consecutive independent shuffles of ``members``."""
    copies = -(-count // members.size)
    if copies == 0:
        return members[:0]
    order = np.argsort(rng.random((copies, members.size)), axis=1, kind="stable")
    return members[order].reshape(-1)[:count]


def _check_labels(labels: Any, num_classes: int | None) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    values = np.asarray(labels)
    if values.ndim != 1 or values.size == 0:
        raise InputError(f"must be a non-empty 1-D sequence of class indices; got shape {values.shape}.",
                         field="labels")
    if values.dtype.kind not in "biuf":
        raise InputError(f"must hold integer class indices 0 … K-1; got dtype {values.dtype}.",
                         field="labels", hint="map class names to 0 … K-1 first.")
    if num_classes is not None:
        _check_int("num_classes", num_classes, minimum=1)
    upper = np.inf if num_classes is None else num_classes
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < 0) | (values >= upper)
    if bad.any():
        where = np.flatnonzero(bad)
        shown = ", ".join(f"{values[i].item()!r} at {i}" for i in where[:_SHOW])
        shown += ", …" if where.size > _SHOW else ""
        allowed = "0 … K-1" if num_classes is None else f"0 … {num_classes - 1}"
        raise InputError(f"must be integer class indices {allowed}; {where.size} value(s) are not: {shown}.",
                         field="labels", hint="encode the classes as consecutive integers from 0.")
    return values.astype(np.int64)


def _check_counts(counts: np.ndarray) -> None:
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        raise InputError(f"class(es) {', '.join(map(str, empty))} have zero instances "
                         f"(counts per class: {counts.tolist()}).", field="labels",
                         hint="every class 0 … K-1 needs at least one training instance; "
                              "check the fold's training split or the label encoding.")


def _check_q(q: Any) -> float:
    try:
        value = float(q)
    except (TypeError, ValueError):
        value = float("nan")
    if isinstance(q, bool) or not 0.0 <= value <= 1.0:
        raise InputError(f"must be a number in [0, 1]; got {q!r}.", field="q",
                         hint="q=0 is class-balanced, q=1 instance-balanced, q=0.5 square-root sampling.")
    return value


def _check_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> int:
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
    if not ok or value < minimum or (maximum is not None and value > maximum):
        bound = f"≥ {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
        raise InputError(f"must be an integer {bound}; got {value!r}.", field=name)
    return int(value)


def _check_replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    distributed = dist.is_available() and dist.is_initialized()
    if num_replicas is None:
        num_replicas = dist.get_world_size() if distributed else 1
    if rank is None:
        rank = dist.get_rank() if distributed else 0
    num_replicas = _check_int("num_replicas", num_replicas, minimum=1)
    return num_replicas, _check_int("rank", rank, minimum=0, maximum=num_replicas - 1)


def _check_state(expected: dict[str, Any], state: dict[str, Any]) -> None:
    if not isinstance(state, dict) or state.get("version") != _STATE_VERSION:
        raise InputError(f"is not a ClassBalancedSampler state (version {_STATE_VERSION}); "
                         f"got {state!r:.80}.",
                         field="state", hint="pass the dict returned by ClassBalancedSampler.state_dict().")
    keys = ("seed", "q", "epoch_length", "num_classes", "num_replicas", "labels_crc32")
    differ = [f"{key}: saved {state.get(key)!r}, now {expected[key]!r}" for key in keys
              if state.get(key) != expected[key]]
    if differ:
        raise InputError("was saved by a sampler with other settings or labels (" + "; ".join(differ) + ").",
                         field="state", hint="resume with the same training labels, seed, q, epoch "
                                             "length and number of replicas as the interrupted run.")
    _check_int("state['epoch']", state.get("epoch"), minimum=0)
    per_replica = math.ceil(expected["epoch_length"] / expected["num_replicas"])
    _check_int("state['position']", state.get("position"), minimum=0, maximum=per_replica)
