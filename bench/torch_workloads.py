"""The benchmark workloads in PyTorch, the twin of splot's `examples/workload.rs` (the
registry in `crates/splot/benches/workloads/mod.rs`): same names, same shapes, same timing.

Usage: python bench/torch_workloads.py NAME [--reps N] [--warmup N] [--threads N] | --list
Sets the workload up, runs it --warmup times (default 2), then --reps times (default 10),
and prints one line: "name <name> ms <median ms per run> gflops <GFLOP/s or 0>".

fp32, batch 8 unless the name says otherwise, 2 threads unless --threads.
- conv_fwd_*: F.conv2d under torch.inference_mode().
- conv_fwdbwd_*: forward, then torch.autograd.grad with an all-ones output gradient, for
  the gradients of input, weight and bias. Replicate and symmetric padding: PyTorch's
  convolution only pads with zeros, so the input is padded first (F.pad), then convolved
  with padding 0. PyTorch has no symmetric mode; for a padding of 1, symmetric (the edge
  pixel mirrored, numpy's 'symmetric') equals replicate, so both use mode='replicate'.
- maxpool / batchnorm (training mode) / lrn: forward+backward the same way.
- *_infer_b*: torchvision network (weights=None) in eval() under inference_mode().
- *_train_b*: one SGD step (lr 0.01, momentum 0.9): zero_grad, forward in train(),
  cross-entropy, backward, step. lenet5 is bench/lenet_torch.py's (dense C3).
- gemm_peak: torch.mm of two 2048x2048 matrices.
- nms_5000, roi_align_fwd_512, roi_align_fwdbwd_512: torchvision.ops.nms and roi_align on
  random boxes (centres uniform in the image, sides uniform in [16, 256); each side draws
  with its own generator, so the boxes are alike in distribution, not equal).
GFLOP/s: 2 per multiply-add; forward+backward and training count 3 forward passes; networks
are counted with torch.utils.flop_counter on one forward pass; 0 for pooling and norms.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F
import torchvision

BATCH = 8

# name suffix: (c, oc, hw, k, stride, pad, groups, padding mode)
CONVS = {
    "c64_56": (64, 64, 56, 3, 1, 1, 1, "zeros"),
    "c3_224_7x7s2": (3, 64, 224, 7, 2, 3, 1, "zeros"),
    "c256_14": (256, 256, 14, 3, 1, 1, 1, "zeros"),
    "c512_7": (512, 512, 7, 3, 1, 1, 1, "zeros"),
    "c64_256_56_1x1": (64, 256, 56, 1, 1, 0, 1, "zeros"),
    "dw128_56": (128, 128, 56, 3, 1, 1, 128, "zeros"),
    "c64_56_replicate": (64, 64, 56, 3, 1, 1, 1, "replicate"),
    # Symmetric padding of 1 repeats the edge pixel: the same as replicate.
    "c64_56_symmetric": (64, 64, 56, 3, 1, 1, 1, "replicate"),
}


def names():
    out = ["gemm_peak"]
    for prefix in ["conv_fwd", "conv_fwdbwd"]:
        out += [f"{prefix}_{s}" for s in CONVS]
    out += ["maxpool_fwdbwd_64_112", "batchnorm_fwdbwd_64_112", "lrn_fwdbwd_96_55"]
    out += ["lenet5_train_b64", "lenet5_train_b256", "resnet18_infer_b1", "resnet18_infer_b8"]
    out += ["resnet18_train_b8", "vgg16_infer_b8", "googlenet_infer_b8"]
    return out + list(OPS)


def forward_backward(forward, inputs):
    """A run: forward, then the gradients of `inputs` from an all-ones output gradient."""
    ones = torch.ones_like(forward().detach())

    def run():
        torch.autograd.grad(forward(), inputs, ones)

    return run


def conv(suffix, backward):
    c, oc, hw, k, stride, pad, groups, mode = CONVS[suffix]
    x = torch.randn(BATCH, c, hw, hw)
    w = torch.empty(oc, c // groups, k, k)
    torch.nn.init.kaiming_normal_(w)
    b = 0.1 * torch.randn(oc)
    o = (hw + 2 * pad - k) // stride + 1
    flops = 2.0 * BATCH * oc * o * o * (c // groups) * k * k

    def forward():
        if mode == "zeros":
            return F.conv2d(x, w, b, stride=stride, padding=pad, groups=groups)
        xp = F.pad(x, (pad, pad, pad, pad), mode=mode)
        return F.conv2d(xp, w, b, stride=stride, groups=groups)

    if not backward:
        def run():
            with torch.inference_mode():
                forward()

        return run, flops
    for t in (x, w, b):
        t.requires_grad_(True)
    return forward_backward(forward, (x, w, b)), 3.0 * flops


def network_flops(net, x):
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        net(x)
    return float(counter.get_total_flops())


def torchvision_net(model):
    import torchvision

    if model == "googlenet":
        return torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=False)
    return getattr(torchvision.models, model)(weights=None)


def infer(model, batch):
    net = torchvision_net(model).eval()
    x = torch.randn(batch, 3, 224, 224)

    def run():
        with torch.inference_mode():
            net(x)

    return run, network_flops(net, x)


def train(model, batch):
    if model == "lenet5":
        from lenet_torch import lenet5  # beside this script, on sys.path

        net, x, classes = lenet5(), torch.randn(batch, 1, 32, 32), 10
    else:
        net, x, classes = torchvision_net(model), torch.randn(batch, 3, 224, 224), 1000
    flops = 3.0 * network_flops(net.eval(), x)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    y = torch.arange(batch) % classes

    def run():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        opt.step()

    return run, flops


# Engine part 3's ops (the twins of crates/splot/benches/workloads/ops.rs): name -> a
# function returning (run, flops of one run).
OPS = {}
# recurrent
OPS["lstm_fwd_2x512_b64_t20"] = lambda: lstm_workload(False)
OPS["lstm_fwdbwd_2x512_b64_t20"] = lambda: lstm_workload(True)


def lstm_workload(backward):
    """2-layer LSTM, input 512, hidden 512, batch 64, 20 steps: forward in eval under
    inference_mode, or forward+backward (input and every weight) from an all-ones output
    gradient."""
    layers, i, h, n, t = 2, 512, 512, 64, 20
    lstm = torch.nn.LSTM(i, h, layers)
    x = torch.randn(t, n, i)
    flops = 2.0 * t * n * 4 * h * ((i + h) + (layers - 1) * 2 * h)
    if not backward:
        lstm.eval()

        def run():
            with torch.inference_mode():
                lstm(x)

        return run, flops
    x.requires_grad_(True)
    return forward_backward(lambda: lstm(x)[0], (x, *lstm.parameters())), 3.0 * flops


def random_boxes(n, width, height):
    """n boxes (x1, y1, x2, y2) in a width x height image: centres uniform in the image,
    width and height each uniform in [16, 256)."""
    c = torch.rand(n, 2) * torch.tensor([width, height])
    s = 16 + torch.rand(n, 2) * 240
    return torch.cat([c - s / 2, c + s / 2], 1)


def nms_5000():
    """NMS of 5000 random boxes in a 1000 x 1000 image, scores uniform in [0, 1), IoU 0.5."""
    boxes, scores = random_boxes(5000, 1000.0, 1000.0), torch.rand(5000)
    return (lambda: torchvision.ops.nms(boxes, scores, 0.5)), 0.0


def roi_align_setting():
    """Faster R-CNN's RoIAlign: a [1, 256, 50, 68] stride-16 map of an 800 x 1088 image,
    512 random boxes clipped to the image, 7x7, scale 1/16, sampling ratio 2, not aligned."""
    x = torch.randn(1, 256, 50, 68, requires_grad=True)
    boxes = torchvision.ops.clip_boxes_to_image(random_boxes(512, 1088.0, 800.0), (800, 1088))
    return x, lambda: torchvision.ops.roi_align(x, [boxes], (7, 7), 1 / 16, 2, False)


def roi_align_fwd_512():
    x, forward = roi_align_setting()

    def run():
        with torch.inference_mode():
            forward()

    return run, 0.0


def roi_align_fwdbwd_512():
    x, forward = roi_align_setting()
    return forward_backward(forward, (x,)), 0.0


OPS["nms_5000"] = nms_5000
OPS["roi_align_fwd_512"] = roi_align_fwd_512
OPS["roi_align_fwdbwd_512"] = roi_align_fwdbwd_512


def upsample_bilinear(backward):
    """FCN's score upsampling: [8, 21, 64, 64] bilinear x2, align_corners=False."""
    def prepare():
        x = torch.randn(BATCH, 21, 64, 64, requires_grad=backward)
        forward = lambda: F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)  # noqa: E731
        if backward:
            return forward_backward(forward, (x,)), 0.0

        def run():
            with torch.inference_mode():
                forward()

        return run, 0.0

    return prepare


OPS["upsample_bilinear_fwd_21_64"] = upsample_bilinear(False)
OPS["upsample_bilinear_fwdbwd_21_64"] = upsample_bilinear(True)


def cross_entropy_segmentation():
    """[8, 21, 128, 128] logits against per-pixel targets, about a tenth ignored (255)."""
    x = torch.randn(8, 21, 128, 128, requires_grad=True)
    t = torch.randint(0, 21, (8, 128, 128))
    t[torch.rand(8, 128, 128) < 0.1] = 255
    return forward_backward(lambda: F.cross_entropy(x, t, ignore_index=255), (x,)), 0.0


OPS["cross_entropy_fwdbwd_21_128"] = cross_entropy_segmentation


def prepare(name):
    """(run, flops of one run) for the workload called `name`."""
    torch.manual_seed(1)
    if name in OPS:
        return OPS[name]()
    if name == "gemm_peak":
        n = 2048
        a, b = torch.randn(n, n), torch.randn(n, n)
        return (lambda: torch.mm(a, b)), 2.0 * n**3
    for prefix, backward in [("conv_fwdbwd_", True), ("conv_fwd_", False)]:
        if name.startswith(prefix):
            return conv(name[len(prefix):], backward)
    if name == "maxpool_fwdbwd_64_112":
        x = torch.randn(BATCH, 64, 112, 112, requires_grad=True)
        return forward_backward(lambda: F.max_pool2d(x, 3, stride=2, padding=1), (x,)), 0.0
    if name == "batchnorm_fwdbwd_64_112":
        x = torch.randn(BATCH, 64, 112, 112, requires_grad=True)
        mean, var = torch.zeros(64), torch.ones(64)
        w, b = torch.ones(64, requires_grad=True), torch.zeros(64, requires_grad=True)
        forward = lambda: F.batch_norm(x, mean, var, w, b, training=True)  # noqa: E731
        return forward_backward(forward, (x, w, b)), 0.0
    if name == "lrn_fwdbwd_96_55":
        x = torch.randn(BATCH, 96, 55, 55, requires_grad=True)
        # AlexNet: alpha 1e-4 on the sum of squares; PyTorch divides alpha by size.
        lrn = torch.nn.LocalResponseNorm(5, alpha=5 * 1e-4, beta=0.75, k=2.0)
        return forward_backward(lambda: lrn(x), (x,)), 0.0
    model, mode, batch = name.split("_")
    batch = int(batch.removeprefix("b"))
    return infer(model, batch) if mode == "infer" else train(model, batch)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("name", nargs="?")
    p.add_argument("--list", action="store_true")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    if a.list:
        print("\n".join(names()))
        return
    if a.name not in names():
        p.error(f"unknown workload {a.name!r}; --list names them")
    torch.set_num_threads(a.threads)
    run, flops = prepare(a.name)
    for _ in range(a.warmup):
        run()
    ms = []
    for _ in range(max(1, a.reps)):
        t = time.perf_counter()
        run()
        ms.append(1e3 * (time.perf_counter() - t))
    median = statistics.median(ms)
    print(f"name {a.name} ms {median:.3f} gflops {flops / (median * 1e6):.1f}")


if __name__ == "__main__":
    main()
