"""Step-indexed samplers: P x K structure, determinism, sharding, epoch coverage."""

import numpy as np
import pytest

from d2ca.errors import InputError
from d2ca.train.sampler import SubjectBatchSampler, UniformBatchSampler

# 7 subjects: one with a single image (never sampled), one with 2 (< K: drawn with replacement)
SUBJECTS = np.repeat(np.arange(7), [1, 2, 6, 6, 9, 5, 12])


def test_subject_batches_are_p_by_k_with_triplets():
    sampler = SubjectBatchSampler(SUBJECTS, subjects=4, images_per_subject=3, seed=1)
    for step in range(50):
        batch = sampler.batch(step)
        ids = SUBJECTS[batch]
        assert len(batch) == 12
        groups = ids.reshape(4, 3)  # grouped by subject
        assert (groups == groups[:, :1]).all() and len(set(groups[:, 0])) == 4
        assert 0 not in ids  # a subject with one image gives no positive pair
        # Eq. 11 has triplets: an anchor with a positive and a negative
        same = ids[:, None] == ids[None, :]
        assert (same & ~np.eye(12, dtype=bool)).any() and (~same).any()
        for g in groups[:, 0]:  # no image twice unless the subject has fewer than K
            picked = batch[ids == g]
            assert len(set(picked)) == min(3, (SUBJECTS == g).sum())


def test_subject_sampler_is_deterministic_and_seeded():
    a = SubjectBatchSampler(SUBJECTS, 3, 2, seed=5)
    b = SubjectBatchSampler(SUBJECTS, 3, 2, seed=5)
    c = SubjectBatchSampler(SUBJECTS, 3, 2, seed=6)
    it = a.iter_from(10)
    assert all(np.array_equal(next(it), b.batch(s)) for s in range(10, 30))
    assert any(not np.array_equal(a.batch(s), c.batch(s)) for s in range(5))


def test_subject_sampler_shards_the_global_batch():
    single = SubjectBatchSampler(SUBJECTS, 4, 2, seed=3)
    shards = [SubjectBatchSampler(SUBJECTS, 2, 2, seed=3, rank=r, world_size=2) for r in (0, 1)]
    for step in range(20):
        assert np.array_equal(np.concatenate([s.batch(step) for s in shards]), single.batch(step))


def test_subject_sampler_needs_two_subjects():
    with pytest.raises(InputError, match="two subjects"):
        SubjectBatchSampler([0, 0, 0, 1], 2, 2)


def test_uniform_batches_cover_each_epoch_and_shard():
    sampler = UniformBatchSampler(12, batch_size=4, seed=2)
    epoch0 = np.concatenate([sampler.batch(s) for s in range(3)])
    epoch1 = np.concatenate([sampler.batch(s) for s in range(3, 6)])
    assert sorted(epoch0) == list(range(12)) == sorted(epoch1)
    assert not np.array_equal(epoch0, epoch1)
    shards = [UniformBatchSampler(12, 2, seed=2, rank=r, world_size=2) for r in (0, 1)]
    for step in range(9):
        assert np.array_equal(np.concatenate([s.batch(step) for s in shards]), sampler.batch(step))
    fresh = UniformBatchSampler(12, batch_size=4, seed=2)  # random access equals streaming
    assert np.array_equal(fresh.batch(7), sampler.batch(7))
    small = UniformBatchSampler(3, batch_size=5)  # batches larger than the split wrap around
    assert sorted(np.concatenate([small.batch(s) for s in range(3)])) == sorted(list(range(3)) * 5)
