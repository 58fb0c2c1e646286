//! Losses, equal to `torch.nn.functional`'s with reduction mean, sum or none:
//!
//! - [`cross_entropy`]: [`Tensor::cross_entropy`] of logits and [`Tensor::nll_loss`] of
//!   log-probabilities over `[n, k]`, `[n, k, d1, …]` (per-pixel targets for
//!   segmentation) or `[k]`, with class weights, label smoothing and an ignored index;
//! - [`pointwise`]: [`Tensor::smooth_l1_loss`] (Huber-like, L1 at `beta = 0`) and
//!   [`Tensor::binary_cross_entropy_with_logits`] (stable log-sigmoid, element and
//!   positive-class weights);
//! - [`Tensor::mse_loss`], mean squared error.
//!
//! Legend (shared by the files): `x` the input (logits or predictions), `t` the target,
//! `ℓ_i` the loss of element or position `i` before reduction, `g = ∂loss/∂output`.
//! Reductions: `none` returns every `ℓ_i`, `sum` returns `Σ_i ℓ_i`, `mean` returns
//! `Σ_i ℓ_i / D` with `D` the number of elements — except for the class losses, where
//! `D` is the total weight of the counted targets (see [`cross_entropy`]).

pub mod cross_entropy;
pub mod pointwise;

pub use cross_entropy::CrossEntropyConfig;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// How the per-element (per-sample, per-pixel) losses are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// (Weighted) mean (PyTorch's default).
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// No reduction: one loss per element (PyTorch's `reduction='none'`).
    None,
}

impl Tensor {
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
