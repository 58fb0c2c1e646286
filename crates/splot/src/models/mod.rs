//! The lecture's networks, buildable by name: LeNet-5, and the model zoo (AlexNet, VGG,
//! GoogLeNet, ResNet) with torchvision's layer and `state_dict` names, so torchvision
//! weights converted to safetensors load as they are.

pub mod alexnet;
pub mod googlenet;
pub mod lenet5;
pub mod resnet;
pub mod vgg;

use crate::error::{Error, Result};
use crate::nn::Sequential;
use crate::tensor::Rng;

/// LeNet-5's two variants.
pub const LENET_NAMES: [&str; 2] = ["lenet5", "lenet5-relu"];

/// Names accepted by [`build`]: LeNet-5, then the zoo (each family's `NAMES`).
pub fn model_names() -> Vec<&'static str> {
    [
        &LENET_NAMES[..],
        &alexnet::NAMES,
        &vgg::NAMES,
        &googlenet::NAMES,
        &resnet::NAMES,
    ]
    .concat()
}

/// Whether the network `name` has dropout layers whose probability `dropout` sets.
fn has_dropout(name: &str) -> bool {
    name == "lenet5-relu"
        || alexnet::NAMES.contains(&name)
        || vgg::NAMES.contains(&name)
        || googlenet::NAMES.contains(&name)
}

/// A network by name (see [`model_names`]), freshly initialised from `seed`, with the
/// input shape `[c, h, w]` it was designed for. `dropout` is the drop probability of the
/// networks that have dropout layers: for `lenet5-relu` 0 leaves its layer out; for
/// AlexNet, VGG and GoogLeNet the layers are always there, where torchvision has
/// them, and 0 selects torchvision's probability. It must be 0 for the networks without
/// dropout (LeNet-5, ResNets).
pub fn build(name: &str, dropout: f32, seed: u64) -> Result<(Sequential, [usize; 3])> {
    if dropout != 0.0 && !has_dropout(name) {
        return Err(Error::config(
            "models",
            format!("model '{name}' has no dropout layer; dropout must be 0"),
        ));
    }
    let mut rng = Rng::seed(seed);
    match name {
        "lenet5" => return Ok((lenet5::lenet5(&mut rng)?, lenet5::INPUT)),
        "lenet5-relu" => return Ok((lenet5::lenet5_relu(dropout, &mut rng)?, lenet5::INPUT)),
        _ => {}
    }
    if let Some(built) = alexnet::build(name, dropout, &mut rng) {
        return built;
    }
    if let Some(built) = vgg::build(name, dropout, &mut rng) {
        return built;
    }
    if let Some(built) = googlenet::build(name, dropout, &mut rng) {
        return built;
    }
    if let Some(built) = resnet::build(name, &mut rng) {
        return built;
    }
    debug_assert!(
        !model_names().contains(&name),
        "'{name}' is listed but not built"
    );
    Err(Error::config(
        "models",
        format!(
            "unknown model '{name}'; known models: {}",
            model_names().join(", ")
        ),
    ))
}
