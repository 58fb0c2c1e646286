//! Optimisers: update parameters in place from the gradients of one backward pass.

mod sgd;

pub use sgd::Sgd;

use crate::autograd::Gradients;
use crate::error::Result;

/// Something that updates parameters from gradients.
pub trait Optimizer {
    /// One update step; parameters without a gradient in `grads` are left as they are.
    fn step(&mut self, grads: &Gradients) -> Result<()>;
    /// The current learning rate.
    fn learning_rate(&self) -> f32;
    /// Sets the learning rate (for schedules).
    fn set_learning_rate(&mut self, lr: f32);
}
