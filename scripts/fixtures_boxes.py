#!/usr/bin/env python3
"""Fixtures of crates/splot/tests/boxes.rs: torchvision's box ops, NMS, BoxCoder, RoIAlign
and RoIPool on small seeded inputs, forward outputs and input gradients (for a fixed
random upstream gradient `up`, the gradient of sum(out * up)).

Writes crates/splot/tests/fixtures/boxes/{box_ops,nms,coder,roi_align,roi_pool}.safetensors
(a few KB each, f32 tensors; NMS indices as int64). Settings that are not tensors (IoU
thresholds, RoI configurations) are in each file's metadata, one string per case
(nms: "THRESHOLD INPUTS", the inputs being INPUTS.boxes, INPUTS.scores, INPUTS.idxs).

- box_ops: box_area, box_iou (zero-area and identical boxes included),
  clip_boxes_to_image (boxes over every border), remove_small_boxes, with the gradients of
  box_area and clip_boxes_to_image.
- nms: nms with equal scores (scores drawn from 4 values), zero-area and duplicate boxes,
  thresholds 0.5, 0.7 and 0.3 (not f32-exact: torchvision compares the f32 IoU with a
  double); batched_nms below and above torchvision's 4000-value switch from the
  coordinate trick to per-class NMS.
- coder: BoxCoder.encode_single and decode_single with weights (1, 1, 1, 1) and
  (10, 10, 5, 5), codes beyond bbox_xform_clip included, and their gradients.
- roi_align: a [2, 3, 9, 11] map, RoIs inside, at and over the border, tiny and
  degenerate, in both images; aligned both ways; sampling ratios -1, 0, 1, 2, 3; scales
  1, 0.5, 0.25; several output sizes.
- roi_pool: the same map and RoIs, scales 1, 0.5, 0.25.

Run from the repository root with PyTorch, torchvision and safetensors installed:

    /work/main/bench/.venv/bin/python scripts/fixtures_boxes.py
"""

import os

import torch
import torchvision
from safetensors.torch import save_file
from torchvision.models.detection._utils import BoxCoder
from torchvision.ops import (
    batched_nms,
    box_area,
    box_iou,
    clip_boxes_to_image,
    nms,
    remove_small_boxes,
    roi_align,
    roi_pool,
)

OUT = os.path.join("crates", "splot", "tests", "fixtures", "boxes")


def random_boxes(g, n, extent, lo, hi):
    """n boxes (x1, y1, x2, y2): centres uniform in [0, extent)², sides uniform in [lo, hi)."""
    c = torch.rand(n, 2, generator=g) * extent
    s = lo + torch.rand(n, 2, generator=g) * (hi - lo)
    return torch.cat([c - s / 2, c + s / 2], 1)


def grad_of(f, inputs, up):
    """f(*inputs) and the gradients of sum(f * up) to each input."""
    xs = [x.clone().requires_grad_(True) for x in inputs]
    out = f(*xs)
    grads = torch.autograd.grad(out, xs, up)
    return out.detach(), [gr.detach() for gr in grads]


def box_ops(g):
    a = random_boxes(g, 7, 20.0, 0.0, 10.0)
    a[5] = torch.tensor([3.0, 3.0, 3.0, 8.0])  # zero width
    a[6] = torch.tensor([4.0, 4.0, 4.0, 4.0])  # a point
    b = random_boxes(g, 5, 20.0, 0.0, 10.0)
    b[0] = a[0]  # identical
    b[4] = torch.tensor([4.0, 4.0, 4.0, 4.0])  # the same point: IoU 0/0
    up_area = torch.randn(7, generator=g)
    area, (area_grad,) = grad_of(box_area, [a], up_area)
    clip_in = random_boxes(g, 8, 30.0, 5.0, 25.0) - 5.0  # over every border of 24 x 20
    up_clip = torch.randn(8, 4, generator=g)
    clipped, (clip_grad,) = grad_of(lambda t: clip_boxes_to_image(t, (20, 24)), [clip_in], up_clip)
    small = torch.cat([a, clip_in], 0)
    t = {
        "a": a, "b": b, "iou": box_iou(a, b),
        "area": area, "up_area": up_area, "area_grad": area_grad,
        "clip_in": clip_in, "up_clip": up_clip, "clipped": clipped, "clip_grad": clip_grad,
        "small_in": small,
        "small_keep_3": remove_small_boxes(small, 3.0),
        "small_keep_7_5": remove_small_boxes(small, 7.5),
    }
    save_file(t, os.path.join(OUT, "box_ops.safetensors"), metadata={"clip_size": "20 24"})


def nms_cases(g):
    t, meta = {}, {}
    # ties: scores from 4 values; duplicates and zero-area boxes
    boxes = random_boxes(g, 200, 100.0, 5.0, 40.0)
    boxes[10:20] = boxes[0:10]  # duplicates (IoU 1) with the same or other scores
    boxes[20:30, 2] = boxes[20:30, 0]  # zero width
    boxes[30:33] = torch.tensor([50.0, 50.0, 50.0, 50.0])  # identical points
    scores = torch.randint(0, 4, (200,), generator=g).float() / 4
    t["ties.boxes"], t["ties.scores"] = boxes, scores
    for name, thr in [("ties_05", 0.5), ("ties_07", 0.7), ("ties_03", 0.3)]:
        t[f"{name}.keep"] = nms(boxes, scores, thr)
        meta[name] = f"{thr!r} ties"
    boxes = random_boxes(g, 1000, 300.0, 5.0, 60.0)
    scores = torch.rand(1000, generator=g)
    t["random_07.boxes"], t["random_07.scores"] = boxes, scores
    t["random_07.keep"] = nms(boxes, scores, 0.7)
    meta["random_07"] = "0.7 random_07"
    for name, n, classes in [("batched_small", 300, 4), ("batched_large", 1500, 5)]:
        boxes = random_boxes(g, n, 150.0, 5.0, 50.0)
        scores = torch.randint(0, 50, (n,), generator=g).float() / 50
        idxs = torch.randint(0, classes, (n,), generator=g) * 3  # sparse class numbers
        t[f"{name}.boxes"], t[f"{name}.scores"], t[f"{name}.idxs"] = boxes, scores, idxs
        t[f"{name}.keep"] = batched_nms(boxes, scores, idxs, 0.5)
        meta[name] = f"0.5 {name}"
    save_file(t, os.path.join(OUT, "nms.safetensors"), metadata=meta)


def coder(g):
    t = {}
    gt = random_boxes(g, 6, 50.0, 2.0, 30.0)
    proposals = gt + torch.randn(6, 4, generator=g) * 2
    proposals[:, 2:] = torch.maximum(proposals[:, 2:], proposals[:, :2] + 1)
    up = torch.randn(6, 4, generator=g)
    codes = torch.randn(6, 12, generator=g)
    codes[0, 2], codes[1, 3], codes[2, 6] = 30.0, 50.0, 45.0  # dw/ww, dh/wh beyond the clip
    up_dec = torch.randn(6, 12, generator=g)
    for name, w in [("w1", (1.0, 1.0, 1.0, 1.0)), ("w10", (10.0, 10.0, 5.0, 5.0))]:
        c = BoxCoder(w)
        enc, (g_gt, g_p) = grad_of(c.encode_single, [gt, proposals], up)
        dec, (g_codes, g_boxes) = grad_of(c.decode_single, [codes, proposals], up_dec)
        t.update({
            f"{name}.encoded": enc, f"{name}.encode_grad_gt": g_gt,
            f"{name}.encode_grad_proposals": g_p,
            f"{name}.decoded": dec, f"{name}.decode_grad_codes": g_codes,
            f"{name}.decode_grad_boxes": g_boxes,
        })
    t.update({"gt": gt, "proposals": proposals, "up": up, "codes": codes, "up_decode": up_dec})
    save_file(t, os.path.join(OUT, "coder.safetensors"))


def map_and_rois(g):
    x = torch.randn(2, 3, 9, 11, generator=g)
    rois = torch.tensor([
        [0, 1.0, 1.0, 8.0, 6.0],  # inside
        [1, 0.0, 0.0, 10.0, 8.0],  # the whole map
        [0, -3.0, -2.0, 4.0, 3.0],  # over the top-left border
        [1, 6.5, 4.2, 14.0, 12.5],  # over the bottom-right border
        [0, 9.6, 7.7, 10.9, 8.9],  # at the bottom-right corner
        [1, 2.3, 3.1, 2.3, 3.1],  # a point
        [0, 4.4, 2.2, 5.1, 2.6],  # smaller than a pixel
        [1, -12.0, -12.0, -2.5, -1.5],  # outside the map
        [0, 3.3, 0.7, 9.9, 8.1],
        [1, 1.5, 2.5, 21.0, 17.5],  # beyond the map at scale 1, inside at 1/2
    ])
    return x, rois


def roi_align_cases(g):
    x, rois = map_and_rois(g)
    t, meta = {"x": x, "rois": rois}, {}
    cases = [  # (aligned, sampling_ratio, spatial_scale, oh, ow)
        (False, -1, 1.0, 3, 3),
        (True, 0, 0.5, 2, 3),
        (False, 1, 0.5, 4, 4),
        (True, 2, 1.0, 3, 2),
        (False, 3, 0.25, 2, 2),
        (True, -1, 1.0, 5, 5),
        (False, 2, 1.0, 7, 7),
        (True, 3, 0.5, 1, 1),
    ]
    for i, (aligned, sr, scale, oh, ow) in enumerate(cases):
        up = torch.randn(len(rois), 3, oh, ow, generator=g)
        out, (gx,) = grad_of(lambda v: roi_align(v, rois, (oh, ow), scale, sr, aligned), [x], up)
        t[f"case{i}.up"], t[f"case{i}.out"], t[f"case{i}.grad"] = up, out, gx
        meta[f"case{i}"] = f"{int(aligned)} {sr} {scale!r} {oh} {ow}"
    save_file(t, os.path.join(OUT, "roi_align.safetensors"), metadata=meta)


def roi_pool_cases(g):
    x, rois = map_and_rois(g)
    t, meta = {"x": x, "rois": rois}, {}
    for i, (scale, oh, ow) in enumerate([(1.0, 3, 3), (0.5, 2, 3), (0.25, 2, 2), (1.0, 4, 5)]):
        up = torch.randn(len(rois), 3, oh, ow, generator=g)
        out, (gx,) = grad_of(lambda v: roi_pool(v, rois, (oh, ow), scale), [x], up)
        t[f"case{i}.up"], t[f"case{i}.out"], t[f"case{i}.grad"] = up, out, gx
        meta[f"case{i}"] = f"{scale!r} {oh} {ow}"
    save_file(t, os.path.join(OUT, "roi_pool.safetensors"), metadata=meta)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(14)
    box_ops(g)
    nms_cases(g)
    coder(g)
    roi_align_cases(g)
    roi_pool_cases(g)
    print("torchvision", torchvision.__version__, "->", OUT)


if __name__ == "__main__":
    main()
