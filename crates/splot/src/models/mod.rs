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
    build_with_classes(name, dropout, None, seed)
}

/// The number of classes network `name` was designed for: 10 for LeNet-5 and the CIFAR
/// ResNets (depths 20 to 110), 1 000 (ImageNet) for the rest of the zoo.
pub fn native_classes(name: &str) -> usize {
    let cifar = ["20", "32", "44", "56", "110"]
        .iter()
        .any(|d| name == format!("resnet{d}") || name == format!("plain{d}"));
    if LENET_NAMES.contains(&name) || cifar {
        10
    } else {
        1000
    }
}

/// Like [`build`], with a head of `classes` outputs instead of the network's own
/// ([`native_classes`]; `None` keeps it): the last linear layer — `output`/`fc2`
/// (LeNet-5), `classifier.6` (AlexNet, VGG), `fc` (GoogLeNet, ResNet) — is built with
/// `classes` outputs, initialised as the original head is, every other layer exactly as
/// [`build`] makes it from the same seed.
pub fn build_with_classes(
    name: &str,
    dropout: f32,
    classes: Option<usize>,
    seed: u64,
) -> Result<(Sequential, [usize; 3])> {
    let classes = classes.unwrap_or_else(|| native_classes(name));
    if classes == 0 {
        return Err(Error::config(
            "models",
            format!("model '{name}' needs at least one class"),
        ));
    }
    if dropout != 0.0 && !has_dropout(name) {
        return Err(Error::config(
            "models",
            format!("model '{name}' has no dropout layer; dropout must be 0"),
        ));
    }
    let mut rng = Rng::seed(seed);
    match name {
        "lenet5" => {
            let net = lenet5::lenet5_with_classes(classes, &mut rng)?;
            return Ok((net, lenet5::INPUT));
        }
        "lenet5-relu" => {
            let net = lenet5::lenet5_relu_with_classes(dropout, classes, &mut rng)?;
            return Ok((net, lenet5::INPUT));
        }
        _ => {}
    }
    if let Some(built) = alexnet::build(name, dropout, classes, &mut rng) {
        return built;
    }
    if let Some(built) = vgg::build(name, dropout, classes, &mut rng) {
        return built;
    }
    if let Some(built) = googlenet::build(name, dropout, classes, &mut rng) {
        return built;
    }
    if let Some(built) = resnet::build(name, classes, &mut rng) {
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
