//! Activations: ReLU, Leaky ReLU, tanh, sigmoid, LeNet-5's scaled tanh, softmax and
//! log-softmax (stable for large logits), clamping to a range.
//!
//! Legend: `x` input, `y` output, `g = ∂loss/∂y`. Elementwise derivatives are written in
//! terms of `x` and `y`; at the kink of (leaky) ReLU the derivative taken is that of the
//! negative side, as in PyTorch.

use super::elementwise::{unary, unary_of_output};
use super::reduce::split_at_axis;
use crate::cpu::math;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// LeNet-5's activation amplitude: `f(x) = A·tanh(S·x)` with `A = 1.7159`, `S = 2/3`.
pub const LECUN_TANH_A: f32 = 1.7159;
/// LeNet-5's activation slope `S = 2/3`.
pub const LECUN_TANH_S: f32 = 2.0 / 3.0;

/// Softmax or log-softmax along an axis seen as `[outer, len, inner]`.
fn softmax_like(x: &Tensor, axis: usize, log: bool) -> Result<Tensor> {
    let op = if log { "log_softmax" } else { "softmax" };
    let (outer, len, inner) = split_at_axis(op, x.shape(), axis)?;
    let mut y = vec![0.0f32; x.numel()];
    {
        let xd = x.data();
        for o in 0..outer {
            for i in 0..inner {
                let at = |l: usize| (o * len + l) * inner + i;
                // Subtracting the maximum keeps exp() finite for large logits.
                let max = (0..len)
                    .map(|l| xd[at(l)])
                    .fold(f32::NEG_INFINITY, f32::max);
                let sum: f32 = (0..len).map(|l| (xd[at(l)] - max).exp()).sum();
                let log_sum = sum.ln();
                for l in 0..len {
                    let z = xd[at(l)] - max;
                    y[at(l)] = if log { z - log_sum } else { z.exp() / sum };
                }
            }
        }
    }
    let yk = y.clone();
    Ok(Tensor::from_op(
        op,
        x.shape().to_vec(),
        y,
        &[x],
        move |g, _| {
            let mut gx = vec![0.0f32; g.len()];
            for o in 0..outer {
                for i in 0..inner {
                    let at = |l: usize| (o * len + l) * inner + i;
                    if log {
                        // ∂loss/∂x_l = g_l − softmax_l · Σ_j g_j
                        let gsum: f32 = (0..len).map(|l| g[at(l)]).sum();
                        (0..len).for_each(|l| gx[at(l)] = g[at(l)] - yk[at(l)].exp() * gsum);
                    } else {
                        // ∂loss/∂x_l = y_l · (g_l − Σ_j g_j·y_j)
                        let dot: f32 = (0..len).map(|l| g[at(l)] * yk[at(l)]).sum();
                        (0..len).for_each(|l| gx[at(l)] = yk[at(l)] * (g[at(l)] - dot));
                    }
                }
            }
            Ok(vec![Some(gx)])
        },
    ))
}

impl Tensor {
    /// `max(0, x)`; NaN stays NaN, as in PyTorch (so a diverged input is not hidden).
    pub fn relu(&self) -> Tensor {
        unary(
            "relu",
            self,
            |x| if x > 0.0 || x.is_nan() { x } else { 0.0 },
            |x| if x > 0.0 { 1.0 } else { 0.0 },
        )
    }

    /// Leaky ReLU: `x` for `x > 0`, else `α·x` (`max(αx, x)` for `α < 1`).
    pub fn leaky_relu(&self, alpha: f32) -> Tensor {
        unary(
            "leaky_relu",
            self,
            move |x| if x > 0.0 { x } else { alpha * x },
            move |x| if x > 0.0 { 1.0 } else { alpha },
        )
    }

    /// Hyperbolic tangent (the vectorised [`math::tanh`], within 4 ulp); derivative `1 − y²`.
    pub fn tanh(&self) -> Tensor {
        unary_of_output("tanh", self, math::tanh, |y| 1.0 - y * y)
    }

    /// Logistic sigmoid `1/(1 + e^{−x})`; derivative `y·(1 − y)`.
    pub fn sigmoid(&self) -> Tensor {
        unary_of_output(
            "sigmoid",
            self,
            |x| {
                // Two branches keep exp() from overflowing.
                if x >= 0.0 {
                    1.0 / (1.0 + (-x).exp())
                } else {
                    let e = x.exp();
                    e / (1.0 + e)
                }
            },
            |y| y * (1.0 - y),
        )
    }

    /// LeNet-5's scaled tanh `1.7159·tanh(2x/3)` (through [`math::tanh`]); derivative
    /// `S·(A − y²/A)`.
    pub fn lecun_tanh(&self) -> Tensor {
        unary_of_output(
            "lecun_tanh",
            self,
            |x| LECUN_TANH_A * math::tanh(LECUN_TANH_S * x),
            |y| LECUN_TANH_S * (LECUN_TANH_A - y * y / LECUN_TANH_A),
        )
    }

    /// Softmax along `axis`: `e^{x_l − max} / Σ_j e^{x_j − max}`.
    pub fn softmax(&self, axis: usize) -> Result<Tensor> {
        softmax_like(self, axis, false)
    }

    /// Log-softmax along `axis`: `x_l − max − ln Σ_j e^{x_j − max}` (finite for any
    /// finite logits).
    pub fn log_softmax(&self, axis: usize) -> Result<Tensor> {
        softmax_like(self, axis, true)
    }

    /// Clamps to `[min, max]` (`torch.clamp`; either bound may be `None`, not both):
    /// `min` below it, `max` above it, `x` inside; NaN stays NaN. The gradient is `g`
    /// strictly inside, `min < x < max`, and 0 outside and on the bounds themselves, as the
    /// PyTorch the fixtures come from (2.15) computes it; PyTorch releases before it passed
    /// `g` on the bounds too. `min > max` or a NaN bound is an error.
    pub fn clamp(&self, min: Option<f32>, max: Option<f32>) -> Result<Tensor> {
        if min.is_none() && max.is_none() {
            return Err(Error::config(
                "clamp",
                "at least one of min and max is needed",
            ));
        }
        let (lo, hi) = (
            min.unwrap_or(f32::NEG_INFINITY),
            max.unwrap_or(f32::INFINITY),
        );
        if lo.is_nan() || hi.is_nan() || lo > hi {
            return Err(Error::config(
                "clamp",
                format!("bounds min {min:?} and max {max:?} must be numbers with min <= max"),
            ));
        }
        Ok(unary(
            "clamp",
            self,
            move |x| {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            },
            // a missing bound is no condition (x = −∞ with only a max passes)
            move |x| {
                let above = min.is_none() || x > lo;
                let below = max.is_none() || x < hi;
                if above && below {
                    1.0
                } else {
                    0.0
                }
            },
        ))
    }
}
