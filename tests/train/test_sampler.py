"""Class-balanced sampler: class frequencies by q, determinism, resume, DDP shards, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats as sps
from torch.utils.data import DataLoader

from studykit.errors import InputError
from studykit.train.sampler import ClassBalancedSampler

LABELS = np.array([0] * 70 + [1] * 25 + [2] * 5)  # imbalanced: 70 / 25 / 5


def class_counts(sampler: ClassBalancedSampler, epoch: int = 0) -> np.ndarray:
    return np.bincount(LABELS[sampler.epoch_indices(epoch)], minlength=3)


def chi_square(observed: np.ndarray, probabilities: np.ndarray) -> float:
    expected = observed.sum() * probabilities
    return float(((observed - expected) ** 2 / expected).sum())


@pytest.mark.parametrize(("q", "weights"), [(0.0, [1, 1, 1]), (1.0, [70, 25, 5]),
                                            (0.5, np.sqrt([70, 25, 5]))])
def test_class_frequencies_follow_n_to_the_q(q, weights):
    probabilities = np.asarray(weights, float) / np.sum(weights)
    sampler = ClassBalancedSampler(LABELS, q=q, epoch_length=30_000, seed=4)
    np.testing.assert_allclose(sampler.class_probabilities, probabilities)
    for epoch in range(3):
        assert chi_square(class_counts(sampler, epoch), probabilities) < sps.chi2.ppf(0.999, df=2)


def test_q0_is_far_from_instance_frequencies_and_q1_far_from_uniform():
    balanced = class_counts(ClassBalancedSampler(LABELS, q=0.0, epoch_length=30_000))
    instance = class_counts(ClassBalancedSampler(LABELS, q=1.0, epoch_length=30_000))
    assert chi_square(balanced, np.array([0.70, 0.25, 0.05])) > 1000
    assert chi_square(instance, np.full(3, 1 / 3)) > 1000


def test_within_a_class_no_instance_repeats_before_all_were_drawn():
    sampler = ClassBalancedSampler(LABELS, q=0.0, epoch_length=1000, seed=1)
    per_instance = np.bincount(sampler.epoch_indices(), minlength=LABELS.size)
    for j in range(3):
        counts = per_instance[LABELS == j]
        assert counts.max() - counts.min() <= 1  # cycled shuffles: uniform within the class
        assert counts.sum() == (LABELS[sampler.epoch_indices()] == j).sum()


def test_default_epoch_length_is_the_number_of_instances_and_indices_are_ints():
    sampler = ClassBalancedSampler(LABELS.tolist())
    drawn = list(sampler)
    assert len(sampler) == len(drawn) == LABELS.size
    assert all(type(i) is int and 0 <= i < LABELS.size for i in drawn)


def test_same_seed_same_order_other_seed_or_epoch_other_order_and_no_global_rng():
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 — the global state must stay untouched
    torch_state = torch.get_rng_state().clone()
    a = list(ClassBalancedSampler(LABELS, seed=7))
    assert a == list(ClassBalancedSampler(torch.as_tensor(LABELS), seed=7))
    assert a != list(ClassBalancedSampler(LABELS, seed=8))
    sampler = ClassBalancedSampler(LABELS, seed=7)
    sampler.set_epoch(1)
    b = list(sampler)
    assert b != a and list(sampler) == b  # an epoch is repeatable
    sampler.set_epoch(0)
    assert list(sampler) == a
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002
    assert torch.equal(torch.get_rng_state(), torch_state)


def test_resume_mid_epoch_yields_exactly_the_remaining_indices():
    run = ClassBalancedSampler(LABELS, q=0.5, epoch_length=64, seed=3)
    run.set_epoch(2)
    iterator = iter(run)
    head = [next(iterator) for _ in range(23)]
    state = run.state_dict()
    tail = list(iterator)
    resumed = ClassBalancedSampler(LABELS, q=0.5, epoch_length=64, seed=3)
    resumed.load_state_dict(state)
    resumed.set_epoch(2)  # a resumed loop sets the same epoch again: the position is kept
    assert state["epoch"] == 2 and state["position"] == 23
    assert len(resumed) == 64 - 23
    assert list(resumed) == tail and head + tail == run.epoch_indices(2).tolist()
    resumed.set_epoch(3)  # the next epoch starts from its beginning
    assert len(resumed) == 64 and list(resumed) == run.epoch_indices(3).tolist()


def test_resume_through_a_dataloader_with_the_consumed_count():
    sampler = ClassBalancedSampler(LABELS, epoch_length=40, seed=0)
    loader = DataLoader(torch.arange(LABELS.size), batch_size=8, sampler=sampler)
    batches = iter(loader)
    seen = [next(batches) for _ in range(2)]
    state = sampler.state_dict(consumed=2 * 8)
    rest = torch.cat(list(batches))
    fresh = ClassBalancedSampler(LABELS, epoch_length=40, seed=0)
    fresh.load_state_dict(state)
    again = torch.cat(list(DataLoader(torch.arange(LABELS.size), batch_size=8, sampler=fresh)))
    assert torch.equal(again, rest) and len(torch.cat(seen)) + len(rest) == 40


@pytest.mark.parametrize("epoch_length", [12, 10])
def test_ddp_shards_interleave_to_the_single_process_epoch(epoch_length):
    single = ClassBalancedSampler(LABELS, epoch_length=epoch_length, seed=5)
    single.set_epoch(1)
    shards = []
    for rank in range(3):
        shard = ClassBalancedSampler(LABELS, epoch_length=epoch_length, seed=5, num_replicas=3, rank=rank)
        shard.set_epoch(1)
        shards.append(list(shard))
        assert len(shard) == len(shards[-1]) == -(-epoch_length // 3)
    interleaved = [i for group in zip(*shards) for i in group]
    expected = list(single)
    assert interleaved[:epoch_length] == expected
    assert interleaved[epoch_length:] == expected[: len(interleaved) - epoch_length]  # padding repeats
    if epoch_length % 3 == 0:
        assert sorted(interleaved) == sorted(expected)


def test_error_a_class_with_zero_instances():
    with pytest.raises(InputError, match=r"class\(es\) 1 have zero instances "
                                         r"\(counts per class: \[2, 0, 1\]\)"):
        ClassBalancedSampler([0, 0, 2])
    with pytest.raises(InputError, match=r"class\(es\) 2 have zero instances"):
        ClassBalancedSampler([0, 1, 1], num_classes=3)


@pytest.mark.parametrize(("labels", "message"), [
    ([0, -1, 1], r"must be integer class indices 0 … K-1; 1 value\(s\) are not: -1 at 1"),
    ([0, 0.5, 1], r"1 value\(s\) are not: 0.5 at 1"),
    (["a", "b"], r"must hold integer class indices 0 … K-1; got dtype <U1"),
    ([[0, 1]], r"non-empty 1-D sequence of class indices; got shape \(1, 2\)"),
    ([], r"got shape \(0,\)"),
])
def test_error_labels_not_class_indices(labels, message):
    with pytest.raises(InputError, match=message) as info:
        ClassBalancedSampler(labels)
    assert info.value.field == "labels"


def test_error_label_at_or_above_num_classes():
    with pytest.raises(InputError, match=r"0 … 1; 1 value\(s\) are not: 2 at 2"):
        ClassBalancedSampler([0, 1, 2], num_classes=2)


@pytest.mark.parametrize("q", [-0.1, 1.5, float("nan"), "half", True])
def test_error_q_outside_unit_interval(q):
    with pytest.raises(InputError, match=r"'q': must be a number in \[0, 1\]; got") as info:
        ClassBalancedSampler(LABELS, q=q)
    assert "q=0 is class-balanced" in str(info.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epoch_length": 0}, r"'epoch_length': must be an integer ≥ 1; got 0"),
    ({"seed": -1}, r"'seed': must be an integer ≥ 0; got -1"),
    ({"num_replicas": 2, "rank": 2}, r"'rank': must be an integer in \[0, 1\]; got 2"),
])
def test_error_bad_integers(kwargs, message):
    with pytest.raises(InputError, match=message):
        ClassBalancedSampler(LABELS, **kwargs)


def test_error_resuming_with_other_labels_or_settings():
    state = ClassBalancedSampler(LABELS, seed=1).state_dict()
    other = ClassBalancedSampler(LABELS[::-1].copy(), seed=1)
    with pytest.raises(InputError, match=r"other settings or labels \(labels_crc32: saved"):
        other.load_state_dict(state)
    with pytest.raises(InputError, match=r"seed: saved 1, now 2"):
        ClassBalancedSampler(LABELS, seed=2).load_state_dict(state)
    with pytest.raises(InputError, match="is not a ClassBalancedSampler state"):
        other.load_state_dict({"epoch": 1})
