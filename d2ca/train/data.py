"""The training data: the AUs a pair shares, its splits, and the batches of one split (images
cached in memory as uint8, or read by a DataLoader)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from d2ca.aus import au_name, shared_aus
from d2ca.config import D2CAConfig
from d2ca.data.dataset import ManifestDataset
from d2ca.data.manifest import Manifest
from d2ca.errors import InputError
from d2ca.models import to_model_input
from d2ca.train.sampler import SubjectBatchSampler, UniformBatchSampler

CACHE_LIMIT_BYTES = 2 << 30  # automatic caching below 2 GiB of uint8 pixels per split (CPU)
GPU_CACHE_SHARE = 0.25  # on a GPU: below a quarter of its free memory per split


def _cache_limit(device: torch.device) -> int:
    """How many bytes of uint8 pixels a split may cache on ``device`` without being asked."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(GPU_CACHE_SHARE * free)
    return CACHE_LIMIT_BYTES


Sampler = SubjectBatchSampler | UniformBatchSampler


def select_aus(
    source: tuple[str | None, Manifest], target: tuple[str | None, Manifest]
) -> tuple[str, ...]:
    """The AUs a source/target pair shares: the paper's subset when both name a dataset,
    otherwise the intersection of the manifests' AU columns (in source order)."""
    (name_s, m_s), (name_t, m_t) = source, target
    if name_s and name_t:
        aus = tuple(au_name(n) for n in shared_aus(name_s, name_t))
        missing = [
            (a, w)
            for a in aus
            for w, m in (("source", m_s), ("target", m_t))
            if a not in m.au_names
        ]
        if missing:
            raise InputError(
                f"the {missing[0][1]} manifest has no column {missing[0][0]}, an AU the "
                f"{name_s}/{name_t} pair shares"
            )
        return aus
    aus = tuple(a for a in m_s.au_names if a in m_t.au_names)
    if not aus:
        raise InputError(
            f"source and target share no AU column (source: {', '.join(m_s.au_names)}; "
            f"target: {', '.join(m_t.au_names)})"
        )
    return aus


def split_rows(manifest: Manifest, name: str, what: str, log: Callable[[str], None]) -> Manifest:
    """The rows of split ``name``, or all rows (said through ``log``) when there is no split."""
    if not manifest.rows or "split" not in manifest.rows[0]:
        log(f"{what}: no split column, using all {len(manifest)} rows for {name}")
        return manifest
    return manifest.split(name)


class _Uint8Images(Dataset):
    """Rows as ``(uint8 (3, S, S) image, row index)`` for the DataLoader path."""

    def __init__(self, dataset: ManifestDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.from_numpy(self.dataset.load_image(i)).permute(2, 0, 1), i


class _StepBatches:
    """An endless batch sampler for ``DataLoader`` reading a step-indexed sampler."""

    def __init__(self, sampler: Sampler, start_step: int) -> None:
        self.sampler = sampler
        self.start_step = start_step

    def __iter__(self) -> Iterator[list[int]]:
        return (b.tolist() for b in self.sampler.iter_from(self.start_step))


class SplitData:
    """One split of one domain: labels ``(n, A)`` in {1, 0, -1}, subject ids, images.

    With ``cache`` the images are read once (threads) into a uint8 tensor on ``device``;
    a batch is then a gather. Otherwise a DataLoader with ``num_workers`` reads them.
    Batches are ``(x, labels, subjects)`` with ``x`` normalised ``(B, 3, S, S)`` on ``device``
    in ``memory_format``.
    """

    def __init__(
        self,
        manifest: Manifest,
        config: D2CAConfig,
        *,
        device: torch.device,
        cache: bool | None = None,
        num_workers: int = 0,
        memory_format: torch.memory_format = torch.contiguous_format,
    ) -> None:
        self.manifest = manifest
        self.memory_format = memory_format
        self.config = config
        self.device = device
        self.num_workers = num_workers
        self.dataset = ManifestDataset(manifest, config)
        self.labels = torch.from_numpy(manifest.labels.astype(np.float32)).to(device)
        self.subject_ids = torch.from_numpy(self.dataset.subject_ids).to(device)
        nbytes = len(manifest) * 3 * config.image_size**2
        self.cached = nbytes <= _cache_limit(device) if cache is None else cache
        self.images = self._preload() if self.cached else None

    def __len__(self) -> int:
        return len(self.manifest)

    def _preload(self) -> torch.Tensor:
        s = self.config.image_size
        out = np.empty((len(self), s, s, 3), dtype=np.uint8)

        def load(i: int) -> None:
            out[i] = self.dataset.load_image(i)

        with ThreadPoolExecutor(max_workers=max(2, self.num_workers)) as pool:
            list(pool.map(load, range(len(self))))
        return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous().to(self.device)

    def _to_device(self, index: torch.Tensor) -> torch.Tensor:
        """A batch's row indices on the device; on CUDA from pinned memory, so that the copy
        does not wait for the GPU to finish the previous step."""
        if self.device.type == "cuda":
            return index.pin_memory().to(self.device, non_blocking=True)
        return index.to(self.device)

    def _normalise(self, images: torch.Tensor) -> torch.Tensor:
        return to_model_input(images, self.config).contiguous(memory_format=self.memory_format)

    def batches(
        self, sampler: Sampler, start_step: int
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Batches of steps ``start_step, start_step + 1, ...`` (endless)."""
        if self.images is not None:
            for idx in sampler.iter_from(start_step):
                i = self._to_device(torch.from_numpy(idx))
                x = self._normalise(self.images[i])
                yield x, self.labels[i], self.subject_ids[i]
            return
        loader = DataLoader(
            _Uint8Images(self.dataset),
            batch_sampler=_StepBatches(sampler, start_step),
            num_workers=self.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=False,
        )
        for images, idx in loader:
            x = self._normalise(images.to(self.device, non_blocking=True))
            i = idx.to(self.device, non_blocking=True)  # pinned by the loader on CUDA
            yield x, self.labels[i], self.subject_ids[i]
