//! Matrix multiplication (the basis of fully connected layers), batched matrix products
//! (Gram matrices, attention).
//!
//! Legend: `a [m, k]`, `b [k, n]`, `out [m, n]`, `g = ∂loss/∂out [m, n]`; batched, each of
//! `B` products on its own: `a [B, m, k]`, `b [B, k, n]`, `out [B, m, n]`.

use crate::cpu::gemm::{sgemm, sgemm_with, MatRef};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rayon::prelude::*;

impl Tensor {
    /// Matrix product of two 2-d tensors: `[m, k] × [k, n] → [m, n]`, on both cores.
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (sa, sb) = (self.shape(), other.shape());
        if sa.len() != 2 || sb.len() != 2 || sa[1] != sb[0] {
            return Err(Error::shape(
                "matmul",
                format!("cannot multiply {sa:?} by {sb:?}: needs [m, k] × [k, n]"),
            ));
        }
        let (m, k, n) = (sa[0], sa[1], sb[1]);
        let mut out = vec![0.0f32; m * n];
        sgemm(
            MatRef::row_major(&self.data(), m, k),
            MatRef::row_major(&other.data(), k, n),
            &mut out,
            false,
        );
        let (a, b) = (self.clone(), other.clone());
        Ok(Tensor::from_op(
            "matmul",
            vec![m, n],
            out,
            &[self, other],
            move |g, needs| {
                let gm = MatRef::row_major(g, m, n);
                // ∂loss/∂a = g · bᵀ
                let ga = needs[0].then(|| {
                    let mut ga = vec![0.0f32; m * k];
                    sgemm(gm, MatRef::row_major(&b.data(), k, n).t(), &mut ga, false);
                    ga
                });
                // ∂loss/∂b = aᵀ · g
                let gb = needs[1].then(|| {
                    let mut gb = vec![0.0f32; k * n];
                    sgemm(MatRef::row_major(&a.data(), m, k).t(), gm, &mut gb, false);
                    gb
                });
                Ok(vec![ga, gb])
            },
        ))
    }
}

impl Tensor {
    /// A fully connected layer's map: `y = x·Wᵀ + b` for `x [n, in]`, `weight [out, in]`,
    /// `bias [out]` (PyTorch's `F.linear`).
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let (sx, sw) = (self.shape(), weight.shape());
        if sx.len() != 2 || sw.len() != 2 || sx[1] != sw[1] {
            return Err(Error::shape(
                "linear",
                format!("input {sx:?} does not fit weight {sw:?}: needs [n, in] and [out, in]"),
            ));
        }
        let (n, k, m) = (sx[0], sx[1], sw[0]);
        if let Some(b) = bias {
            if b.shape() != [m] {
                return Err(Error::shape(
                    "linear",
                    format!("bias must be [{m}] for weight {sw:?}, got {:?}", b.shape()),
                ));
            }
        }
        super::cost::add_multiply_adds(n * k * m);
        let mut out = vec![0.0f32; n * m];
        if let Some(b) = bias {
            let b = b.data();
            out.chunks_mut(m).for_each(|row| row.copy_from_slice(&b));
        }
        sgemm(
            MatRef::row_major(&self.data(), n, k),
            MatRef::row_major(&weight.data(), m, k).t(),
            &mut out,
            bias.is_some(),
        );
        let (x, w) = (self.clone(), weight.clone());
        let mut parents = vec![self, weight];
        parents.extend(bias);
        Ok(Tensor::from_op(
            "linear",
            vec![n, m],
            out,
            &parents,
            move |g, needs| {
                let gm = MatRef::row_major(g, n, m);
                // ∂loss/∂x = g·W
                let gx = needs[0].then(|| {
                    let mut gx = vec![0.0f32; n * k];
                    sgemm(gm, MatRef::row_major(&w.data(), m, k), &mut gx, false);
                    gx
                });
                // ∂loss/∂W = gᵀ·x
                let gw = needs[1].then(|| {
                    let mut gw = vec![0.0f32; m * k];
                    sgemm(gm.t(), MatRef::row_major(&x.data(), n, k), &mut gw, false);
                    gw
                });
                let mut grads = vec![gx, gw];
                if needs.len() == 3 {
                    // ∂loss/∂b = Σ_rows g
                    grads.push(needs[2].then(|| {
                        let mut gb = vec![0.0f32; m];
                        g.chunks(m)
                            .for_each(|row| gb.iter_mut().zip(row).for_each(|(a, b)| *a += b));
                        gb
                    }));
                }
                Ok(grads)
            },
        ))
    }
}

/// `out[i] = left(i) · right(i)` for the `batch` products of `[m, n]` outputs: parallel over
/// the batch (one whole product per task, each on one thread) when the products are small
/// or many, else one after another, each GEMM on the whole pool.
fn batched_products<'a>(
    out: &mut [f32],
    batch: usize,
    (m, n, k): (usize, usize, usize),
    operands: impl Fn(usize) -> (MatRef<'a>, MatRef<'a>) + Sync,
) {
    let size = m * n;
    if size == 0 {
        return;
    }
    let threads = rayon::current_num_threads();
    let small = m * n * k < 64 * 64 * 64;
    if threads > 1 && batch > 1 && (small || batch >= 4 * threads) {
        out.par_chunks_mut(size).enumerate().for_each(|(i, o)| {
            let (a, b) = operands(i);
            sgemm_with(a, b, o, false, false);
        });
    } else {
        for (i, o) in out.chunks_mut(size).enumerate() {
            let (a, b) = operands(i);
            sgemm(a, b, o, false);
        }
    }
}

impl Tensor {
    /// Batched matrix product `[B, m, k] × [B, k, n] → [B, m, n]` (`torch.bmm`):
    /// `out[i] = self[i] · other[i]`, each through the GEMM. Backward per product:
    /// `∂loss/∂a[i] = g[i]·b[i]ᵀ`, `∂loss/∂b[i] = a[i]ᵀ·g[i]`.
    pub fn bmm(&self, other: &Tensor) -> Result<Tensor> {
        let (sa, sb) = (self.shape(), other.shape());
        let (&[batch, m, k], &[batch_b, k_b, n]) = (sa, sb) else {
            return Err(Error::shape(
                "bmm",
                format!("cannot multiply {sa:?} by {sb:?}: needs [B, m, k] × [B, k, n]"),
            ));
        };
        if batch != batch_b || k != k_b {
            return Err(Error::shape(
                "bmm",
                format!("cannot multiply {sa:?} by {sb:?}: needs [B, m, k] × [B, k, n]"),
            ));
        }
        let mut out = vec![0.0f32; batch * m * n];
        {
            let (a, b) = (self.data(), other.data());
            batched_products(&mut out, batch, (m, n, k), |i| {
                (
                    MatRef::row_major(&a[i * m * k..][..m * k], m, k),
                    MatRef::row_major(&b[i * k * n..][..k * n], k, n),
                )
            });
        }
        let (ac, bc) = (self.clone(), other.clone());
        Ok(Tensor::from_op(
            "bmm",
            vec![batch, m, n],
            out,
            &[self, other],
            move |g, needs| {
                let gi = |i: usize| MatRef::row_major(&g[i * m * n..][..m * n], m, n);
                // ∂loss/∂a[i] = g[i] · b[i]ᵀ
                let ga = needs[0].then(|| {
                    let b = bc.data();
                    let mut ga = vec![0.0f32; batch * m * k];
                    batched_products(&mut ga, batch, (m, k, n), |i| {
                        (gi(i), MatRef::row_major(&b[i * k * n..][..k * n], k, n).t())
                    });
                    ga
                });
                // ∂loss/∂b[i] = a[i]ᵀ · g[i]
                let gb = needs[1].then(|| {
                    let a = ac.data();
                    let mut gb = vec![0.0f32; batch * k * n];
                    batched_products(&mut gb, batch, (k, n, m), |i| {
                        (MatRef::row_major(&a[i * m * k..][..m * k], m, k).t(), gi(i))
                    });
                    gb
                });
                Ok(vec![ga, gb])
            },
        ))
    }
}

/// Inner-dimension columns per task of [`Tensor::gram_matrix`]'s forward pass.
const GRAM_CHUNK: usize = 8192;

impl Tensor {
    /// Gram matrices of feature maps (style transfer's correlations): for `self`
    /// `[n, c, h, w]`, `out[i] = F_i·F_iᵀ / (c·h·w)` `[n, c, c]`, `F_i` the `c × hw` matrix
    /// of image `i`'s maps. The long inner dimension `hw` is split across threads (each
    /// chunk one GEMM into its own `c × c` sum), since `c × c` is too small an output to
    /// share. Backward: `∂loss/∂F_i = (g_i + g_iᵀ)·F_i / (c·h·w)`, one GEMM per image.
    pub fn gram_matrix(&self) -> Result<Tensor> {
        let &[n, c, h, w] = self.shape() else {
            return Err(Error::shape(
                "gram_matrix",
                format!("features must be [n, c, h, w], not {:?}", self.shape()),
            ));
        };
        let hw = h * w;
        let scale = 1.0 / (c * hw).max(1) as f32;
        let mut out = vec![0.0f32; n * c * c];
        {
            let f = self.data();
            for (i, gi) in out.chunks_mut(c * c).enumerate() {
                let fi = &f[i * c * hw..][..c * hw];
                let chunks: Vec<usize> = (0..hw).step_by(GRAM_CHUNK).collect();
                let partial = chunks
                    .par_iter()
                    .map(|&k0| {
                        let len = GRAM_CHUNK.min(hw - k0);
                        let a = MatRef::strided(&fi[k0..], c, len, hw);
                        let mut p = vec![0.0f32; c * c];
                        sgemm_with(a, a.t(), &mut p, false, false);
                        p
                    })
                    .reduce(
                        || vec![0.0f32; c * c],
                        |mut a, b| {
                            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                            a
                        },
                    );
                gi.iter_mut()
                    .zip(&partial)
                    .for_each(|(o, p)| *o = p * scale);
            }
        }
        let fc = self.clone();
        Ok(Tensor::from_op(
            "gram_matrix",
            vec![n, c, c],
            out,
            &[self],
            move |g, needs| {
                let gf = needs[0].then(|| {
                    let f = fc.data();
                    let mut gf = vec![0.0f32; n * c * hw];
                    for i in 0..n {
                        let gi = &g[i * c * c..][..c * c];
                        // S = (g + gᵀ)/(c·hw), then ∂F = S·F
                        let mut s = vec![0.0f32; c * c];
                        for r in 0..c {
                            for q in 0..c {
                                s[r * c + q] = (gi[r * c + q] + gi[q * c + r]) * scale;
                            }
                        }
                        sgemm(
                            MatRef::row_major(&s, c, c),
                            MatRef::row_major(&f[i * c * hw..][..c * hw], c, hw),
                            &mut gf[i * c * hw..][..c * hw],
                            false,
                        );
                    }
                    gf
                });
                Ok(vec![gf])
            },
        ))
    }
}
