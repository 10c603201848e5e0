"""MTCNN's detection with its second and third stages batched: facenet-pytorch's networks and
first stage, and the crops of all candidate boxes cut at once.

facenet-pytorch's ``detect_face`` cuts each candidate box of stages two and three out of its
frame and resamples it on its own, in a Python loop: one slice, copy and area resampling per
box. A 640x360 frame of the realistic benchmark video has about 48 R-Net candidates and 5
O-Net ones (docs/performance.md, "MTCNN's crops"), so a batch of 32 frames makes about 1,700
small resamplings, each a few kernel launches on a GPU. :func:`detect_faces` runs the same
stages on the same networks with the same thresholds, and cuts every candidate's crop at once
from the batch's summed-area tables (:func:`area_crops`): the same crops (area resampling of
the box clipped to the frame, as ``pad`` clips it), the same faces, boxes within float
rounding of facenet-pytorch's (``tests/test_face.py``). It is the GPU's path: on a CPU,
facenet-pytorch's loop is the faster (docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def detect_faces(mtcnn: Any, frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Faces of a batch of equal-sized frames, as facenet-pytorch's ``MTCNN.detect`` finds them.

    Args:
        mtcnn: a ``facenet_pytorch.MTCNN`` (its networks, ``min_face_size``, ``thresholds``,
            ``factor`` and device are used).
        frames: ``(B, H, W, 3)`` uint8 RGB.

    Returns:
        Per frame, ``(boxes, points)``: ``(N, 5)`` float32 ``x1, y1, x2, y2, probability``
        and ``(N, 5, 2)`` float32 landmarks, in facenet-pytorch's order.
    """
    # imported here, as FaceDetector imports facenet-pytorch: torchvision takes about 1.8 s
    # to import (it imports torch._dynamo), which commands that detect nothing need not pay
    from facenet_pytorch.models.utils.detect_face import (
        batched_nms_numpy,
        bbreg,
        generateBoundingBox,
        imresample,
        rerec,
    )
    from torchvision.ops import batched_nms

    device = next(mtcnn.pnet.parameters()).device
    threshold = mtcnn.thresholds
    pixels = torch.as_tensor(np.ascontiguousarray(frames), device=device)  # (B, H, W, 3)
    with torch.no_grad():
        table = summed_area_table(pixels)  # the crops of both stages read it
        imgs = pixels.permute(0, 3, 1, 2).float()
        batch, height, width = len(frames), imgs.shape[2], imgs.shape[3]

        # first stage: P-Net over the image pyramid (detect_face's code)
        m = 12.0 / mtcnn.min_face_size
        minl = min(height, width) * m
        scales = []
        while minl >= 12:
            scales.append(m)
            m *= mtcnn.factor
            minl *= mtcnn.factor
        if not scales:  # frames smaller than the smallest face searched for
            return [(np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32))] * batch
        boxes, image_inds, picks, offset = [], [], [], 0
        for scale in scales:
            im_data = imresample(imgs, (int(height * scale + 1), int(width * scale + 1)))
            reg, probs = mtcnn.pnet((im_data - 127.5) * 0.0078125)
            boxes_scale, inds_scale = generateBoundingBox(reg, probs[:, 1], scale, threshold[0])
            boxes.append(boxes_scale)
            image_inds.append(inds_scale)
            pick = batched_nms(boxes_scale[:, :4], boxes_scale[:, 4], inds_scale, 0.5)
            picks.append(pick + offset)
            offset += boxes_scale.shape[0]
        pick = torch.cat(picks)
        boxes, image_inds = torch.cat(boxes)[pick], torch.cat(image_inds)[pick]
        pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
        boxes, image_inds = boxes[pick], image_inds[pick]
        size = boxes[:, 2:4] - boxes[:, :2]
        corners = boxes[:, :4] + boxes[:, 5:9] * size.repeat(1, 2)
        boxes = rerec(torch.cat([corners, boxes[:, 4:5]], dim=1))

        # second stage: R-Net on every candidate's 24 x 24 crop at once
        if len(boxes):
            crops = area_crops(table, image_inds, _pad(boxes, width, height), 24)
            reg, prob = mtcnn.rnet((crops - 127.5) * 0.0078125)
            keep = prob[:, 1] > threshold[1]
            boxes = torch.cat([boxes[keep, :4], prob[keep, 1:2]], dim=1)
            image_inds, reg = image_inds[keep], reg[keep]
            pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
            boxes = rerec(bbreg(boxes[pick], reg[pick]))
            image_inds = image_inds[pick]

        # third stage: O-Net on every remaining candidate's 48 x 48 crop at once
        points = torch.zeros(0, 5, 2, device=device)
        if len(boxes):
            crops = area_crops(table, image_inds, _pad(boxes, width, height), 48)
            reg, marks, prob = mtcnn.onet((crops - 127.5) * 0.0078125)
            keep = prob[:, 1] > threshold[2]
            boxes = torch.cat([boxes[keep, :4], prob[keep, 1:2]], dim=1)
            image_inds, reg, marks = image_inds[keep], reg[keep], marks[keep]
            side = boxes[:, 2:4] - boxes[:, :2] + 1
            points = torch.stack([marks[:, :5], marks[:, 5:]], dim=2) * side[:, None] + (
                boxes[:, None, :2] - 1
            )
            boxes = bbreg(boxes, reg)
            pick = batched_nms_numpy(boxes[:, :4], boxes[:, 4], image_inds, 0.7, "Min")
            boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]

        found = torch.cat([boxes[:, :5], points.flatten(1)], 1).float().cpu().numpy()
        image_inds = image_inds.cpu().numpy()
    return [
        (found[image_inds == b, :5], found[image_inds == b, 5:].reshape(-1, 5, 2))
        for b in range(batch)
    ]


def _pad(boxes: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """``(N, 4)`` int64 pixel bounds ``x1, y1, x2, y2`` (``x1 .. x2 - 1``) of the crops
    ``detect_face`` cuts: the box truncated and clipped to the frame, as its ``pad`` does
    (at least one pixel, where ``pad`` would cut nothing and drop the crop)."""
    box = boxes[:, :4].trunc().long()
    low = torch.stack([box[:, 0].clamp(min=1), box[:, 1].clamp(min=1)], 1) - 1
    high = torch.stack([box[:, 2].clamp(max=width), box[:, 3].clamp(max=height)], 1)
    return torch.cat([low, torch.maximum(high, low + 1)], dim=1)


def summed_area_table(images: torch.Tensor) -> torch.Tensor:
    """``(F, H + 1, W + 1, 3)`` integer sums of ``(F, H, W, 3)`` uint8 ``images`` above and
    left of each pixel (a zero row and column first): exact, in int32 up to 8 million pixels a
    frame, else int64."""
    frames, height, width, _ = images.shape
    dtype = torch.int32 if 255 * height * width < 2**31 else torch.int64
    table = torch.zeros(frames, height + 1, width + 1, 3, dtype=dtype, device=images.device)
    table[:, 1:, 1:] = images.to(dtype).cumsum(1).cumsum(2)
    return table


def area_crops(
    table: torch.Tensor, index: torch.Tensor, bounds: torch.Tensor, size: int
) -> torch.Tensor:
    """Crops of frames ``index[n]`` at pixel ``bounds[n]`` (``x1, y1, x2, y2``, pixels
    ``x1 .. x2 - 1``; those outside the frame are zeros) resampled to ``size x size`` by area,
    as ``F.interpolate(mode="area")`` does: ``(N, 3, size, size)`` float32, from the frames'
    :func:`summed_area_table`, on its device.

    Area resampling averages, for output pixel ``o`` of a crop ``L`` pixels long, its pixels
    ``floor(o L / size) .. ceil((o + 1) L / size) - 1``: a rectangle of the frame per output
    pixel, whose sum is four reads of the table, exact. Each sum is divided by its rows'
    count, then its columns', as ``F.interpolate`` divides: the same float32 values.
    """
    _, height, width, _ = (n - 1 for n in table.shape)
    flat_table = table.flatten(0, 2)  # (F (H + 1) (W + 1), 3)
    y0, y1, n_y = _area_edges(bounds[:, 1], bounds[:, 3], height, size)
    x0, x1, n_x = _area_edges(bounds[:, 0], bounds[:, 2], width, size)
    row = (index[:, None] * (height + 1))[:, :, None]  # (N, 1, 1)

    def corner(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        flat = (row + y[:, :, None]) * (width + 1) + x[:, None, :]  # (N, size, size)
        return flat_table[flat.flatten()].view(*flat.shape, 3)

    sums = (corner(y1, x1) - corner(y0, x1) - corner(y1, x0) + corner(y0, x0)).float()
    return (sums / n_y[:, :, None, None] / n_x[:, None, :, None]).permute(0, 3, 1, 2)


def _area_edges(
    low: torch.Tensor, high: torch.Tensor, length: int, size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each of the ``size`` output pixels of crops ``low .. high - 1`` (``(N,)`` each):
    the first and one-past-the-last frame pixel it averages, clamped to the frame (pixels
    outside are zeros), and how many pixels it averages, outside ones included: ``(N, size)``
    each."""
    o = torch.arange(size, device=low.device)
    span = (high - low)[:, None]
    start = low[:, None] + o * span // size
    end = low[:, None] + ((o + 1) * span + size - 1) // size
    return start.clamp(0, length), end.clamp(0, length), end - start
