//! Regularisation penalties (lecture §5), applied as gradients so they work with any
//! optimiser: after `backward`, [`Penalty::apply`] adds `∂penalty/∂w` to each targeted
//! parameter's gradient, then the optimiser steps.
//!
//! | penalty | loss term | gradient added |
//! |---|---|---|
//! | `L1(λ)` | `λ·Σ|w|` | `λ·sign(w)` (0 at `w = 0`) |
//! | `L2(λ)` | `λ/2·Σw²` | `λ·w` |
//! | `ElasticNet { l1: λ1, l2: λ2 }` | `λ1·Σ|w| + λ2·Σw²` | `λ1·sign(w) + 2·λ2·w` |
//!
//! `L2(λ)` with SGD equals SGD's own `weight_decay(λ)`; with Adam it is Adam's coupled
//! decay, not AdamW's decoupled one.
//!
//! Which parameters: by default only weights ([`PenaltyTarget::Weights`]: names ending in
//! `weight` with at least 2 dimensions, i.e. convolution and linear weights), never biases
//! or normalisation parameters.

use crate::autograd::Gradients;
use crate::error::{Error, Result};
use crate::nn::{NamedTensor, TensorKind};
use std::fmt;
use std::str::FromStr;

/// A regularisation penalty on the parameters. Parses from and prints as `l1:λ`, `l2:λ`,
/// `elastic:λ1:λ2`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Penalty {
    /// `λ·Σ|w|`: drives weights to exactly zero (sparse weights).
    L1(f32),
    /// `λ/2·Σw²`: gradient `λ·w`, many small weights.
    L2(f32),
    /// `λ1·Σ|w| + λ2·Σw²` (elastic net; note: no ½ on the square term).
    ElasticNet {
        /// `λ1`, the weight of `|w|`.
        l1: f32,
        /// `λ2`, the weight of `w²`.
        l2: f32,
    },
}

/// Which parameters a penalty acts on. Buffers ([`TensorKind::Buffer`]) never.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PenaltyTarget {
    /// Parameters whose name ends in `weight` and that have at least 2 dimensions
    /// (convolution and linear weights); not biases, not batch-norm scales.
    #[default]
    Weights,
    /// Every parameter.
    All,
}

impl PenaltyTarget {
    /// Whether this target includes `p`.
    pub fn includes(self, p: &NamedTensor) -> bool {
        p.kind == TensorKind::Parameter
            && match self {
                PenaltyTarget::Weights => p.name.ends_with("weight") && p.tensor.ndim() >= 2,
                PenaltyTarget::All => true,
            }
    }
}

/// `sign(w)`, with `sign(0) = 0` (the subgradient PyTorch's `sign` gives).
fn sign(w: f32) -> f32 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

impl Penalty {
    /// `(λ1, λ2)` of `λ1·|w| + λ2·w²`, the form all three share.
    fn coefficients(&self) -> (f32, f32) {
        match self {
            Penalty::L1(l) => (*l, 0.0),
            Penalty::L2(l) => (0.0, l / 2.0),
            Penalty::ElasticNet { l1, l2 } => (*l1, *l2),
        }
    }

    /// Checks that every coefficient is finite and at least 0.
    pub fn validate(&self) -> Result<()> {
        let (l1, l2) = self.coefficients();
        if [l1, l2].iter().all(|l| l.is_finite() && *l >= 0.0) {
            Ok(())
        } else {
            Err(Error::config(
                "Penalty",
                format!("{self}: coefficients must be finite and ≥ 0"),
            ))
        }
    }

    /// The loss term over the weights ([`PenaltyTarget::Weights`]), for logging.
    pub fn value(&self, params: &[NamedTensor]) -> f32 {
        self.value_with(params, PenaltyTarget::Weights)
    }

    /// The loss term over the parameters `target` selects (summed in f64). Every selected
    /// parameter counts, frozen or not.
    pub fn value_with(&self, params: &[NamedTensor], target: PenaltyTarget) -> f32 {
        let (l1, l2) = self.coefficients();
        let (mut abs, mut sq) = (0.0f64, 0.0f64);
        for p in params.iter().filter(|p| target.includes(p)) {
            for &w in p.tensor.data().iter() {
                abs += w.abs() as f64;
                sq += (w as f64) * (w as f64);
            }
        }
        (l1 as f64 * abs + l2 as f64 * sq) as f32
    }

    /// Adds the penalty's gradient to the gradients of the weights
    /// ([`PenaltyTarget::Weights`]).
    pub fn apply(&self, params: &[NamedTensor], grads: &mut Gradients) -> Result<()> {
        self.apply_with(params, grads, PenaltyTarget::Weights)
    }

    /// Adds `λ1·sign(w) + 2·λ2·w` (see the table in the module docs) to the gradient of
    /// every parameter `target` selects; parameters without a gradient are skipped.
    pub fn apply_with(
        &self,
        params: &[NamedTensor],
        grads: &mut Gradients,
        target: PenaltyTarget,
    ) -> Result<()> {
        self.validate()?;
        let (l1, l2) = self.coefficients();
        let two_l2 = 2.0 * l2;
        for p in params.iter().filter(|p| target.includes(p)) {
            let Some(g) = grads.get_mut(&p.tensor) else {
                continue;
            };
            if g.shape() != p.tensor.shape() {
                return Err(Error::shape(
                    "Penalty",
                    format!(
                        "gradient of shape {:?} for parameter '{}' of shape {:?}",
                        g.shape(),
                        p.name,
                        p.tensor.shape()
                    ),
                ));
            }
            let w = p.tensor.data();
            let mut g = g.data_mut();
            for (g, &w) in g.iter_mut().zip(w.iter()) {
                *g += l1 * sign(w) + two_l2 * w;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Penalty {
    /// `l1:λ`, `l2:λ` or `elastic:λ1:λ2`, the form [`FromStr`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Penalty::L1(l) => write!(f, "l1:{l}"),
            Penalty::L2(l) => write!(f, "l2:{l}"),
            Penalty::ElasticNet { l1, l2 } => write!(f, "elastic:{l1}:{l2}"),
        }
    }
}

impl FromStr for Penalty {
    type Err = Error;

    /// Reads `l1:λ`, `l2:λ` or `elastic:λ1:λ2` (coefficients finite and ≥ 0).
    fn from_str(s: &str) -> Result<Self> {
        let err = |msg: String| Error::Parse {
            what: "penalty",
            msg: format!("'{s}': {msg}; expected l1:λ, l2:λ or elastic:λ1:λ2"),
        };
        let parts: Vec<&str> = s.trim().split(':').collect();
        let num = |x: &str| {
            x.trim()
                .parse::<f32>()
                .map_err(|_| err(format!("'{x}' is not a number")))
        };
        let penalty = match parts.as_slice() {
            ["l1", l] => Penalty::L1(num(l)?),
            ["l2", l] => Penalty::L2(num(l)?),
            ["elastic", l1, l2] => Penalty::ElasticNet {
                l1: num(l1)?,
                l2: num(l2)?,
            },
            [kind, ..] if ["l1", "l2", "elastic"].contains(kind) => {
                return Err(err("wrong number of values".into()))
            }
            _ => return Err(err("unknown penalty".into())),
        };
        penalty
            .validate()
            .map_err(|_| err("coefficients must be finite and ≥ 0".into()))?;
        Ok(penalty)
    }
}
