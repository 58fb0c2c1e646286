//! The lecture's networks, buildable by name.

pub mod lenet5;

use crate::error::{Error, Result};
use crate::nn::Sequential;
use crate::tensor::Rng;

/// Names accepted by [`build`].
pub const MODEL_NAMES: [&str; 2] = ["lenet5", "lenet5-relu"];

/// A network by name, freshly initialised from `seed`, with the input shape `[c, h, w]` it
/// expects.
pub fn build(name: &str, seed: u64) -> Result<(Sequential, [usize; 3])> {
    let mut rng = Rng::seed(seed);
    match name {
        "lenet5" => Ok((lenet5::lenet5(&mut rng)?, lenet5::INPUT)),
        "lenet5-relu" => Ok((lenet5::lenet5_relu(0.0, &mut rng)?, lenet5::INPUT)),
        _ => Err(Error::config(
            "models",
            format!(
                "unknown model '{name}'; known models: {}",
                MODEL_NAMES.join(", ")
            ),
        )),
    }
}
