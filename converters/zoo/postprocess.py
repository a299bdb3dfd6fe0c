"""Detection post-processing in NumPy: decode the zoo YOLO's raw heads, then NMS.

Needs only NumPy, so an application that runs a converted detector with cnnrt
can use it without torch:

    outputs = model.run(image)                      # {"output_0": P3, "output_1": P4, "output_2": P5}
    detections = postprocess([outputs[k] for k in sorted(outputs)])
    for x1, y1, x2, y2, score, label in detections[0]: ...

Head format (detection.Detect): per stride s (8, 16, 32) a tensor
[N, A * (5 + C), H, W], channels per anchor x, y, w, h, objectness, C classes,
all before the sigmoid. YOLOv5's decoding, for the cell (i, j) and anchor (aw, ah):

    cx = (2 sigmoid(tx) - 0.5 + j) * s        w = (2 sigmoid(tw))^2 * aw
    cy = (2 sigmoid(ty) - 0.5 + i) * s        h = (2 sigmoid(th))^2 * ah
    score(class c) = sigmoid(objectness) * sigmoid(class c)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_ANCHORS = (
    ((10, 13), (16, 30), (33, 23)),
    ((30, 61), (62, 45), (59, 119)),
    ((116, 90), (156, 198), (373, 326)),
)
DEFAULT_STRIDES = (8, 16, 32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of a negative argument only: no overflow warnings for large |x|.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """[..., 4] centre x, y, width, height -> x1, y1, x2, y2."""
    boxes = np.asarray(boxes)
    half = boxes[..., 2:4] / 2
    return np.concatenate([boxes[..., 0:2] - half, boxes[..., 0:2] + half], axis=-1)


def decode_yolo(outputs: Sequence[np.ndarray], anchors=DEFAULT_ANCHORS,
                strides: Sequence[int] = DEFAULT_STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """Raw heads -> (boxes [N, B, 4] xyxy in input pixels, scores [N, B, C]).

    B = sum over strides of A * H * W; boxes are ordered stride, anchor, row, column."""
    if len(outputs) != len(strides) or len(anchors) != len(strides):
        raise ValueError(f"decode_yolo: {len(outputs)} outputs, {len(anchors)} anchor sets and "
                         f"{len(strides)} strides; expected one of each per scale")
    all_boxes, all_scores = [], []
    for raw, scale_anchors, stride in zip(outputs, anchors, strides):
        raw = np.asarray(raw, dtype=np.float32)
        n, channels, h, w = raw.shape
        a = len(scale_anchors)
        if channels % a or channels // a < 6:
            raise ValueError(f"decode_yolo: stride {stride} output has {channels} channels, expected "
                             f"{a} anchors * (5 + classes)")
        p = _sigmoid(raw.reshape(n, a, channels // a, h, w).transpose(0, 1, 3, 4, 2))  # [N, A, H, W, 5+C]
        rows, cols = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32), indexing="ij")
        grid = np.stack([cols, rows], axis=-1)                                          # [H, W, 2] as x, y
        anchor_wh = np.asarray(scale_anchors, dtype=np.float32).reshape(1, a, 1, 1, 2)
        xy = (p[..., 0:2] * 2 - 0.5 + grid) * stride
        wh = (p[..., 2:4] * 2) ** 2 * anchor_wh
        all_boxes.append(xywh_to_xyxy(np.concatenate([xy, wh], axis=-1)).reshape(n, -1, 4))
        all_scores.append((p[..., 4:5] * p[..., 5:]).reshape(n, a * h * w, -1))
    return np.concatenate(all_boxes, axis=1), np.concatenate(all_scores, axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of a [M, 4] with every box of b [K, 4] (xyxy) -> [M, K]."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=-1)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=-1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = 0.45,
        classes: np.ndarray | None = None) -> np.ndarray:
    """Greedy non-maximum suppression; returns the kept indices, best score first.

    A box is dropped when its IoU with a kept, higher-scoring box exceeds
    `iou_threshold`; with `classes`, only boxes of the same class suppress each
    other. Ties in score keep the lower index first (a stable sort)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    scores = np.asarray(scores).reshape(-1)
    if len(boxes) != len(scores):
        raise ValueError(f"nms: {len(boxes)} boxes but {len(scores)} scores")
    if classes is not None:
        classes = np.asarray(classes).reshape(-1)
        if len(classes) != len(boxes):
            raise ValueError(f"nms: {len(boxes)} boxes but {len(classes)} classes")
        # Shift each class's boxes to a region of its own so that boxes of different classes never overlap.
        span = float(np.abs(boxes).max(initial=0.0)) * 2 + 1
        boxes = boxes + (classes.astype(np.float64) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    suppressed = np.zeros(len(boxes), dtype=bool)
    for position, index in enumerate(order):
        if suppressed[index]:
            continue
        keep.append(int(index))
        rest = order[position + 1:]
        rest = rest[~suppressed[rest]]
        if len(rest):
            suppressed[rest[box_iou(boxes[index:index + 1], boxes[rest])[0] > iou_threshold]] = True
    return np.asarray(keep, dtype=np.int64)


def postprocess(outputs: Sequence[np.ndarray], anchors=DEFAULT_ANCHORS, strides: Sequence[int] = DEFAULT_STRIDES,
                score_threshold: float = 0.25, iou_threshold: float = 0.45, max_detections: int = 300,
                multi_label: bool = False) -> list[np.ndarray]:
    """Raw heads -> per image an array [K, 6] of x1, y1, x2, y2, score, class, best first.

    Each box takes its best class (or, with `multi_label`, every class whose
    score passes `score_threshold`); class-aware NMS, then at most `max_detections`."""
    boxes, scores = decode_yolo(outputs, anchors, strides)
    results = []
    for image_boxes, image_scores in zip(boxes, scores):
        if multi_label:
            box_index, labels = np.nonzero(image_scores > score_threshold)
            best = image_scores[box_index, labels]
        else:
            labels = image_scores.argmax(axis=1)
            best = image_scores[np.arange(len(labels)), labels]
            box_index = np.nonzero(best > score_threshold)[0]
            labels, best = labels[box_index], best[box_index]
        candidates = image_boxes[box_index]
        keep = nms(candidates, best, iou_threshold, labels)[:max_detections]
        results.append(np.concatenate([candidates[keep], best[keep, None], labels[keep, None].astype(np.float32)],
                                      axis=1).astype(np.float32))
    return results
