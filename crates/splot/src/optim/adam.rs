//! Adam and AdamW, as PyTorch's `torch.optim.Adam` and `torch.optim.AdamW` define them
//! (without `amsgrad`). For each parameter `w` with gradient `g`, at its step `t = 1, 2, …`:
//!
//! - Adam (coupled L2): `g = g + λ·w`; AdamW (decoupled): `w = w·(1 − lr·λ)`;
//! - `m = β1·m + (1 − β1)·g` (first moment), `v = β2·v + (1 − β2)·g²` (second moment);
//! - `m̂ = m / (1 − β1ᵗ)`, `v̂ = v / (1 − β2ᵗ)` (bias corrections);
//! - `w = w − lr·m̂ / (√v̂ + ε)`.
//!
//! The arithmetic follows PyTorch's single-tensor path step by step, rounding included:
//! `m` is updated as `lerp(m, g, 1 − β1)`, the bias corrections and `lr / (1 − β1ᵗ)` are
//! computed in f64 (Python floats), and the update is
//! `w −= step_size · m / (√v / √(1 − β2ᵗ) + ε)`. The betas are f64 for the same reason:
//! `1 − 0.999` must be PyTorch's `1 − 0.999`, not that of the f32 nearest to 0.999.
//!
//! Each parameter counts its own steps, as in PyTorch: one that received no gradient in a
//! step keeps its moments and its `t`.
//!
//! State ([`Optimizer::state`]): `"step"` (calls to `step`) and, for every parameter,
//! `"<param>.step"` (its `t`), `"<param>.exp_avg"` (`m`) and `"<param>.exp_avg_sq"` (`v`);
//! moments start at zero, which gives exactly PyTorch's first step.

use super::{check_unique_names, count_tensor, Optimizer, StateReader};
use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::nn::NamedTensor;
use crate::tensor::Tensor;

/// The shared machinery of [`Adam`] and [`AdamW`].
struct AdamCore {
    op: &'static str,
    params: Vec<NamedTensor>,
    lr: f32,
    betas: (f64, f64),
    eps: f32,
    weight_decay: f32,
    /// AdamW's decoupled decay instead of Adam's L2 term in the gradient.
    decoupled: bool,
    exp_avg: Vec<Vec<f32>>,
    exp_avg_sq: Vec<Vec<f32>>,
    /// `t` of each parameter.
    param_steps: Vec<u64>,
    /// Calls to `step`.
    steps: u64,
}

/// PyTorch's `lerp(start, end, weight)`: `start + weight·(end − start)`, computed from the
/// nearer end for accuracy.
fn lerp(start: f32, end: f32, weight: f32) -> f32 {
    if weight.abs() < 0.5 {
        start + weight * (end - start)
    } else {
        end - (end - start) * (1.0 - weight)
    }
}

impl AdamCore {
    fn new(op: &'static str, params: Vec<NamedTensor>, weight_decay: f32, decoupled: bool) -> Self {
        let zeros = |p: &NamedTensor| vec![0.0; p.tensor.numel()];
        AdamCore {
            op,
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay,
            decoupled,
            exp_avg: params.iter().map(zeros).collect(),
            exp_avg_sq: params.iter().map(zeros).collect(),
            param_steps: vec![0; params.len()],
            steps: 0,
            params,
        }
    }

    /// Checks that `value` is finite and at least 0.
    fn non_negative(&self, what: &str, value: f32) -> Result<()> {
        if value.is_finite() && value >= 0.0 {
            Ok(())
        } else {
            Err(Error::config(
                self.op,
                format!("{what} {value} must be finite and ≥ 0"),
            ))
        }
    }

    fn set_betas(&mut self, beta1: f64, beta2: f64) -> Result<()> {
        for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(Error::config(
                    self.op,
                    format!("{name} {b} must lie in [0, 1)"),
                ));
            }
        }
        self.betas = (beta1, beta2);
        Ok(())
    }

    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.steps += 1;
        let (beta1, beta2) = self.betas;
        let lerp_weight = (1.0 - beta1) as f32;
        let (b2, c2) = (beta2 as f32, (1.0 - beta2) as f32);
        let decay = (1.0 - self.lr as f64 * self.weight_decay as f64) as f32;
        for (i, p) in self.params.iter().enumerate() {
            let Some(g) = grads.get(&p.tensor) else {
                continue;
            };
            if g.shape() != p.tensor.shape() {
                return Err(Error::shape(
                    self.op,
                    format!(
                        "gradient of shape {:?} for parameter '{}' of shape {:?}",
                        g.shape(),
                        p.name,
                        p.tensor.shape()
                    ),
                ));
            }
            self.param_steps[i] += 1;
            let t = self.param_steps[i] as f64;
            let bias_correction1 = 1.0 - beta1.powf(t);
            let bias_correction2_sqrt = ((1.0 - beta2.powf(t)).sqrt()) as f32;
            let step_size = (self.lr as f64 / bias_correction1) as f32;
            let g = g.data();
            let mut w = p.tensor.data_mut();
            let (m, v) = (&mut self.exp_avg[i], &mut self.exp_avg_sq[i]);
            for j in 0..w.len() {
                let mut gj = g[j];
                if self.weight_decay != 0.0 {
                    if self.decoupled {
                        w[j] *= decay;
                    } else {
                        gj += self.weight_decay * w[j];
                    }
                }
                m[j] = lerp(m[j], gj, lerp_weight);
                v[j] = v[j] * b2 + c2 * gj * gj;
                let denom = v[j].sqrt() / bias_correction2_sqrt + self.eps;
                w[j] += -step_size * (m[j] / denom);
            }
        }
        Ok(())
    }

    fn state(&self) -> Vec<(String, Tensor)> {
        let mut state = vec![("step".to_string(), count_tensor(self.steps))];
        for (i, p) in self.params.iter().enumerate() {
            let buffer = |v: &[f32]| {
                Tensor::from_vec(v.to_vec(), p.tensor.shape()).expect("moment has its shape")
            };
            state.push((
                format!("{}.step", p.name),
                count_tensor(self.param_steps[i]),
            ));
            state.push((format!("{}.exp_avg", p.name), buffer(&self.exp_avg[i])));
            state.push((
                format!("{}.exp_avg_sq", p.name),
                buffer(&self.exp_avg_sq[i]),
            ));
        }
        state
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        check_unique_names(self.op, &self.params)?;
        let mut reader = StateReader::new(self.op, state)?;
        let steps = reader.take_count("step")?;
        let (mut param_steps, mut exp_avg, mut exp_avg_sq) = (vec![], vec![], vec![]);
        for p in &self.params {
            param_steps.push(reader.take_count(&format!("{}.step", p.name))?);
            exp_avg.push(reader.take(&format!("{}.exp_avg", p.name), p)?);
            exp_avg_sq.push(reader.take(&format!("{}.exp_avg_sq", p.name), p)?);
        }
        reader.finish()?;
        self.steps = steps;
        self.param_steps = param_steps;
        self.exp_avg = exp_avg;
        self.exp_avg_sq = exp_avg_sq;
        Ok(())
    }
}

/// Adam with coupled L2 weight decay (`g = g + λ·w`), as `torch.optim.Adam`.
/// Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.
pub struct Adam(AdamCore);

/// AdamW: Adam with decoupled weight decay (`w = w·(1 − lr·λ)` before the Adam update),
/// as `torch.optim.AdamW`. Defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
/// weight decay 0.01.
pub struct AdamW(AdamCore);

impl Adam {
    /// Adam over `params` (e.g. [`crate::nn::parameters`]) with the default settings.
    pub fn new(params: Vec<NamedTensor>) -> Self {
        Adam(AdamCore::new("Adam", params, 0.0, false))
    }

    /// Coupled L2 weight decay `λ ≥ 0`: `λ·w` is added to every gradient before the
    /// moments are updated.
    pub fn weight_decay(mut self, lambda: f32) -> Result<Self> {
        self.0.non_negative("weight decay", lambda)?;
        self.0.weight_decay = lambda;
        Ok(self)
    }
}

impl AdamW {
    /// AdamW over `params` (e.g. [`crate::nn::parameters`]) with the default settings.
    pub fn new(params: Vec<NamedTensor>) -> Self {
        AdamW(AdamCore::new("AdamW", params, 0.01, true))
    }

    /// Decoupled weight decay `λ ≥ 0`: each step first multiplies `w` by `1 − lr·λ`.
    pub fn weight_decay(mut self, lambda: f32) -> Result<Self> {
        self.0.non_negative("weight decay", lambda)?;
        self.0.weight_decay = lambda;
        Ok(self)
    }
}

/// The builder methods and the [`Optimizer`] impl that Adam and AdamW share.
macro_rules! adam_common {
    ($ty:ident) => {
        impl $ty {
            /// Learning rate `lr ≥ 0`.
            pub fn lr(mut self, lr: f32) -> Result<Self> {
                self.0.non_negative("learning rate", lr)?;
                self.0.lr = lr;
                Ok(self)
            }

            /// Decay rates `(β1, β2)` of the moment averages, each in `[0, 1)`. f64 like
            /// PyTorch's Python floats (see the module docs).
            pub fn betas(mut self, beta1: f64, beta2: f64) -> Result<Self> {
                self.0.set_betas(beta1, beta2)?;
                Ok(self)
            }

            /// `ε ≥ 0`, added to `√v̂` in the denominator.
            pub fn eps(mut self, eps: f32) -> Result<Self> {
                self.0.non_negative("eps", eps)?;
                self.0.eps = eps;
                Ok(self)
            }
        }

        impl Optimizer for $ty {
            fn step(&mut self, grads: &Gradients) -> Result<()> {
                self.0.step(grads)
            }
            fn learning_rate(&self) -> f32 {
                self.0.lr
            }
            fn set_learning_rate(&mut self, lr: f32) {
                self.0.lr = lr;
            }
            fn state(&self) -> Vec<(String, Tensor)> {
                self.0.state()
            }
            fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
                self.0.load_state(state)
            }
        }
    };
}

adam_common!(Adam);
adam_common!(AdamW);
