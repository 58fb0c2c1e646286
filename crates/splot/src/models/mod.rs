//! The lecture's networks, buildable by name.

pub mod lenet5;

use crate::error::{Error, Result};
use crate::nn::Sequential;
use crate::tensor::Rng;

/// Names accepted by [`build`].
pub const MODEL_NAMES: [&str; 2] = ["lenet5", "lenet5-relu"];

/// A network by name, freshly initialised from `seed`, with the input shape `[c, h, w]` it
/// expects. `dropout` is the drop probability of the networks that have a dropout layer
/// (`lenet5-relu`; 0 leaves it out) and must be 0 for the others.
pub fn build(name: &str, dropout: f32, seed: u64) -> Result<(Sequential, [usize; 3])> {
    if dropout != 0.0 && name != "lenet5-relu" {
        return Err(Error::config(
            "models",
            format!("model '{name}' has no dropout layer; dropout must be 0"),
        ));
    }
    let mut rng = Rng::seed(seed);
    match name {
        "lenet5" => Ok((lenet5::lenet5(&mut rng)?, lenet5::INPUT)),
        "lenet5-relu" => Ok((lenet5::lenet5_relu(dropout, &mut rng)?, lenet5::INPUT)),
        _ => Err(Error::config(
            "models",
            format!(
                "unknown model '{name}'; known models: {}",
                MODEL_NAMES.join(", ")
            ),
        )),
    }
}
