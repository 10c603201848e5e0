"""Batch samplers whose batch at step ``s`` is a pure function of ``(seed, s)``.

Because no state is carried from one batch to the next, resuming at step ``s`` continues
exactly, and the processes of a distributed run each take their own slice of the same
global batch (sharding) without talking to each other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from d2ca.errors import InputError


class SubjectBatchSampler:
    """P subjects x K images per batch, so FCL (Eq. 11) always has triplets.

    At step ``s`` the global batch draws ``P * world_size`` distinct subjects (with
    replacement only when there are fewer) among those with at least two images, then ``K``
    images of each (distinct when the subject has ``K`` or more, else all of its images
    repeated cyclically). Process ``rank`` takes subjects ``rank * P .. rank * P + P - 1``.
    Indices are grouped by subject.

    Args:
        subject_ids: ``(n,)`` subject label of each row.
        subjects: P. images_per_subject: K.
        seed: the run seed. rank, world_size: this process's shard.

    Example:
        >>> sampler = SubjectBatchSampler([0, 0, 1, 1, 2, 2], subjects=2, images_per_subject=2)
        >>> batch = sampler.batch(0)
        >>> len(batch), len({[0, 0, 1, 1, 2, 2][i] for i in batch})
        (4, 2)
    """

    def __init__(
        self,
        subject_ids: Sequence[int] | np.ndarray,
        subjects: int,
        images_per_subject: int,
        *,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        ids = np.asarray(subject_ids)
        uniq, inverse = np.unique(ids, return_inverse=True)
        groups = [np.flatnonzero(inverse == i) for i in range(len(uniq))]
        self.groups = [g for g in groups if len(g) >= 2]
        if len(self.groups) < 2:
            raise InputError(
                f"the source needs at least two subjects with two or more images each for "
                f"P x K batches; it has {len(self.groups)}"
            )
        self.subjects = subjects
        self.k = images_per_subject
        self.seed = seed
        self.rank = rank
        self.world_size = world_size

    def batch(self, step: int) -> np.ndarray:
        """Row indices of this process's batch at ``step``: ``(P * K,)``."""
        rng = np.random.default_rng([self.seed, step, 1])
        n_global = self.subjects * self.world_size
        replace = n_global > len(self.groups)
        chosen = rng.choice(len(self.groups), n_global, replace=replace)
        # draw for every subject of the global batch so every shard reads the same stream
        picks = [np.resize(rng.permutation(self.groups[g]), self.k) for g in chosen]
        return np.concatenate(picks[self.rank * self.subjects : (self.rank + 1) * self.subjects])

    def iter_from(self, step: int) -> Iterator[np.ndarray]:
        """Batches of steps ``step, step + 1, ...`` (endless)."""
        while True:
            yield self.batch(step)
            step += 1


class UniformBatchSampler:
    """Uniform batches: epoch-wise permutations of the rows, read as one endless stream.

    Global batch ``s`` is positions ``[s * B * W, (s + 1) * B * W)`` of the concatenation of
    permutation 0, 1, ... (permutation ``e`` seeded by ``(seed, e)``); process ``rank`` takes
    its ``B`` consecutive positions.

    Example:
        >>> sampler = UniformBatchSampler(10, batch_size=4)
        >>> sorted(np.concatenate([sampler.batch(s) for s in range(5)]).tolist()) == sorted(
        ...     list(range(10)) * 2)
        True
    """

    def __init__(
        self, n: int, batch_size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1
    ) -> None:
        if n < 1:
            raise InputError("cannot sample batches from an empty split")
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self._perm: tuple[int, np.ndarray] | None = None

    def _permutation(self, epoch: int) -> np.ndarray:
        if self._perm is None or self._perm[0] != epoch:
            rng = np.random.default_rng([self.seed, epoch, 2])
            self._perm = (epoch, rng.permutation(self.n))
        return self._perm[1]

    def batch(self, step: int) -> np.ndarray:
        """Row indices of this process's batch at ``step``: ``(B,)``."""
        start = (step * self.world_size + self.rank) * self.batch_size
        positions = np.arange(start, start + self.batch_size)
        out = np.empty(self.batch_size, dtype=np.int64)
        for epoch in np.unique(positions // self.n):
            sel = positions // self.n == epoch
            out[sel] = self._permutation(int(epoch))[positions[sel] % self.n]
        return out

    def iter_from(self, step: int) -> Iterator[np.ndarray]:
        """Batches of steps ``step, step + 1, ...`` (endless)."""
        while True:
            yield self.batch(step)
            step += 1
