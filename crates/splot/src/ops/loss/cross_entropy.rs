//! Class losses: cross-entropy of logits and negative log-likelihood of log-probabilities,
//! over `[n, k]`, `[n, k, d1, …]` (one target per pixel) or one unbatched `[k]`, as
//! PyTorch's `F.cross_entropy` and `F.nll_loss` define them.
//!
//! Legend: the input is seen as `[n, k, inner]` (`inner = d1·d2·…`, 1 for `[n, k]`); a
//! *position* `i = (s, j)` is sample `s` at pixel `j`, `x_c` its `k` scores (stride
//! `inner` apart), `y` its target, `lse = log Σ_c e^{x_c}` (0 for log-probabilities),
//! `lp_c = x_c − lse`, `w_c` the class weights (1 when absent), `W = Σ_c w_c`, `ε` the
//! label smoothing, `I` the positions whose target is the ignored index. Per position
//! (0 at ignored positions):
//!
//! `ℓ_i = (1 − ε)·w_y·(−lp_y) + (ε/k)·Σ_c w_c·(−lp_c)`
//!
//! and `mean = Σ_i ℓ_i / D` with `D = Σ_{i∉I} w_{y_i}` — with smoothing too: PyTorch
//! divides the smoothing term by the same total weight of the counted targets. When every
//! target is ignored `D = 0` and the mean is NaN (as PyTorch's); `sum` is then 0.
//!
//! Backward (`c_c = (1 − ε)·w_y·[c = y] + (ε/k)·w_c` the coefficients of `−lp_c`,
//! `S = Σ_c c_c = (1 − ε)·w_y + (ε/k)·W`, `p_c = e^{lp_c}`, `u_i` the upstream gradient of
//! position `i`, `g/D` or `g` or `g_i`):
//! `∂loss/∂x_c = u_i·(S·p_c − c_c)` for logits, `−u_i·c_c` for log-probabilities.
//!
//! The kernel makes one pass per step over the class axis with unit-stride runs of
//! positions (a tile of up to [`TILE`] pixels of one sample), so `[8, 21, 128, 128]` needs
//! no permute; tiles and gradient rows run on the pool.

use super::Reduction;
use crate::error::{Error, Result};
use crate::tensor::{numel, Tensor};
use rayon::prelude::*;

/// Positions per tile of the forward kernel (one sample's pixels, contiguous).
const TILE: usize = 512;
/// Rows (`[n, k]` inputs) per task of the forward kernel.
const ROWS: usize = 256;

/// Options of [`Tensor::cross_entropy`] and [`Tensor::nll_loss_with`]; the default is
/// PyTorch's (no smoothing, no weights, mean, no ignored index that a `usize` can hold).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossEntropyConfig {
    /// Label smoothing `ε ∈ [0, 1]`: the target distribution is `(1 − ε)·onehot + ε/k`.
    pub label_smoothing: f32,
    /// One weight per class, or `None` for equal weights.
    pub class_weights: Option<Vec<f32>>,
    /// Mean, sum or none (one loss per position, shape `[n, d1, …]`).
    pub reduction: Reduction,
    /// A target value that counts for nothing (no loss, no gradient, not in the mean's
    /// denominator): PyTorch's `ignore_index`, e.g. 255 for segmentation masks. It may be
    /// any value, a class index included (then that class is ignored).
    pub ignore_index: Option<usize>,
}

/// What the input holds along the class axis.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scores {
    /// Logits: the loss takes their log-softmax.
    Logits,
    /// Log-probabilities: used as they are.
    LogProbs,
}

/// The checked problem: layout, weights and per-position terms.
struct Problem {
    /// `[n, k, inner]`
    n: usize,
    k: usize,
    inner: usize,
    /// The shape of the unreduced loss: `[n, d1, …]` (`[]` for an unbatched `[k]`).
    out_shape: Vec<usize>,
    /// Targets, one per position.
    targets: Vec<usize>,
    /// `w_c`, all 1 when the config has none.
    weights: Vec<f32>,
    eps: f32,
    ignore: Option<usize>,
    scores: Scores,
}

impl Problem {
    /// Validates the input shape, the targets and the options.
    fn new(
        op: &'static str,
        shape: &[usize],
        targets: &[usize],
        cfg: &CrossEntropyConfig,
        scores: Scores,
    ) -> Result<Problem> {
        let (n, k, inner, out_shape) = match shape {
            [] => {
                return Err(Error::shape(
                    op,
                    "input must be [n, classes, …] or [classes], got a scalar []",
                ))
            }
            [k] => (1, *k, 1, vec![]),
            [n, k, rest @ ..] => (*n, *k, numel(rest), [&[*n][..], rest].concat()),
        };
        if k == 0 {
            return Err(Error::shape(op, format!("input {shape:?} has no classes")));
        }
        if targets.len() != n * inner {
            return Err(Error::shape(
                op,
                format!(
                    "{} targets for input {shape:?}, which needs {} (one per sample{})",
                    targets.len(),
                    n * inner,
                    if inner > 1 { " and pixel" } else { "" }
                ),
            ));
        }
        let ignore = cfg.ignore_index;
        if let Some((i, &t)) = targets
            .iter()
            .enumerate()
            .find(|(_, &t)| t >= k && Some(t) != ignore)
        {
            let at = if inner > 1 {
                format!("sample {} at pixel {}", i / inner, i % inner)
            } else {
                format!("sample {i}")
            };
            let ignored = match ignore {
                Some(v) => format!("ignore_index is {v}"),
                None => "no ignore_index".to_string(),
            };
            return Err(Error::shape(
                op,
                format!("target {t} of {at} is not a class of input {shape:?} ({ignored})"),
            ));
        }
        let eps = cfg.label_smoothing;
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::config(
                op,
                format!("label smoothing {eps} must lie in [0, 1]"),
            ));
        }
        let weights = match &cfg.class_weights {
            Some(w) if w.len() != k => {
                return Err(Error::shape(
                    op,
                    format!(
                        "{} class weights for {k} classes (input {shape:?})",
                        w.len()
                    ),
                ));
            }
            Some(w) => {
                if let Some((c, v)) = w.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(Error::config(
                        op,
                        format!("class weight {c} is {v}; weights must be finite"),
                    ));
                }
                w.clone()
            }
            None => vec![1.0; k],
        };
        Ok(Problem {
            n,
            k,
            inner,
            out_shape,
            targets: targets.to_vec(),
            weights,
            eps,
            ignore,
            scores,
        })
    }

    /// Whether position `i` counts.
    #[inline]
    fn counts(&self, i: usize) -> bool {
        Some(self.targets[i]) != self.ignore
    }

    /// `D`: the total weight of the counted targets (their number when unweighted).
    fn denominator(&self) -> f64 {
        (0..self.targets.len())
            .filter(|&i| self.counts(i))
            .map(|i| self.weights[self.targets[i]] as f64)
            .sum()
    }

    /// Forward over the positions of one run: `lse` and `ℓ` of positions `first..` of
    /// sample `s` (a tile of pixels), reading the sample's `[k, inner]` plane.
    fn tile(&self, plane: &[f32], s: usize, first: usize, lse: &mut [f32], loss: &mut [f32]) {
        let (k, inner, len) = (self.k, self.inner, lse.len());
        let row = |c: usize| &plane[c * inner + first..][..len];
        if self.scores == Scores::Logits {
            // lse = m + ln Σ_c e^{x_c − m}, m = max_c x_c (finite for finite logits)
            lse.fill(f32::NEG_INFINITY);
            for c in 0..k {
                lse.iter_mut().zip(row(c)).for_each(|(m, &v)| *m = m.max(v));
            }
            let mut sums = [0.0f32; TILE];
            let sums = &mut sums[..len];
            for c in 0..k {
                for ((s, &m), &v) in sums.iter_mut().zip(lse.iter()).zip(row(c)) {
                    *s += (v - m).exp();
                }
            }
            lse.iter_mut()
                .zip(sums.iter())
                .for_each(|(m, s)| *m += s.ln());
        } else {
            lse.fill(0.0);
        }
        // (ε/k)·Σ_c w_c·(lse − x_c)
        loss.fill(0.0);
        if self.eps > 0.0 {
            for c in 0..k {
                let a = self.eps / k as f32 * self.weights[c];
                for ((o, &l), &v) in loss.iter_mut().zip(lse.iter()).zip(row(c)) {
                    *o += a * (l - v);
                }
            }
        }
        // + (1 − ε)·w_y·(lse − x_y); 0 at ignored positions
        let base = s * inner + first;
        for (j, o) in loss.iter_mut().enumerate() {
            if !self.counts(base + j) {
                *o = 0.0;
                continue;
            }
            let y = self.targets[base + j];
            *o += (1.0 - self.eps) * self.weights[y] * (lse[j] - plane[y * inner + first + j]);
        }
    }

    /// `(lse, ℓ)` of every position, in position order.
    fn forward(&self, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let (k, inner) = (self.k, self.inner);
        let positions = self.n * inner;
        let mut lse = vec![0.0f32; positions];
        let mut loss = vec![0.0f32; positions];
        if positions == 0 {
            // an empty batch or a pixel axis of length 0
        } else if inner == 1 {
            // [n, k]: tiles of one position each, many rows per task.
            lse.par_chunks_mut(ROWS)
                .zip(loss.par_chunks_mut(ROWS))
                .enumerate()
                .for_each(|(b, (lse, loss))| {
                    for (r, (l, o)) in lse.iter_mut().zip(loss.iter_mut()).enumerate() {
                        let s = b * ROWS + r;
                        let plane = &x[s * k..(s + 1) * k];
                        self.tile(
                            plane,
                            s,
                            0,
                            std::slice::from_mut(l),
                            std::slice::from_mut(o),
                        );
                    }
                });
        } else {
            lse.par_chunks_mut(inner)
                .zip(loss.par_chunks_mut(inner))
                .enumerate()
                .for_each(|(s, (lse, loss))| {
                    let plane = &x[s * k * inner..(s + 1) * k * inner];
                    lse.par_chunks_mut(TILE)
                        .zip(loss.par_chunks_mut(TILE))
                        .enumerate()
                        .for_each(|(t, (lse, loss))| self.tile(plane, s, t * TILE, lse, loss));
                });
        }
        (lse, loss)
    }

    /// `∂loss/∂x` from the upstream gradient `u_i` of every position (0 where ignored).
    fn backward(&self, x: &[f32], lse: &[f32], up: &[f32]) -> Vec<f32> {
        let (k, inner, eps) = (self.k, self.inner, self.eps);
        let total: f32 = self.weights.iter().sum();
        // per position: u_i·S and u_i·(1 − ε)·w_y (0 at ignored positions, where u_i = 0)
        let (us, uy): (Vec<f32>, Vec<f32>) = (0..up.len())
            .map(|i| {
                let wy = (1.0 - eps) * self.weights[self.targets[i].min(k - 1)];
                (up[i] * (wy + eps / k as f32 * total), up[i] * wy)
            })
            .unzip();
        let logits = self.scores == Scores::Logits;
        // u·S·p_c (0 for log-probabilities)
        let softmax_term = |us: f32, v: f32, lse: f32| {
            if logits {
                us * (v - lse).exp()
            } else {
                0.0
            }
        };
        let mut grad = vec![0.0f32; x.len()];
        if x.is_empty() {
            // nothing to differentiate
        } else if inner == 1 {
            // [n, k]: a task per block of rows
            grad.par_chunks_mut(k * ROWS)
                .enumerate()
                .for_each(|(b, rows)| {
                    for (r, gr) in rows.chunks_mut(k).enumerate() {
                        let i = b * ROWS + r;
                        let xr = &x[i * k..(i + 1) * k];
                        for (c, (g, &v)) in gr.iter_mut().zip(xr).enumerate() {
                            // u·(S·p_c − (ε/k)·w_c)
                            *g = softmax_term(us[i], v, lse[i])
                                - up[i] * eps / k as f32 * self.weights[c];
                        }
                        if self.counts(i) {
                            // − u·(1 − ε)·w_y at c = y
                            gr[self.targets[i]] -= uy[i];
                        }
                    }
                });
        } else {
            // a task per row (s, c) of `inner` pixels
            grad.par_chunks_mut(inner)
                .enumerate()
                .for_each(|(row, gr)| {
                    let (s, c) = (row / k, row % k);
                    let xr = &x[row * inner..(row + 1) * inner];
                    let at = s * inner..(s + 1) * inner;
                    let (lse, up) = (&lse[at.clone()], &up[at.clone()]);
                    let (us, uy) = (&us[at.clone()], &uy[at.clone()]);
                    let targets = &self.targets[at];
                    let a = eps / k as f32 * self.weights[c];
                    for j in 0..inner {
                        let own = if targets[j] == c { uy[j] } else { 0.0 };
                        // u·(S·p_c − c_c), c_c = (ε/k)·w_c + (1 − ε)·w_y·[c = y]
                        gr[j] = softmax_term(us[j], xr[j], lse[j]) - up[j] * a - own;
                    }
                });
        }
        grad
    }
}

/// The class loss of `input` (logits or log-probabilities), reduced as configured.
fn class_loss(
    op: &'static str,
    input: &Tensor,
    targets: &[usize],
    cfg: &CrossEntropyConfig,
    scores: Scores,
) -> Result<Tensor> {
    let problem = Problem::new(op, input.shape(), targets, cfg, scores)?;
    let (lse, loss) = problem.forward(&input.data());
    let reduction = cfg.reduction;
    // mean: Σ ℓ / D; sum: Σ ℓ (in f64, in position order)
    let scale = match reduction {
        Reduction::Mean => 1.0 / problem.denominator(),
        Reduction::Sum | Reduction::None => 1.0,
    };
    let (shape, data) = match reduction {
        Reduction::None => (problem.out_shape.clone(), loss),
        Reduction::Mean | Reduction::Sum => {
            let total: f64 = loss.iter().map(|&v| v as f64).sum();
            (vec![], vec![(total * scale) as f32])
        }
    };
    let x = input.clone();
    Ok(Tensor::from_op(op, shape, data, &[input], move |g, _| {
        let positions = problem.targets.len();
        let up: Vec<f32> = match reduction {
            Reduction::None => g.to_vec(),
            // with D = 0 no position counts, and every gradient is 0
            Reduction::Mean | Reduction::Sum => vec![(g[0] as f64 * scale) as f32; positions],
        };
        let up: Vec<f32> = up
            .iter()
            .enumerate()
            .map(|(i, &u)| if problem.counts(i) { u } else { 0.0 })
            .collect();
        Ok(vec![Some(problem.backward(&x.data(), &lse, &up))])
    }))
}

impl Tensor {
    /// Cross-entropy of logits `[n, k]`, `[n, k, d1, …]` (one target per pixel, row-major)
    /// or `[k]` (one target) against class indices, through a stable log-softmax over the
    /// class axis: `ℓ = (1 − ε)·w_y·(−lp_y) + (ε/k)·Σ_c w_c·(−lp_c)` (see the
    /// [module](crate::ops::loss::cross_entropy) for the mean's denominator and the ignored index), as PyTorch's
    /// `F.cross_entropy`. Reduction none gives shape `[n, d1, …]`.
    pub fn cross_entropy(&self, targets: &[usize], cfg: &CrossEntropyConfig) -> Result<Tensor> {
        class_loss("cross_entropy", self, targets, cfg, Scores::Logits)
    }

    /// Negative log-likelihood of log-probabilities `[n, k, …]` (PyTorch's `nll_loss`),
    /// with optional class weights; mean reduction weighted by the targets' weights.
    pub fn nll_loss(&self, targets: &[usize], class_weights: Option<&[f32]>) -> Result<Tensor> {
        let cfg = CrossEntropyConfig {
            class_weights: class_weights.map(<[f32]>::to_vec),
            ..Default::default()
        };
        self.nll_loss_with(targets, &cfg)
    }

    /// [`Tensor::nll_loss`] with every option of [`CrossEntropyConfig`]:
    /// `ℓ = (1 − ε)·w_y·(−x_y) + (ε/k)·Σ_c w_c·(−x_c)`, so that
    /// `z.log_softmax(1)?.nll_loss_with(t, cfg)` equals `z.cross_entropy(t, cfg)`.
    pub fn nll_loss_with(&self, targets: &[usize], cfg: &CrossEntropyConfig) -> Result<Tensor> {
        class_loss("nll_loss", self, targets, cfg, Scores::LogProbs)
    }
}
