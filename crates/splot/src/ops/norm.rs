//! Normalisation: batch normalisation and local response normalisation (LRN), forward and
//! backward, behaving like PyTorch's `torch.nn.functional.batch_norm` and
//! `torch.nn.LocalResponseNorm`.
//!
//! Legend: an input `x [n, c, …]` is seen as `[n, c, inner]`, `inner` the product of the
//! axes after the channel axis (1 for `[n, c]`, `l` for `[n, c, l]`, `h·w` for
//! `[n, c, h, w]`). Batch norm: `m = n·inner` values per channel, `μ σ²` a channel's mean
//! and variance, `σ = √(σ² + eps)`, `x̂ = (x − μ)/σ`, `γ β` the per-channel weight and bias,
//! `y = γ·x̂ + β`. LRN: `a` the input, `b` the output, `size` the window length, `α'` the
//! effective `α` of the convention, `s_c = k + α'·Σ_{j∈W(c)} a_j²`, `b_c = a_c·s_c^{−β}`.
//! `g` is always `∂loss/∂output`.
//!
//! Both ops keep the input's shape; the running statistics of batch norm are buffers,
//! updated in place in training mode and never given a gradient.

use crate::cpu::par::{channel_sums, collect_runs};
use crate::error::{Error, Result};
use crate::tensor::{numel, Tensor};
use std::ops::Range;

// ================================================================ batch normalisation

/// Settings of batch normalisation; the defaults are PyTorch's (`momentum` 0.1, `eps` 1e-5).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormConfig {
    /// Weight of the new batch statistic in the running average, in `[0, 1]`:
    /// `running = (1 − momentum)·running + momentum·batch`.
    pub momentum: f32,
    /// Added to the variance before the square root, `> 0`: `σ = √(σ² + eps)`.
    pub eps: f32,
}

impl Default for BatchNormConfig {
    fn default() -> Self {
        BatchNormConfig {
            momentum: 0.1,
            eps: 1e-5,
        }
    }
}

impl BatchNormConfig {
    /// PyTorch's defaults: momentum 0.1, eps 1e-5.
    pub fn new() -> Self {
        Self::default()
    }
    /// The momentum of the running statistics.
    pub fn momentum(mut self, momentum: f32) -> Self {
        self.momentum = momentum;
        self
    }
    /// The epsilon added to the variance.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
}

/// Checks a batch-norm call and returns the layout `(n, c, inner)` of its input.
fn batch_norm_layout(
    x: &[usize],
    running_mean: &[usize],
    running_var: &[usize],
    weight: Option<&[usize]>,
    bias: Option<&[usize]>,
    training: bool,
    cfg: &BatchNormConfig,
) -> Result<(usize, usize, usize)> {
    const OP: &str = "batch_norm";
    if !(2..=4).contains(&x.len()) {
        return Err(Error::shape(
            OP,
            format!("input must be [n, c], [n, c, l] or [n, c, h, w], got {x:?}"),
        ));
    }
    let (n, c, inner) = (x[0], x[1], numel(&x[2..]));
    if c == 0 {
        return Err(Error::shape(OP, format!("input {x:?} has no channels")));
    }
    let per_channel = [
        ("running_mean", Some(running_mean)),
        ("running_var", Some(running_var)),
        ("weight", weight),
        ("bias", bias),
    ];
    for (name, shape) in per_channel {
        if let Some(shape) = shape {
            if shape != [c] {
                return Err(Error::shape(
                    OP,
                    format!("{name} must be [{c}] for input {x:?}, got {shape:?}"),
                ));
            }
        }
    }
    if !(cfg.eps > 0.0 && cfg.eps.is_finite()) {
        return Err(Error::config(
            OP,
            format!("eps must be positive and finite, got {}", cfg.eps),
        ));
    }
    if !(0.0..=1.0).contains(&cfg.momentum) {
        return Err(Error::config(
            OP,
            format!("momentum must be in [0, 1], got {}", cfg.momentum),
        ));
    }
    if training && n * inner <= 1 {
        return Err(Error::shape(
            OP,
            format!("expected more than 1 value per channel when training, got input {x:?}"),
        ));
    }
    Ok((n, c, inner))
}

/// `out = k[0]·(a − m) + k[1]·b + k[2]` over `[n, c, inner]` planes, with `[m, k0, k1, k2]`
/// = `coef[channel]`, on the pool: batch norm's forward and backward maps (the channel's
/// numbers held in registers for its whole plane, so the loop vectorises).
fn affine_planes(a: &[f32], b: &[f32], c: usize, inner: usize, coef: &[[f32; 4]]) -> Vec<f32> {
    let inner = inner.max(1);
    collect_runs(a.len(), inner, |p| {
        let [m, k0, k1, k2] = coef[p % c];
        let (a, b) = (&a[p * inner..][..inner], &b[p * inner..][..inner]);
        a.iter()
            .zip(b)
            .map(move |(&a, &b)| k0 * (a - m) + k1 * b + k2)
    })
}

/// Per-channel mean and biased variance `Σ(x − μ)²/m` of `x [n, c, inner]`, in two passes
/// (the second on the deviations, so no cancellation).
///
/// With synchronised batch norm on (a data-parallel run, [`crate::dist`]), the sums and the
/// count are over every rank's batch; the count `m` and whether they were synchronised are
/// returned beside the statistics.
fn channel_mean_var(x: &[f32], c: usize, inner: usize) -> Result<(Vec<f64>, Vec<f64>, f64, bool)> {
    let [mut sum] = channel_sums(x, x, c, inner, |_, v, _| [v]);
    sum.push((x.len() / c) as f64);
    let synced = crate::dist::sync_batch_norm_stats("the batch-norm mean", &mut sum)?;
    let m = sum.pop().unwrap_or(0.0);
    let mean: Vec<f64> = sum.iter().map(|s| s / m).collect();
    let mu: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
    let [mut sq] = channel_sums(x, x, c, inner, |ch, v, _| [(v - mu[ch]) * (v - mu[ch])]);
    if synced {
        crate::dist::sync_batch_norm_stats("the batch-norm variance", &mut sq)?;
    }
    let var = sq.iter().map(|s| s / m).collect();
    Ok((mean, var, m, synced))
}

impl Tensor {
    /// Batch normalisation, like `torch.nn.functional.batch_norm`, on `self [n, c]`,
    /// `[n, c, l]` or `[n, c, h, w]`, with statistics per channel over all other axes:
    /// `y = γ·(x − μ)/√(σ² + eps) + β` (`γ = 1`, `β = 0` when `weight` / `bias` are `None`).
    ///
    /// - `training = true`: `μ` and `σ²` are the batch's mean and *biased* variance
    ///   `Σ(x − μ)²/m`, and the running statistics are updated in place:
    ///   `running_mean ← (1 − momentum)·running_mean + momentum·μ`,
    ///   `running_var ← (1 − momentum)·running_var + momentum·σ²·m/(m − 1)` (the *unbiased*
    ///   variance, as PyTorch does). The backward pass differentiates through `μ` and `σ²`.
    ///   Needs more than one value per channel (`m > 1`).
    /// - `training = false`: `μ = running_mean`, `σ² = running_var`, neither modified; the
    ///   op is a per-channel affine map.
    ///
    /// `running_mean`, `running_var`, `weight` and `bias` are `[c]`. The running statistics
    /// are buffers: they never receive a gradient. The mode is an explicit argument so that
    /// evaluation can never update them by accident.
    pub fn batch_norm(
        &self,
        running_mean: &Tensor,
        running_var: &Tensor,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        cfg: &BatchNormConfig,
    ) -> Result<Tensor> {
        let (_, c, inner) = batch_norm_layout(
            self.shape(),
            running_mean.shape(),
            running_var.shape(),
            weight.map(|w| w.shape()),
            bias.map(|b| b.shape()),
            training,
            cfg,
        )?;
        // Copies of the small per-channel vectors, so that no two locks are held at once
        // (any of these tensors may be the same tensor) and backward sees forward's values.
        let gamma = weight.map(|w| w.to_vec());
        let beta = bias.map(|b| b.to_vec());
        let eps = cfg.eps as f64;
        // m: values per channel the statistics are over (every rank's, when synchronised)
        let (mean, var, m, synced) = if training {
            channel_mean_var(&self.data(), c, inner)?
        } else {
            let f64s = |t: &Tensor| t.data().iter().map(|&v| v as f64).collect();
            let m = (self.numel() / c) as f64;
            (f64s(running_mean), f64s(running_var), m, false)
        };
        // μ and 1/σ in f32, the values forward and backward normalise with
        let mu: Vec<f32> = mean.iter().map(|&v| v as f32).collect();
        let inv_std: Vec<f32> = var
            .iter()
            .map(|&v| (1.0 / (v + eps).sqrt()) as f32)
            .collect();
        // y = (x − μ)·(γ/σ) + β
        let scale: Vec<f32> = (0..c)
            .map(|ch| inv_std[ch] * gamma.as_ref().map_or(1.0, |g| g[ch]))
            .collect();
        let shift: Vec<f32> = (0..c)
            .map(|ch| beta.as_ref().map_or(0.0, |b| b[ch]))
            .collect();
        let y = {
            let x = self.data();
            let coef: Vec<[f32; 4]> = (0..c)
                .map(|ch| [mu[ch], scale[ch], 0.0, shift[ch]])
                .collect();
            affine_planes(&x, &x, c, inner, &coef)
        };
        if training {
            let momentum = cfg.momentum as f64;
            let update = |running: &Tensor, stat: &dyn Fn(usize) -> f64| {
                let mut r = running.data_mut();
                for (ch, v) in r.iter_mut().enumerate() {
                    *v = ((1.0 - momentum) * *v as f64 + momentum * stat(ch)) as f32;
                }
            };
            update(running_mean, &|ch| mean[ch]);
            update(running_var, &|ch| var[ch] * m / (m - 1.0));
        }

        let x = self.clone();
        let (parents, affine) = AffineSlots::parents(self, weight, bias);
        Ok(Tensor::from_op(
            "batch_norm",
            self.shape().to_vec(),
            y,
            &parents,
            move |g, needs| {
                let x = x.data();
                let [need_x, need_w, need_b] = affine.needs(needs);
                let x_hat = |v: f32, ch: usize| (v - mu[ch]) * inv_std[ch];
                // Per channel Σ g and Σ g·x̂ (f64): the γ and β gradients, and the batch
                // statistics' terms of the input gradient in training.
                let (sum_g, sum_g_xhat) = if need_w || need_b || (need_x && training) {
                    let [sum_g, sum_g_xhat] =
                        channel_sums(g, &x, c, inner, |ch, gv, v| [gv, gv * x_hat(v, ch)]);
                    (sum_g, sum_g_xhat)
                } else {
                    (vec![0.0f64; c], vec![0.0f64; c])
                };
                // The statistics' terms over every rank's batch when synchronised (γ and β
                // keep this rank's sums: the gradient averaging adds the ranks' up).
                let global = if need_x && synced {
                    let mut both = [sum_g.as_slice(), sum_g_xhat.as_slice()].concat();
                    crate::dist::sync_batch_norm_stats("the batch-norm gradient", &mut both)?;
                    let xhat = both.split_off(c);
                    Some((both, xhat))
                } else {
                    None
                };
                let (all_g, all_g_xhat) = global
                    .as_ref()
                    .map_or((&sum_g, &sum_g_xhat), |(a, b)| (a, b));
                let gx = need_x.then(|| {
                    // mean(g) and mean(g·x̂) per channel; zero in evaluation, where μ and σ
                    // are constants
                    let (mean_g, mean_g_xhat): (Vec<f32>, Vec<f32>) = if training {
                        (
                            all_g.iter().map(|&s| (s / m) as f32).collect(),
                            all_g_xhat.iter().map(|&s| (s / m) as f32).collect(),
                        )
                    } else {
                        (vec![0.0; c], vec![0.0; c])
                    };
                    // ∂loss/∂x = γ/σ · (g − mean(g) − x̂·mean(g·x̂)): the direct term g,
                    // the path through μ (−mean(g)) and the path through σ² (−x̂·mean(g·x̂));
                    // evaluation keeps only γ/σ · g
                    // as (x − μ)·k0 + g·k1 + k2
                    let coef: Vec<[f32; 4]> = (0..c)
                        .map(|ch| {
                            let s = scale[ch];
                            [
                                mu[ch],
                                -s * inv_std[ch] * mean_g_xhat[ch],
                                s,
                                -s * mean_g[ch],
                            ]
                        })
                        .collect();
                    affine_planes(&x, g, c, inner, &coef)
                });
                // ∂loss/∂γ_c = Σ g·x̂ over the channel; ∂loss/∂β_c = Σ g over the channel
                let gw = need_w.then(|| sum_g_xhat.iter().map(|&s| s as f32).collect());
                let gb = need_b.then(|| sum_g.iter().map(|&s| s as f32).collect());
                Ok(affine.gradients(gx, gw, gb))
            },
        ))
    }
}

/// Where the optional affine parameters of a normalisation sit among its parents (the
/// input first, then `γ` and `β` when given), so that its backward rule can read which
/// gradients are needed and return them in the parents' order.
#[derive(Clone, Copy)]
pub(crate) struct AffineSlots {
    weight_at: Option<usize>,
    bias_at: Option<usize>,
    len: usize,
}

impl AffineSlots {
    /// The parents `x`, then `weight` and `bias` where present, and where each sits.
    pub(crate) fn parents<'a>(
        x: &'a Tensor,
        weight: Option<&'a Tensor>,
        bias: Option<&'a Tensor>,
    ) -> (Vec<&'a Tensor>, AffineSlots) {
        let mut parents = vec![x];
        let mut push = |t: Option<&'a Tensor>| {
            t.map(|t| {
                parents.push(t);
                parents.len() - 1
            })
        };
        let weight_at = push(weight);
        let bias_at = push(bias);
        let len = parents.len();
        (
            parents,
            AffineSlots {
                weight_at,
                bias_at,
                len,
            },
        )
    }

    /// Whether the input, `γ` and `β` need a gradient (false for an absent one).
    pub(crate) fn needs(&self, needs: &[bool]) -> [bool; 3] {
        [
            needs[0],
            self.weight_at.is_some_and(|i| needs[i]),
            self.bias_at.is_some_and(|i| needs[i]),
        ]
    }

    /// The gradients of the input, `γ` and `β` in the parents' order.
    pub(crate) fn gradients(
        &self,
        gx: Option<Vec<f32>>,
        gw: Option<Vec<f32>>,
        gb: Option<Vec<f32>>,
    ) -> Vec<Option<Vec<f32>>> {
        let mut grads = vec![gx];
        grads.resize(self.len, None);
        if let Some(i) = self.weight_at {
            grads[i] = gw;
        }
        if let Some(i) = self.bias_at {
            grads[i] = gb;
        }
        grads
    }
}

// ================================================================ local response normalisation

/// Which of the two published LRN formulas to use. Both sum over the same channel window
/// (see [`LrnConfig::window`]); they differ only in how `α` scales the sum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum LrnConvention {
    /// The AlexNet paper (Krizhevsky et al. 2012): `b_c = a_c / (k + α·Σ_j a_j²)^β`.
    #[default]
    Paper,
    /// PyTorch's `torch.nn.LocalResponseNorm`: `b_c = a_c / (k + (α/size)·Σ_j a_j²)^β`
    /// (PyTorch averages the squares over the window, zero padding included).
    PyTorch,
}

/// Settings of local response normalisation across channels:
/// `b_c = a_c / (k + α'·Σ_{j∈W(c)} a_j²)^β` with `α' = α` ([`LrnConvention::Paper`]) or
/// `α' = α/size` ([`LrnConvention::PyTorch`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrnConfig {
    /// Number of channels in the window, `≥ 1`.
    pub size: usize,
    /// Scale of the sum of squares.
    pub alpha: f32,
    /// Exponent.
    pub beta: f32,
    /// Additive constant.
    pub k: f32,
    /// Whether `α` is used as it is or divided by `size`.
    pub convention: LrnConvention,
}

impl LrnConfig {
    /// AlexNet's setting, paper convention: size 5, `α = 1e-4`, `β = 0.75`, `k = 2`.
    pub fn alexnet() -> Self {
        LrnConfig {
            size: 5,
            alpha: 1e-4,
            beta: 0.75,
            k: 2.0,
            convention: LrnConvention::Paper,
        }
    }

    /// PyTorch's defaults for `torch.nn.LocalResponseNorm(size)`, PyTorch convention:
    /// `α = 1e-4`, `β = 0.75`, `k = 1`.
    pub fn pytorch(size: usize) -> Self {
        LrnConfig {
            size,
            alpha: 1e-4,
            beta: 0.75,
            k: 1.0,
            convention: LrnConvention::PyTorch,
        }
    }

    /// The factor `α'` of the sum of squares: `α` (paper) or `α/size` (PyTorch).
    pub fn effective_alpha(&self) -> f32 {
        match self.convention {
            LrnConvention::Paper => self.alpha,
            LrnConvention::PyTorch => self.alpha / self.size as f32,
        }
    }

    /// The channels `W(c)` summed for output channel `c` of `channels`:
    /// `[c − ⌊size/2⌋, c + ⌊(size−1)/2⌋]` clipped to `0..channels`, as a half-open range.
    /// This is PyTorch's window (it pads `⌊size/2⌋` zero channels before and `⌊(size−1)/2⌋`
    /// after); for an odd size it is the paper's `[c − size/2, c + size/2]`, and for an
    /// even size it reaches one channel further back than forward. Both conventions use it.
    pub fn window(&self, c: usize, channels: usize) -> Range<usize> {
        let lo = c.saturating_sub(self.size / 2);
        let hi = (c + (self.size.max(1) - 1) / 2 + 1).min(channels);
        lo..hi
    }

    /// The output channels whose window contains input channel `j`:
    /// `[j − ⌊(size−1)/2⌋, j + ⌊size/2⌋]` clipped, the transpose of [`LrnConfig::window`].
    fn window_transposed(&self, j: usize, channels: usize) -> Range<usize> {
        let lo = j.saturating_sub((self.size.max(1) - 1) / 2);
        let hi = (j + self.size / 2 + 1).min(channels);
        lo..hi
    }
}

/// Checks an LRN call and returns the layout `(n, c, inner)` of its input.
fn lrn_layout(x: &[usize], cfg: &LrnConfig) -> Result<(usize, usize, usize)> {
    const OP: &str = "local_response_norm";
    if !(3..=4).contains(&x.len()) {
        return Err(Error::shape(
            OP,
            format!("input must be [n, c, l] or [n, c, h, w], got {x:?}"),
        ));
    }
    if cfg.size == 0 {
        return Err(Error::config(
            OP,
            format!("size must be at least 1, got 0 (input {x:?})"),
        ));
    }
    if !(cfg.alpha.is_finite() && cfg.beta.is_finite() && cfg.k.is_finite()) {
        return Err(Error::config(
            OP,
            format!(
                "alpha {}, beta {} and k {} must be finite",
                cfg.alpha, cfg.beta, cfg.k
            ),
        ));
    }
    Ok((x[0], x[1], numel(&x[2..])))
}

/// The base `s_c = k + α'·Σ_{j∈W(c)} a_j²` of the denominator `s_c^β`, for every element
/// of `a [n, c, inner]`, computed as
/// PyTorch does for its convention (the squares summed, divided by `size`, times `α`, plus
/// `k`).
fn lrn_base(a: &[f32], n: usize, c: usize, inner: usize, cfg: &LrnConfig) -> Vec<f32> {
    let mut s = vec![0.0f32; a.len()];
    for i in 0..n {
        let plane = i * c * inner;
        for ch in 0..c {
            let out = &mut s[plane + ch * inner..][..inner];
            for j in cfg.window(ch, c) {
                let src = &a[plane + j * inner..][..inner];
                out.iter_mut().zip(src).for_each(|(o, &v)| *o += v * v);
            }
            match cfg.convention {
                LrnConvention::Paper => out.iter_mut().for_each(|o| *o = *o * cfg.alpha + cfg.k),
                LrnConvention::PyTorch => {
                    let size = cfg.size as f32;
                    out.iter_mut()
                        .for_each(|o| *o = *o / size * cfg.alpha + cfg.k)
                }
            }
        }
    }
    s
}

impl Tensor {
    /// Local response normalisation across channels on `self [n, c, h, w]` or `[n, c, l]`:
    /// `b_c = a_c / s_c^β`, `s_c = k + α'·Σ_{j∈W(c)} a_j²`, with `α' = α` or `α/size` by
    /// [`LrnConfig::convention`] and the window `W(c)` of [`LrnConfig::window`]
    /// (PyTorch's, for both conventions). `LrnConfig::pytorch(size)` gives exactly
    /// `torch.nn.LocalResponseNorm(size)`; `LrnConfig::alexnet()` the AlexNet paper's layer.
    pub fn local_response_norm(&self, cfg: &LrnConfig) -> Result<Tensor> {
        let (n, c, inner) = lrn_layout(self.shape(), cfg)?;
        let cfg = *cfg;
        let y: Vec<f32> = {
            let a = self.data();
            let s = lrn_base(&a, n, c, inner, &cfg);
            a.iter()
                .zip(&s)
                .map(|(&v, &s)| v / s.powf(cfg.beta))
                .collect()
        };
        let a = self.clone();
        Ok(Tensor::from_op(
            "local_response_norm",
            self.shape().to_vec(),
            y,
            &[self],
            move |g, _| {
                let a = a.data();
                let s = lrn_base(&a, n, c, inner, &cfg);
                let s_pow_beta: Vec<f32> = s.iter().map(|&s| s.powf(cfg.beta)).collect();
                // t_c = g_c·a_c·s_c^{−β−1}: what output c passes back through its s_c
                let t: Vec<f32> = (0..a.len())
                    .map(|e| g[e] * a[e] / (s_pow_beta[e] * s[e]))
                    .collect();
                let two_alpha_beta = 2.0 * cfg.effective_alpha() * cfg.beta;
                let mut ga = vec![0.0f32; a.len()];
                for i in 0..n {
                    let plane = i * c * inner;
                    for j in 0..c {
                        let at = plane + j * inner;
                        // diagonal term δ_cj·s_j^{−β}: ∂b_j/∂a_j through the numerator a_j
                        for e in at..at + inner {
                            ga[e] = g[e] / s_pow_beta[e];
                        }
                        // window term −2α'β·a_j·Σ_{c: j∈W(c)} g_c·a_c·s_c^{−β−1}: ∂b_c/∂a_j
                        // through s_c, for every output c whose window holds j
                        for ch in cfg.window_transposed(j, c) {
                            let from = plane + ch * inner;
                            for e in 0..inner {
                                ga[at + e] -= two_alpha_beta * a[at + e] * t[from + e];
                            }
                        }
                    }
                }
                Ok(vec![Some(ga)])
            },
        ))
    }
}
