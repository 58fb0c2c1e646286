"""torchvision's side of the loader-speed benchmark: ImageFolder + RandomResizedCrop(224)
+ RandomHorizontalFlip + ToTensor + Normalize, DataLoader(batch 32, WORKERS workers,
shuffled). Times EPOCHS epochs from the first batch of each (worker start-up excluded),
prints `images_per_s N` for the best epoch. Usage: torch_loader.py DIR [workers] [epochs]"""
import sys
import time

import torch
from torchvision import datasets, transforms

root = sys.argv[1]
workers = int(sys.argv[2]) if len(sys.argv) > 2 else 2
epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
tf = transforms.Compose([
    transforms.RandomResizedCrop(224),
    transforms.RandomHorizontalFlip(),
    transforms.ToTensor(),
    transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
])
data = datasets.ImageFolder(root, tf)
loader = torch.utils.data.DataLoader(data, batch_size=32, shuffle=True, num_workers=workers,
                                     persistent_workers=workers > 0)
best = 0.0
for _ in range(epochs):
    it = iter(loader)
    next(it)
    start, n = time.perf_counter(), 0
    for x, y in it:
        assert x.shape[1:] == (3, 224, 224)
        n += x.shape[0]
    best = max(best, n / (time.perf_counter() - start))
print(f"images_per_s {best:.1f}")
