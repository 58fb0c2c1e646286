//! What every segmentation network is ([`Segmenter`]: a [`Module`] that maps `[n, c, h, w]`
//! images to `[n, classes, h, w]` logits, optionally with an auxiliary head's), the
//! registry of networks by name ([`build`], [`NAMES`]), and their layer-by-layer summary.
//!
//! A network writes its forward pass once, as [`Segmenter::run`] over a `step` callback
//! that runs each named layer: [`heads`] passes one that runs it, [`summary`] one that
//! also records the layer's output shape, parameters and multiply-adds, so the summary of
//! a network that is not a chain (skips, branches, a shared trunk on three scales) is
//! always its real forward pass.

use super::{fcn, fcn_resnet, multiscale};
use crate::error::{Error, Result};
use crate::nn::SummaryRow;
use crate::nn::{num_parameters, Mode, Module};
use crate::tensor::Tensor;

/// The outputs of a segmentation network: `[n, classes, h, w]` logits at the input's size,
/// and the auxiliary head's (same shape) where the network has one.
pub struct Heads {
    /// The main head's logits.
    pub out: Tensor,
    /// The auxiliary head's logits, if any.
    pub aux: Option<Tensor>,
}

/// Runs the named layer `module` on a tensor.
pub type Step<'a> = dyn FnMut(&str, &dyn Module, &Tensor) -> Result<Tensor> + 'a;

/// A semantic segmentation network.
pub trait Segmenter: Module {
    /// The forward pass, each named layer run through `step`.
    fn run(&self, x: &Tensor, step: &mut Step) -> Result<Heads>;
    /// Classes scored per pixel.
    fn classes(&self) -> usize;
    /// Channels of the input.
    fn in_channels(&self) -> usize;
}

/// The network's logits (and auxiliary logits) for `x` in `mode`.
pub fn heads(model: &dyn Segmenter, x: &Tensor, mode: Mode) -> Result<Heads> {
    check_input(model, x.shape())?;
    model.run(x, &mut |name, m, h| {
        m.forward(h, mode)
            .map_err(|e| e.in_layer(format!("{name} ({})", m.kind())))
    })
}

/// An error unless `shape` is `[n, in_channels, h, w]`.
fn check_input(model: &dyn Segmenter, shape: &[usize]) -> Result<()> {
    if shape.len() != 4 || shape[1] != model.in_channels() {
        return Err(Error::shape(
            "segmentation",
            format!(
                "the network takes [n, {}, h, w] images, got {shape:?}",
                model.in_channels()
            ),
        ));
    }
    Ok(())
}

/// Each layer the forward pass of one `[1, c, h, w]` zero image runs, in order: its name,
/// kind, output shape, parameters and multiply-adds (a layer run on several scales
/// appears once per scale, its parameters counted once).
pub fn summary(model: &dyn Segmenter, input: &[usize]) -> Result<Vec<SummaryRow>> {
    let mut shape = vec![1];
    shape.extend_from_slice(input);
    check_input(model, &shape)?;
    let x = Tensor::try_full("segmentation summary", &shape, 0.0)?;
    let mut rows: Vec<SummaryRow> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    crate::no_grad(|| {
        model
            .run(&x, &mut |name, m, h| {
                let (out, macs) =
                    crate::ops::cost::count_multiply_adds(|| m.forward(h, Mode::Eval));
                let out = out.map_err(|e| e.in_layer(format!("{name} ({})", m.kind())))?;
                let first = seen.insert(name.to_string());
                rows.push(SummaryRow {
                    name: name.to_string(),
                    kind: m.kind(),
                    output_shape: out.shape().to_vec(),
                    parameters: if first { num_parameters(m) } else { 0 },
                    multiply_adds: macs,
                });
                Ok(out)
            })
            .map(|_| ())
    })?;
    Ok(rows)
}

/// The names [`build`] knows: FCN-32s/16s/8s on VGG16 (`fcn32s`…) and on a small
/// backbone that trains on a CPU (`fcn32s-small`…), torchvision's `fcn_resnet50` and
/// `fcn_resnet101`, and Farabet's multi-scale network.
pub const NAMES: [&str; 9] = [
    "fcn32s",
    "fcn16s",
    "fcn8s",
    "fcn32s-small",
    "fcn16s-small",
    "fcn8s-small",
    "fcn_resnet50",
    "fcn_resnet101",
    "multiscale",
];

/// How to build a network.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    /// One of [`NAMES`].
    pub name: String,
    /// Classes per pixel, background included.
    pub classes: usize,
    /// Input channels (3 for the VGG16 and ResNet networks, whose weights come from RGB
    /// ImageNet models; the small ones take what the data has).
    pub channels: usize,
    /// The auxiliary head (`fcn_resnet*` only).
    pub aux: bool,
    /// Dropout probability (the fully convolutional layers' or the classifier's).
    pub dropout: f32,
    /// Seed of the initialisation.
    pub seed: u64,
}

/// The input a network is summarised at by default: VOC's 500×500 (VGG16 FCNs), 520×520
/// (torchvision's evaluation size for `fcn_resnet*`), 128×128 (the small networks, the
/// digit scenes' size).
pub fn default_input(spec: &ModelSpec) -> [usize; 3] {
    let c = spec.channels;
    match spec.name.as_str() {
        "fcn32s" | "fcn16s" | "fcn8s" => [c, 500, 500],
        n if n.starts_with("fcn_resnet") => [c, 520, 520],
        _ => [c, 128, 128],
    }
}

/// The network `spec` names, initialised from its seed. Errors: an unknown name (the
/// message lists the known ones), no classes, an auxiliary head asked of a network
/// without one, 3-channel networks given another channel count.
pub fn build(spec: &ModelSpec) -> Result<Box<dyn Segmenter>> {
    if spec.classes == 0 || spec.classes > 255 {
        return Err(Error::config(
            "segmentation",
            format!(
                "{} classes: a network needs 1 to 255 (mask value 255 is the ignored border)",
                spec.classes
            ),
        ));
    }
    if spec.aux && !spec.name.starts_with("fcn_resnet") {
        return Err(Error::config(
            "segmentation",
            format!(
                "{} has no auxiliary head (only fcn_resnet50 and fcn_resnet101 do)",
                spec.name
            ),
        ));
    }
    let rgb_only = !spec.name.ends_with("-small") && spec.name != "multiscale";
    if rgb_only && spec.channels != 3 {
        return Err(Error::config(
            "segmentation",
            format!(
                "{} takes 3-channel images (its backbone is an ImageNet network), not {}",
                spec.name, spec.channels
            ),
        ));
    }
    let mut rng = crate::tensor::Rng::seed(spec.seed);
    let name = spec.name.as_str();
    let (c, k, p) = (spec.channels, spec.classes, spec.dropout);
    let fcn = |skips, backbone| -> Result<Box<dyn Segmenter>> {
        let mut rng = crate::tensor::Rng::seed(spec.seed);
        Ok(Box::new(fcn::Fcn::new(backbone, skips, c, k, p, &mut rng)?))
    };
    use fcn::{Backbone, Skips};
    match name {
        "fcn32s" => fcn(Skips::None, Backbone::Vgg16),
        "fcn16s" => fcn(Skips::Pool4, Backbone::Vgg16),
        "fcn8s" => fcn(Skips::Pool4Pool3, Backbone::Vgg16),
        "fcn32s-small" => fcn(Skips::None, Backbone::Small),
        "fcn16s-small" => fcn(Skips::Pool4, Backbone::Small),
        "fcn8s-small" => fcn(Skips::Pool4Pool3, Backbone::Small),
        "fcn_resnet50" | "fcn_resnet101" => {
            let blocks = if name == "fcn_resnet50" {
                [3, 4, 6, 3]
            } else {
                [3, 4, 23, 3]
            };
            Ok(Box::new(fcn_resnet::FcnResNet::new(
                blocks, k, spec.aux, &mut rng,
            )?))
        }
        "multiscale" => Ok(Box::new(multiscale::MultiScale::new(c, k, p, &mut rng)?)),
        _ => Err(Error::config(
            "segmentation",
            format!(
                "unknown segmentation network '{name}'; known: {}",
                NAMES.join(", ")
            ),
        )),
    }
}
