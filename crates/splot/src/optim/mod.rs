//! Optimisers, penalties and learning-rate schedules.
//!
//! - [`Sgd`], [`Adam`], [`AdamW`]: update parameters in place from the gradients of one
//!   backward pass, with PyTorch's update rules (`torch.optim.SGD`, `Adam`, `AdamW`).
//! - [`Lbfgs`]: PyTorch's `torch.optim.LBFGS` (with its strong-Wolfe line search), stepped
//!   by a closure that re-evaluates the loss; it stands outside the [`Optimizer`] trait.
//! - [`Penalty`]: L1, L2 and elastic-net terms added to the gradients before the step, so
//!   they work with any optimiser.
//! - [`Schedule`]: the learning rate as a pure function of the epoch or step, so a resumed
//!   run needs only the epoch number.
//!
//! Every optimiser can save and restore its state ([`Optimizer::state`],
//! [`Optimizer::load_state`]) as named tensors, ready for a checkpoint file: a restored
//! optimiser continues bit for bit where the saved one stopped.
//!
//! ```
//! use splot::nn::{NamedTensor, TensorKind};
//! use splot::optim::{Adam, Optimizer, Penalty, Schedule};
//! use splot::Tensor;
//! let w = Tensor::full(&[2, 2], 1.0).with_grad();
//! let params = vec![NamedTensor { name: "fc.weight".into(), tensor: w.clone(), kind: TensorKind::Parameter }];
//! let mut opt = Adam::new(params.clone()).lr(0.01)?;
//! let schedule: Schedule = "warmup:2+cosine".parse::<Schedule>()?.with_total(10);
//! for epoch in 0..10 {
//!     opt.set_learning_rate(schedule.lr_at(0.01, epoch));
//!     let mut grads = w.square().sum_all().backward()?;
//!     Penalty::L2(1e-4).apply(&params, &mut grads)?;
//!     opt.step(&grads)?;
//! }
//! assert!(w.to_vec().iter().all(|&x| x < 1.0));
//! # Ok::<(), splot::Error>(())
//! ```

mod adam;
mod lbfgs;
mod penalty;
mod schedule;
mod sgd;

pub use adam::{Adam, AdamW};
pub use lbfgs::{Lbfgs, LineSearch};
pub use penalty::{Penalty, PenaltyTarget};
pub use schedule::Schedule;
pub use sgd::Sgd;

use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::nn::NamedTensor;
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};

/// Something that updates parameters from gradients.
pub trait Optimizer {
    /// One update step; parameters without a gradient in `grads` are left as they are.
    fn step(&mut self, grads: &Gradients) -> Result<()>;
    /// The current learning rate.
    fn learning_rate(&self) -> f32;
    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f32);
    /// The optimiser's state as named tensors, for a checkpoint: `"step"` (the number of
    /// steps taken, a 1-element tensor) and per-parameter buffers named
    /// `"<parameter name>.<buffer>"` (`fc.weight.momentum_buffer`, `fc.weight.exp_avg`…).
    /// Hyperparameters (learning rate, betas…) are not part of it: the restoring code
    /// builds the optimiser with the same configuration, then calls [`Optimizer::load_state`].
    fn state(&self) -> Vec<(String, Tensor)>;
    /// Restores a state written by [`Optimizer::state`] of an optimiser with the same
    /// configuration over parameters with the same names and shapes. Fails, changing
    /// nothing, when an entry is missing, has the wrong shape, appears twice or names
    /// nothing this optimiser knows.
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()>;
}

/// Step counts travel as one f32; integers are exact up to 2²⁴.
const MAX_COUNT: f32 = 16_777_216.0;

/// A step count as a 1-element tensor (exact up to 2²⁴ ≈ 16.7 million steps).
fn count_tensor(n: u64) -> Tensor {
    Tensor::full(&[1], n as f32)
}

/// Fails if two parameters share a name: their state entries would collide.
fn check_unique_names(op: &'static str, params: &[NamedTensor]) -> Result<()> {
    let mut seen = HashSet::new();
    match params.iter().find(|p| !seen.insert(p.name.as_str())) {
        Some(p) => Err(Error::config(
            op,
            format!("load_state: two parameters are named '{}'", p.name),
        )),
        None => Ok(()),
    }
}

/// Reads a saved state entry by entry, checking names and shapes, then that every entry
/// was used.
struct StateReader<'a> {
    op: &'static str,
    entries: HashMap<&'a str, &'a Tensor>,
}

impl<'a> StateReader<'a> {
    fn new(op: &'static str, state: &'a [(String, Tensor)]) -> Result<Self> {
        let mut entries = HashMap::new();
        for (name, t) in state {
            if entries.insert(name.as_str(), t).is_some() {
                return Err(Error::config(
                    op,
                    format!("load_state: entry '{name}' appears twice"),
                ));
            }
        }
        Ok(StateReader { op, entries })
    }

    /// The values of entry `name`, which must have `shape` (that of `param`).
    fn take(&mut self, name: &str, param: &NamedTensor) -> Result<Vec<f32>> {
        let t = self
            .entries
            .remove(name)
            .ok_or_else(|| Error::config(self.op, format!("load_state: missing entry '{name}'")))?;
        if t.shape() != param.tensor.shape() {
            return Err(Error::shape(
                self.op,
                format!(
                    "load_state: entry '{name}' has shape {:?} but parameter '{}' has shape {:?}",
                    t.shape(),
                    param.name,
                    param.tensor.shape()
                ),
            ));
        }
        Ok(t.to_vec())
    }

    /// A step count: a 1-element tensor holding a non-negative integer.
    fn take_count(&mut self, name: &str) -> Result<u64> {
        let t = self
            .entries
            .remove(name)
            .ok_or_else(|| Error::config(self.op, format!("load_state: missing entry '{name}'")))?;
        if t.numel() != 1 {
            return Err(Error::shape(
                self.op,
                format!(
                    "load_state: entry '{name}' must hold one step count, has shape {:?}",
                    t.shape()
                ),
            ));
        }
        let n = t.data()[0];
        if !(0.0..=MAX_COUNT).contains(&n) || n.fract() != 0.0 {
            return Err(Error::config(
                self.op,
                format!("load_state: entry '{name}' = {n} is not a step count"),
            ));
        }
        Ok(n as u64)
    }

    /// Fails if some entries were not used (a state for other parameters or another
    /// configuration).
    fn finish(self) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let mut names: Vec<&str> = self.entries.into_keys().collect();
        names.sort_unstable();
        Err(Error::config(
            self.op,
            format!("load_state: entries {names:?} match no parameter or buffer of this optimiser"),
        ))
    }
}
