//! Losses: cross-entropy from logits (stable; label smoothing and class weights), negative
//! log-likelihood of log-probabilities, mean squared error.
//!
//! Legend: `n` samples, `k` classes, `z [n, k]` logits, `lp = log_softmax(z)`, `y_i` the
//! target class of sample `i`, `w` class weights (1 when absent), `ε` label smoothing.
//! As PyTorch defines them (mean reduction):
//! `nll = Σ_i −w_{y_i}·lp[i, y_i] / Σ_i w_{y_i}` and
//! `cross_entropy = (1 − ε)·nll + (ε/k)·Σ_i Σ_c −w_c·lp[i, c] / D`, with `D = Σ_i w_{y_i}`
//! when weighted and `D = n` otherwise.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// How per-sample losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// Weighted mean over samples (PyTorch's default).
    #[default]
    Mean,
    /// Sum over samples.
    Sum,
}

/// Options of [`Tensor::cross_entropy`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossEntropyConfig {
    /// Label smoothing `ε ∈ [0, 1]`: the target distribution is `(1 − ε)·onehot + ε/k`.
    pub label_smoothing: f32,
    /// One weight per class, or `None` for equal weights.
    pub class_weights: Option<Vec<f32>>,
    /// Mean or sum over samples.
    pub reduction: Reduction,
}

/// The one loss kernel: `Σ_i Σ_c coef[i, c]·(−lp[i, c]) / D`, linear in `lp`, so its
/// backward is `−coef/D` times the upstream gradient.
fn weighted_nll(
    op: &'static str,
    lp: &Tensor,
    targets: &[usize],
    cfg: &CrossEntropyConfig,
) -> Result<Tensor> {
    let s = lp.shape();
    if s.len() != 2 {
        return Err(Error::shape(
            op,
            format!("input must be [n, classes], got {s:?}"),
        ));
    }
    let (n, k) = (s[0], s[1]);
    if targets.len() != n {
        return Err(Error::shape(
            op,
            format!("{} targets for input {s:?}", targets.len()),
        ));
    }
    if let Some((i, &t)) = targets.iter().enumerate().find(|(_, &t)| t >= k) {
        return Err(Error::shape(
            op,
            format!("target {t} of sample {i} is not a class of input {s:?}"),
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
                format!("{} class weights for {k} classes (input {s:?})", w.len()),
            ));
        }
        Some(w) => w.clone(),
        None => vec![1.0; k],
    };
    let denominator = match (cfg.reduction, cfg.class_weights.is_some()) {
        (Reduction::Sum, _) => 1.0,
        (Reduction::Mean, true) => targets.iter().map(|&t| weights[t] as f64).sum::<f64>(),
        (Reduction::Mean, false) => n as f64,
    };
    // coef[i, c] = (1 − ε)·w_c·[c = y_i] + (ε/k)·w_c
    let mut coef = vec![0.0f64; n * k];
    for (i, &t) in targets.iter().enumerate() {
        for c in 0..k {
            coef[i * k + c] = eps as f64 / k as f64 * weights[c] as f64;
        }
        coef[i * k + t] += (1.0 - eps as f64) * weights[t] as f64;
    }
    let loss: f64 = {
        let d = lp.data();
        coef.iter()
            .zip(d.iter())
            .map(|(&c, &v)| -c * v as f64)
            .sum::<f64>()
            / denominator
    };
    Ok(Tensor::from_op(
        op,
        vec![],
        vec![loss as f32],
        &[lp],
        move |g, _| {
            // ∂loss/∂lp[i, c] = −coef[i, c]/D
            Ok(vec![Some(
                coef.iter()
                    .map(|&c| (-c / denominator) as f32 * g[0])
                    .collect(),
            )])
        },
    ))
}

impl Tensor {
    /// Cross-entropy of logits `[n, k]` against class indices, through a stable
    /// log-softmax; optional label smoothing and class weights as in PyTorch.
    pub fn cross_entropy(&self, targets: &[usize], cfg: &CrossEntropyConfig) -> Result<Tensor> {
        if self.ndim() != 2 {
            return Err(Error::shape(
                "cross_entropy",
                format!("logits must be [n, classes], got {:?}", self.shape()),
            ));
        }
        weighted_nll("cross_entropy", &self.log_softmax(1)?, targets, cfg)
    }

    /// Negative log-likelihood of log-probabilities `[n, k]` (PyTorch's `nll_loss`), with
    /// optional class weights; mean reduction weighted by the targets' weights.
    pub fn nll_loss(&self, targets: &[usize], class_weights: Option<&[f32]>) -> Result<Tensor> {
        let cfg = CrossEntropyConfig {
            class_weights: class_weights.map(<[f32]>::to_vec),
            ..Default::default()
        };
        weighted_nll("nll_loss", self, targets, &cfg)
    }

    /// Mean squared error `mean((self − target)²)`; the shapes must be equal.
    pub fn mse_loss(&self, target: &Tensor) -> Result<Tensor> {
        if self.shape() != target.shape() {
            return Err(Error::shape(
                "mse_loss",
                format!(
                    "prediction {:?} and target {:?} differ in shape",
                    self.shape(),
                    target.shape()
                ),
            ));
        }
        Ok(self.sub(target)?.square().mean_all())
    }
}
