//! Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, as
//! PyTorch's `torch.optim.SGD` defines them:
//! `d = g + λ·w`; `v = μ·v + d` (`v = d` on the first step); `d = d + μ·v` (Nesterov) or
//! `d = v`; `w = w − lr·d`.
//!
//! State ([`Optimizer::state`]): `"step"`, and with momentum `"<param>.momentum_buffer"`
//! (`v`) for every parameter (zeros before its first step, which continue as the missing
//! buffer would, since `μ·0 + d = d`).

use super::{check_unique_names, count_tensor, Optimizer, StateReader};
use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::nn::NamedTensor;
use crate::tensor::Tensor;

/// SGD over a list of parameters.
pub struct Sgd {
    params: Vec<NamedTensor>,
    lr: f32,
    momentum: f32,
    nesterov: bool,
    weight_decay: f32,
    velocity: Vec<Option<Vec<f32>>>,
    steps: u64,
}

impl Sgd {
    /// Plain SGD with learning rate `lr` over `params` (e.g. [`crate::nn::parameters`]).
    pub fn new(params: Vec<NamedTensor>, lr: f32) -> Self {
        let velocity = vec![None; params.len()];
        Sgd {
            params,
            lr,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            velocity,
            steps: 0,
        }
    }

    /// Momentum `μ` (0 disables it).
    pub fn momentum(mut self, momentum: f32) -> Result<Self> {
        if !(0.0..1.0).contains(&momentum) {
            return Err(Error::config(
                "Sgd",
                format!("momentum {momentum} must lie in [0, 1)"),
            ));
        }
        self.momentum = momentum;
        Ok(self)
    }

    /// Nesterov momentum (needs a positive momentum).
    pub fn nesterov(mut self, on: bool) -> Result<Self> {
        if on && self.momentum == 0.0 {
            return Err(Error::config(
                "Sgd",
                "Nesterov momentum needs a positive momentum",
            ));
        }
        self.nesterov = on;
        Ok(self)
    }

    /// L2 weight decay `λ` added to every gradient.
    pub fn weight_decay(mut self, lambda: f32) -> Self {
        self.weight_decay = lambda;
        self
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, grads: &Gradients) -> Result<()> {
        self.steps += 1;
        for (p, v) in self.params.iter().zip(self.velocity.iter_mut()) {
            let Some(g) = grads.get(&p.tensor) else {
                continue;
            };
            let g = g.data();
            let mut w = p.tensor.data_mut();
            let mut d: Vec<f32> = g
                .iter()
                .zip(w.iter())
                .map(|(&g, &w)| g + self.weight_decay * w)
                .collect();
            if self.momentum > 0.0 {
                let buf = match v {
                    None => v.insert(d.clone()),
                    Some(buf) => {
                        buf.iter_mut()
                            .zip(&d)
                            .for_each(|(b, &di)| *b = self.momentum * *b + di);
                        buf
                    }
                };
                for (di, &b) in d.iter_mut().zip(buf.iter()) {
                    *di = if self.nesterov {
                        *di + self.momentum * b
                    } else {
                        b
                    };
                }
            }
            w.iter_mut().zip(&d).for_each(|(w, d)| *w -= self.lr * d);
        }
        Ok(())
    }
    fn learning_rate(&self) -> f32 {
        self.lr
    }
    fn set_learning_rate(&mut self, lr: f32) {
        self.lr = lr;
    }
    fn state(&self) -> Vec<(String, Tensor)> {
        let mut state = vec![("step".to_string(), count_tensor(self.steps))];
        if self.momentum > 0.0 {
            for (p, v) in self.params.iter().zip(&self.velocity) {
                let buf = match v {
                    Some(v) => Tensor::from_vec(v.clone(), p.tensor.shape())
                        .expect("momentum buffer has its parameter's shape"),
                    None => Tensor::zeros(p.tensor.shape()),
                };
                state.push((format!("{}.momentum_buffer", p.name), buf));
            }
        }
        state
    }
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        check_unique_names("Sgd", &self.params)?;
        let mut reader = StateReader::new("Sgd", state)?;
        let steps = reader.take_count("step")?;
        let mut velocity = vec![None; self.params.len()];
        if self.momentum > 0.0 {
            for (p, v) in self.params.iter().zip(velocity.iter_mut()) {
                *v = Some(reader.take(&format!("{}.momentum_buffer", p.name), p)?);
            }
        }
        reader.finish()?;
        self.steps = steps;
        self.velocity = velocity;
        Ok(())
    }
}
