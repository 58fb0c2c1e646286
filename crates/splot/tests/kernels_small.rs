//! Every convolution kernel of `cpu/` (direct, Winograd F(2×2, 3×3), im2col + GEMM, the
//! whole-image case) on small shapes, forward and both backward passes, against a naive
//! f64 reference. Small enough to run under Miri (`scripts/miri.sh`), which checks the
//! kernels' `unsafe` code (unaligned vector loads, disjoint writes from several threads)
//! for undefined behaviour.

use splot::{Conv2dConfig, Rng, Tensor};

/// `y[n,o,i,j] = Σ x[n,c,i·s+m−p, j·s+k−p]·w[o,c,m,k]`, zero padding, in f64.
fn naive(x: &Tensor, w: &Tensor, stride: usize, pad: usize) -> (Vec<f64>, [usize; 4]) {
    let (xs, ws) = (x.shape().to_vec(), w.shape().to_vec());
    let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3]);
    let (oc, kh, kw) = (ws[0], ws[2], ws[3]);
    let oh = (h + 2 * pad - kh) / stride + 1;
    let ow = (wd + 2 * pad - kw) / stride + 1;
    let (xv, wv) = (x.to_vec(), w.to_vec());
    let mut y = vec![0f64; n * oc * oh * ow];
    for b in 0..n {
        for o in 0..oc {
            for i in 0..oh {
                for j in 0..ow {
                    let mut s = 0f64;
                    for ci in 0..c {
                        for m in 0..kh {
                            for k in 0..kw {
                                let (r, q) = (
                                    (i * stride + m) as isize - pad as isize,
                                    (j * stride + k) as isize - pad as isize,
                                );
                                if r < 0 || q < 0 || r >= h as isize || q >= wd as isize {
                                    continue;
                                }
                                let xi = ((b * c + ci) * h + r as usize) * wd + q as usize;
                                let wi = ((o * c + ci) * kh + m) * kw + k;
                                s += xv[xi] as f64 * wv[wi] as f64;
                            }
                        }
                    }
                    y[((b * oc + o) * oh + i) * ow + j] = s;
                }
            }
        }
    }
    (y, [n, oc, oh, ow])
}

/// Forward and both gradients of `sum(y ⊙ g)` against the naive reference (the gradients
/// through the reference's linearity: `dL/dx` and `dL/dw` by finite sums of the naive
/// forward would be slow, so they are checked as `⟨dL/dx, x⟩ + ⟨dL/dw, w⟩ = 2·L`, which
/// holds for the bilinear `L(x, w) = ⟨conv(x, w), g⟩`, and `⟨dL/dx, e⟩` for a probe `e`).
fn check(xshape: [usize; 4], wshape: [usize; 4], stride: usize, pad: usize, seed: u64) {
    let mut rng = Rng::seed(seed);
    let x = Tensor::randn(&xshape, 0.0, 1.0, &mut rng);
    let w = Tensor::randn(&wshape, 0.0, 0.3, &mut rng);
    x.set_requires_grad(true);
    w.set_requires_grad(true);
    let cfg = Conv2dConfig::new().stride(stride).padding(pad);
    let y = x.conv2d(&w, None, &cfg).unwrap();
    let (want, shape) = naive(&x, &w, stride, pad);
    assert_eq!(y.shape(), &shape);
    let scale = want.iter().fold(1f64, |m, v| m.max(v.abs()));
    for (a, b) in y.to_vec().iter().zip(&want) {
        assert!(
            (*a as f64 - b).abs() <= 1e-4 * scale,
            "forward {a} vs {b} ({xshape:?} * {wshape:?})"
        );
    }
    let g = Tensor::randn(&shape, 0.0, 1.0, &mut rng);
    let loss = y.mul(&g).unwrap().sum_all();
    let grads = loss.backward().unwrap();
    let (gx, gw) = (
        grads.get(&x).unwrap().to_vec(),
        grads.get(&w).unwrap().to_vec(),
    );
    let l: f64 = want.iter().zip(g.to_vec()).map(|(a, b)| a * b as f64).sum();
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(p, q)| *p as f64 * *q as f64)
            .sum::<f64>()
    };
    let euler = dot(&gx, &x.to_vec()) + dot(&gw, &w.to_vec());
    let tol = 1e-3 * (l.abs() + scale);
    assert!(
        (euler - 2.0 * l).abs() <= tol,
        "⟨∇, (x, w)⟩ = {euler}, 2L = {}",
        2.0 * l
    );
    // dL/dx and dL/dw in random directions e: L is linear in each argument, so
    // L(x + e, w) − L(x, w) = ⟨dL/dx, e⟩ and L(x, w + e) − L(x, w) = ⟨dL/dw, e⟩ exactly.
    let loss_at = |x: &Tensor, w: &Tensor| -> f64 {
        let (y, _) = naive(x, w, stride, pad);
        y.iter().zip(g.to_vec()).map(|(a, b)| a * b as f64).sum()
    };
    let e = Tensor::randn(&xshape, 0.0, 1.0, &mut rng);
    let xe = splot::no_grad(|| x.add(&e)).unwrap();
    assert!(
        (loss_at(&xe, &w) - l - dot(&gx, &e.to_vec())).abs() <= tol,
        "dL/dx"
    );
    let e = Tensor::randn(&wshape, 0.0, 0.3, &mut rng);
    let we = splot::no_grad(|| w.add(&e)).unwrap();
    assert!(
        (loss_at(&x, &we) - l - dot(&gw, &e.to_vec())).abs() <= tol,
        "dL/dw"
    );
}

#[test]
fn direct_kernel() {
    // stride 1, at most 16 output channels, a kernel larger than 1×1
    check([2, 3, 7, 6], [4, 3, 3, 3], 1, 1, 1);
    check([1, 2, 6, 9], [3, 2, 5, 5], 1, 2, 2);
}

// Under Miri this one shape (64 channels each way, the smallest Winograd takes) runs for
// hours; the Winograd kernels' `unsafe` is only the call of their AVX2/AVX-512 versions
// after the CPU check, their bodies safe code, so Miri skips it.
#[test]
#[cfg_attr(miri, ignore)]
fn winograd_kernel() {
    // 3×3, stride 1, at least 64 channels each way, an output large enough to pay
    check([1, 64, 20, 20], [64, 64, 3, 3], 1, 1, 3);
}

#[test]
fn im2col_gemm_kernel() {
    // stride 2 (neither direct nor Winograd), and more output channels than direct takes
    check([2, 3, 9, 9], [5, 3, 3, 3], 2, 1, 4);
    check([1, 4, 6, 6], [20, 4, 3, 3], 1, 1, 5);
    check([2, 6, 5, 5], [8, 6, 1, 1], 1, 0, 6);
}

#[test]
fn whole_image_kernel() {
    // the kernel covers the image: one output per channel (LeNet-5's C5)
    check([3, 4, 5, 5], [6, 4, 5, 5], 1, 0, 7);
}
