//! Elementwise losses between an input and a target of the same shape, as PyTorch's
//! `F.smooth_l1_loss` and `F.binary_cross_entropy_with_logits` define them.
//!
//! Legend: `x` the input, `t` the target, `d = x − t`, `β` the smooth-L1 threshold,
//! `σ(x) = 1/(1 + e^{−x})`, `log σ(x) = min(x, 0) − log1p(e^{−|x|})` (stable: never
//! `log(0)` nor `e^{large}`), `w` the element weight and `p` the positive-class weight
//! (both broadcast to the input's shape; 1 when absent), `ℓ` the loss of an element,
//! `u = ∂loss/∂ℓ` its upstream gradient (`g/numel` for mean, `g` for sum, `g_i` for none).

use super::Reduction;
use crate::autograd::no_grad;
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Checks that `target` has the input's shape.
fn same_shape(op: &'static str, input: &Tensor, target: &Tensor) -> Result<()> {
    if input.shape() != target.shape() {
        return Err(Error::shape(
            op,
            format!(
                "input {:?} and target {:?} differ in shape",
                input.shape(),
                target.shape()
            ),
        ));
    }
    Ok(())
}

/// The values of `w` broadcast to `shape` (which `w` must broadcast to, NumPy's rules).
fn expand(op: &'static str, what: &str, w: &Tensor, shape: &[usize]) -> Result<Vec<f32>> {
    let fits = w.ndim() <= shape.len()
        && w.shape()
            .iter()
            .rev()
            .zip(shape.iter().rev())
            .all(|(&a, &b)| a == b || a == 1);
    if !fits {
        return Err(Error::shape(
            op,
            format!(
                "{what} {:?} does not broadcast to the input's shape {shape:?}",
                w.shape()
            ),
        ));
    }
    Ok(no_grad(|| Tensor::zeros(shape).add(&w.detach()))?.to_vec())
}

/// Reduces elementwise losses `ℓ`: the output's shape and values, and the factor that
/// turns a scalar upstream gradient into `u` (`1/numel` for mean, 1 for sum).
fn reduce(loss: Vec<f32>, shape: &[usize], reduction: Reduction) -> (Vec<usize>, Vec<f32>, f32) {
    match reduction {
        Reduction::None => (shape.to_vec(), loss, 1.0),
        Reduction::Sum | Reduction::Mean => {
            let total: f64 = loss.iter().map(|&v| v as f64).sum();
            let n = if reduction == Reduction::Mean {
                loss.len() as f64
            } else {
                1.0
            };
            (vec![], vec![(total / n) as f32], (1.0 / n) as f32)
        }
    }
}

/// `u_i` for every element: `g_i` (none) or `g·scale` (mean, sum).
fn upstream(g: &[f32], len: usize, reduction: Reduction, scale: f32) -> Vec<f32> {
    match reduction {
        Reduction::None => g.to_vec(),
        Reduction::Sum | Reduction::Mean => vec![g[0] * scale; len],
    }
}

/// An elementwise loss of `input` and `target`: `loss(i, x, t)` is `ℓ_i`, `grad(i, x, t)`
/// is `∂ℓ_i/∂x_i` (and `∂ℓ_i/∂t_i` is `target_grad(i, x, t)`).
fn pointwise_loss(
    op: &'static str,
    input: &Tensor,
    target: &Tensor,
    reduction: Reduction,
    loss: impl Fn(usize, f32, f32) -> f32,
    grads: impl Fn(usize, f32, f32) -> (f32, f32) + Send + Sync + 'static,
) -> Result<Tensor> {
    let values: Vec<f32> = {
        let (x, t) = (input.data(), target.data());
        x.iter()
            .zip(t.iter())
            .enumerate()
            .map(|(i, (&x, &t))| loss(i, x, t))
            .collect()
    };
    let (shape, data, scale) = reduce(values, input.shape(), reduction);
    let (xs, ts) = (input.clone(), target.clone());
    Ok(Tensor::from_op(
        op,
        shape,
        data,
        &[input, target],
        move |g, needs| {
            let (x, t) = (xs.data(), ts.data());
            let u = upstream(g, x.len(), reduction, scale);
            let (mut gx, mut gt) = (Vec::new(), Vec::new());
            for (i, ((&x, &t), &u)) in x.iter().zip(t.iter()).zip(&u).enumerate() {
                let (dx, dt) = grads(i, x, t);
                gx.push(u * dx);
                gt.push(u * dt);
            }
            Ok(vec![needs[0].then_some(gx), needs[1].then_some(gt)])
        },
    ))
}

/// `log σ(x) = min(x, 0) − log1p(e^{−|x|})`.
fn log_sigmoid(x: f32) -> f32 {
    x.min(0.0) - (-x.abs()).exp().ln_1p()
}

/// `σ(x)`, in the branch that cannot overflow.
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Tensor {
    /// Smooth L1 loss of predictions `self` against `target` (same shape), PyTorch's
    /// `F.smooth_l1_loss`: with `z = |x − t|`, `ℓ = 0.5·z²/β` where `z < β`, else
    /// `z − 0.5·β`; `β = 0` is the L1 loss `z`. `β` must be finite and `≥ 0`.
    /// Gradient `∂ℓ/∂x = d/β` where `|d| < β`, else `sign(d)`; `∂ℓ/∂t = −∂ℓ/∂x`.
    pub fn smooth_l1_loss(
        &self,
        target: &Tensor,
        beta: f32,
        reduction: Reduction,
    ) -> Result<Tensor> {
        const OP: &str = "smooth_l1_loss";
        same_shape(OP, self, target)?;
        if !(beta.is_finite() && beta >= 0.0) {
            return Err(Error::config(
                OP,
                format!("beta {beta} must be finite and ≥ 0 (0 is the L1 loss)"),
            ));
        }
        pointwise_loss(
            OP,
            self,
            target,
            reduction,
            move |_, x, t| {
                let z = (x - t).abs();
                if z < beta {
                    0.5 * z * z / beta
                } else {
                    z - 0.5 * beta
                }
            },
            move |_, x, t| {
                let d = x - t;
                // d/β inside the quadratic zone, ±1 outside (0 at d = 0 for L1)
                let dx = if d.abs() < beta {
                    d / beta
                } else if d > 0.0 {
                    1.0
                } else if d < 0.0 {
                    -1.0
                } else {
                    0.0
                };
                (dx, -dx)
            },
        )
    }

    /// Binary cross-entropy of logits `self` against targets `t ∈ [0, 1]` of the same shape,
    /// PyTorch's `F.binary_cross_entropy_with_logits`:
    /// `ℓ = w·((1 − t)·x − (1 + (p − 1)·t)·log σ(x))`, which is
    /// `−w·(p·t·log σ(x) + (1 − t)·log(1 − σ(x)))` computed stably. `weight` (`w`) and
    /// `pos_weight` (`p`, typically `[classes]` over the last axis) broadcast to the
    /// input's shape; they are constants (no gradient). Gradients:
    /// `∂ℓ/∂x = w·((1 + (p − 1)·t)·σ(x) − p·t)`, `∂ℓ/∂t = −w·(x + (p − 1)·log σ(x))`.
    pub fn binary_cross_entropy_with_logits(
        &self,
        target: &Tensor,
        weight: Option<&Tensor>,
        pos_weight: Option<&Tensor>,
        reduction: Reduction,
    ) -> Result<Tensor> {
        const OP: &str = "binary_cross_entropy_with_logits";
        same_shape(OP, self, target)?;
        let shape = self.shape();
        let w = weight.map(|w| expand(OP, "weight", w, shape)).transpose()?;
        let p = pos_weight
            .map(|p| expand(OP, "pos_weight", p, shape))
            .transpose()?;
        let (w2, p2) = (w.clone(), p.clone());
        let at = |v: &Option<Vec<f32>>, i: usize| v.as_ref().map_or(1.0, |v| v[i]);
        pointwise_loss(
            OP,
            self,
            target,
            reduction,
            move |i, x, t| {
                let log_weight = (at(&p, i) - 1.0) * t + 1.0;
                at(&w, i) * ((1.0 - t) * x - log_weight * log_sigmoid(x))
            },
            move |i, x, t| {
                let (w, p) = (at(&w2, i), at(&p2, i));
                let dx = w * (((p - 1.0) * t + 1.0) * sigmoid(x) - p * t);
                let dt = -w * (x + (p - 1.0) * log_sigmoid(x));
                (dx, dt)
            },
        )
    }
}
