//! Dropout (inverted) and channel-wise 2-d dropout, seeded.
//!
//! Training: each element (or each whole channel for `dropout2d`) is kept with probability
//! `1 − p` and scaled by `1/(1 − p)`, so the expected output equals the input and
//! evaluation needs no rescaling. Evaluation: the identity. Backward: `g·mask/(1 − p)`.

use crate::error::{Error, Result};
use crate::tensor::{Rng, Tensor};

fn check_p(op: &'static str, p: f32) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::config(
            op,
            format!("drop probability {p} must lie in [0, 1]"),
        ));
    }
    Ok(())
}

/// Multiplies by a mask with one Bernoulli draw per `block` consecutive elements.
fn masked(op: &'static str, x: &Tensor, p: f32, block: usize, rng: &mut Rng) -> Tensor {
    let keep = 1.0 - p;
    let scale = if keep > 0.0 { 1.0 / keep } else { 0.0 };
    let blocks = x.numel() / block.max(1);
    let mask: Vec<f32> = (0..blocks)
        .map(|_| {
            if rng.uniform(0.0, 1.0) < keep {
                scale
            } else {
                0.0
            }
        })
        .collect();
    let y: Vec<f32> = x
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| v * mask[i / block])
        .collect();
    Tensor::from_op(op, x.shape().to_vec(), y, &[x], move |g, _| {
        // ∂y/∂x = mask / (1 − p)
        Ok(vec![Some(
            g.iter()
                .enumerate()
                .map(|(i, &v)| v * mask[i / block])
                .collect(),
        )])
    })
}

impl Tensor {
    /// Inverted dropout with drop probability `p`; the identity when not `training`.
    pub fn dropout(&self, p: f32, training: bool, rng: &mut Rng) -> Result<Tensor> {
        check_p("dropout", p)?;
        if !training || p == 0.0 {
            return Ok(self.clone());
        }
        Ok(masked("dropout", self, p, 1, rng))
    }

    /// Channel-wise dropout of `[n, c, h, w]`: whole feature maps are zeroed with
    /// probability `p` (PyTorch's `Dropout2d`); the identity when not `training`.
    pub fn dropout2d(&self, p: f32, training: bool, rng: &mut Rng) -> Result<Tensor> {
        check_p("dropout2d", p)?;
        if self.ndim() != 4 {
            return Err(Error::shape(
                "dropout2d",
                format!("input must be [n, c, h, w], got {:?}", self.shape()),
            ));
        }
        if !training || p == 0.0 {
            return Ok(self.clone());
        }
        let plane = self.dim(2) * self.dim(3);
        Ok(masked("dropout2d", self, p, plane, rng))
    }
}
