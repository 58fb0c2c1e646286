"""Writes crates/splot/tests/fixtures/pil_resize.json: a random RGB image and a mask, and
what PIL (as torchvision's Resize and RandomResizedCrop call it) makes of them, for the
test that splot's Resize agrees with PIL bit for bit."""
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
with open(sys.argv[1], "w") as f:
    json.dump(out, f, separators=(",", ":"))
