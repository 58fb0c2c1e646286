"""Inference time of torchvision networks in PyTorch and in onnxruntime, the twin of
splot's `examples/zoo_speed.rs`. Usage: python bench/zoo_torch.py MODEL BATCH [RUNS] [--threads N]
Prints two lines: "torch <model> batch <b>: <ms> ms/batch, <img/s> images/s" and the same
for "onnxruntime" (the model exported with torch.onnx to a temporary file)."""
import argparse
import os
import tempfile
import time

import torch
import torchvision

p = argparse.ArgumentParser()
p.add_argument("model")
p.add_argument("batch", type=int)
p.add_argument("runs", type=int, nargs="?", default=5)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads)
net = getattr(torchvision.models, a.model)(weights=None).eval()
size = 224
x = torch.randn(a.batch, 3, size, size)


def best(fn):
    fn()
    times = []
    for _ in range(a.runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


with torch.inference_mode():
    t = best(lambda: net(x))
print(f"torch {a.model} batch {a.batch}: {1e3 * t:.1f} ms/batch, {a.batch / t:.1f} images/s", flush=True)

try:
    import onnxruntime as ort
except ImportError:
    print(f"onnxruntime {a.model} batch {a.batch}: not installed")
    raise SystemExit(0)
path = os.path.join(tempfile.mkdtemp(), f"{a.model}.onnx")
torch.onnx.export(net, x, path, input_names=["x"], dynamo=False)
opts = ort.SessionOptions()
opts.intra_op_num_threads = a.threads
opts.inter_op_num_threads = 1
sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
xn = x.numpy()
t = best(lambda: sess.run(None, {"x": xn}))
print(f"onnxruntime {a.model} batch {a.batch}: {1e3 * t:.1f} ms/batch, {a.batch / t:.1f} images/s")
