"""Builds the JPEG ImageFolder of the loader-speed benchmark from the photos in
shared/data/photos/: COUNT files per class (default 100), three classes (by source photo),
each a seeded random crop of a source photo resized to 500×375 (one in four portrait,
375×500), saved as JPEG quality 90. Usage: make_photo_folder.py PHOTOS_DIR OUT_DIR [COUNT]"""
import os
import random
import sys

from PIL import Image

src, out = sys.argv[1], sys.argv[2]
count = int(sys.argv[3]) if len(sys.argv) > 3 else 100
photos = sorted(f for f in os.listdir(src) if f.lower().endswith((".jpg", ".png")))
classes = {"a": photos[0::3], "b": photos[1::3], "c": photos[2::3]}
rng = random.Random(13)
for name, files in classes.items():
    os.makedirs(os.path.join(out, name), exist_ok=True)
    for i in range(count):
        img = Image.open(os.path.join(src, files[i % len(files)])).convert("RGB")
        w, h = (375, 500) if i % 4 == 3 else (500, 375)
        # A random window of the source with the target's aspect ratio, then resized.
        W, H = img.size
        scale = rng.uniform(0.5, 1.0)
        cw = min(W, int(H * w / h)) * scale
        ch = cw * h / w
        x, y = rng.uniform(0, W - cw), rng.uniform(0, H - ch)
        img = img.crop((int(x), int(y), int(x + cw), int(y + ch))).resize((w, h), Image.BILINEAR)
        img.save(os.path.join(out, name, f"{i:03d}.jpg"), quality=90)
print(f"{out}: {count * len(classes)} JPEG files in {len(classes)} classes")
