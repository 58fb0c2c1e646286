"""Writes crates/splot/tests/fixtures/pil_transforms.json: a random RGB image and a mask,
what PIL makes of them as torchvision's Resize and RandomResizedCrop call it (crop, then
bilinear resize; nearest for the mask), and torchvision's four ColorJitter changes on PIL,
for the tests that splot's transforms agree with them bit for bit.
Usage: pil_transforms_fixture.py OUT.json"""
import json
import sys

import numpy as np
import PIL
from PIL import Image

rng = np.random.default_rng(13)
h, w = 23, 31
rgb = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
mask = rng.choice(np.array([0, 3, 7, 255], dtype=np.uint8), size=(h, w))
img, m = Image.fromarray(rgb, "RGB"), Image.fromarray(mask, "L")
cases = []
# (top, left, crop h, crop w, out h, out w): crop then bilinear resize, as torchvision.
for top, left, ch, cw, oh, ow in [(0, 0, h, w, 7, 11), (0, 0, h, w, 40, 50),
                                  (2, 3, 19, 17, 9, 13), (5, 1, 11, 29, 31, 8)]:
    box = (left, top, left + cw, top + ch)
    out = img.crop(box).resize((ow, oh), Image.BILINEAR)
    out_mask = m.crop(box).resize((ow, oh), Image.NEAREST)
    cases.append({"region": [top, left, ch, cw], "size": [oh, ow],
                  "rgb": np.asarray(out).reshape(-1).tolist(),
                  "mask": np.asarray(out_mask).reshape(-1).tolist()})
out = {"pillow": PIL.__version__, "height": h, "width": w,
       "rgb": rgb.reshape(-1).tolist(), "mask": mask.reshape(-1).tolist(), "cases": cases}

# ColorJitter's four changes, one at a time, as torchvision's functional PIL ops make them.
from torchvision.transforms import functional as F

jitter = []
for op, factor in [("brightness", 1.3), ("brightness", 0.55), ("contrast", 0.6),
                   ("contrast", 1.7), ("saturation", 1.4), ("saturation", 0.3),
                   ("hue", 0.07), ("hue", -0.21)]:
    fn = {"brightness": F.adjust_brightness, "contrast": F.adjust_contrast,
          "saturation": F.adjust_saturation, "hue": F.adjust_hue}[op]
    jitter.append({"op": op, "factor": factor,
                   "rgb": np.asarray(fn(img, factor)).reshape(-1).tolist()})
out["jitter"] = jitter
with open(sys.argv[1], "w") as f:
    json.dump(out, f, separators=(",", ":"))
