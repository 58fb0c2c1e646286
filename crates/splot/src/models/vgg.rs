//! VGG (Simonyan, Zisserman 2014), as torchvision builds it: 3×3 convolutions with
//! padding 1 (each followed by ReLU, or by batch norm and ReLU in the `_bn` variants),
//! 2×2 max pools, an adaptive average pool to 7×7 and three fully connected layers with
//! dropout.
//!
//! | name  | configuration (channels, `M` = max pool)                              | parameters  |
//! |-------|------------------------------------------------------------------------|-------------|
//! | vgg11 | 64 M 128 M 256 256 M 512 512 M 512 512 M                               | 132 863 336 |
//! | vgg13 | 64 64 M 128 128 M 256 256 M 512 512 M 512 512 M                        | 133 047 848 |
//! | vgg16 | 64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M (the D)   | 138 357 544 |
//! | vgg19 | 64 64 M 128 128 M 256 ×4 M 512 ×4 M 512 ×4 M                          | 143 667 240 |
//!
//! The `_bn` variants add a batch norm per convolution (vgg11_bn 132 868 840, vgg13_bn
//! 133 053 736, vgg16_bn 138 365 992, vgg19_bn 143 678 248).
//!
//! Names are torchvision's: `features.N` (N counts every layer, ReLUs and pools included),
//! `classifier.0` / `.3` / `.6` for the linear layers. On a 224×224 input the features end
//! at 512×7×7; the adaptive pool lets any input of at least 32×32 through.

use crate::error::{Error, Result};
use crate::nn::{Activation, BatchNorm, Conv2d, Dropout, Flatten, Linear, Pool, Sequential};
use crate::ops::conv::Conv2dConfig;
use crate::ops::pool::Pool2dConfig;
use crate::tensor::{fans, Rng, Tensor};

/// The input VGG was designed for: 3×224×224.
pub const INPUT: [usize; 3] = [3, 224, 224];

/// The registry names this module builds (see [`build`]).
pub const NAMES: [&str; 8] = [
    "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
];

/// torchvision's dropout probability in the classifier.
pub const DEFAULT_DROPOUT: f32 = 0.5;

/// A layer of a configuration: a 3×3 convolution to this many channels, or a max pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layer {
    /// 3×3 convolution, padding 1, to the given channels.
    Conv(usize),
    /// 2×2 max pool, stride 2.
    MaxPool,
}

/// The configuration of VGG-`depth` (11, 13, 16 or 19: the paper's A, B, D, E).
pub fn config(depth: usize) -> Result<Vec<Layer>> {
    let convs_per_stage: [usize; 5] = match depth {
        11 => [1, 1, 2, 2, 2],
        13 => [2, 2, 2, 2, 2],
        16 => [2, 2, 3, 3, 3],
        19 => [2, 2, 4, 4, 4],
        _ => {
            return Err(Error::config(
                "VGG",
                format!("depth {depth}: VGG has depth 11, 13, 16 or 19"),
            ))
        }
    };
    let mut layers = Vec::new();
    for (convs, channels) in convs_per_stage.into_iter().zip([64, 128, 256, 512, 512]) {
        layers.extend(std::iter::repeat_n(Layer::Conv(channels), convs));
        layers.push(Layer::MaxPool);
    }
    Ok(layers)
}

/// A linear layer initialised as torchvision initialises VGG's: `N(0, 0.01²)`, bias 0.
fn linear(c_in: usize, c_out: usize, rng: &mut Rng) -> Result<Linear> {
    if c_in == 0 || c_out == 0 {
        return Linear::new(c_in, c_out, rng); // the error
    }
    Ok(Linear {
        weight: Tensor::randn(&[c_out, c_in], 0.0, 0.01, rng).with_grad(),
        bias: Some(Tensor::zeros(&[c_out]).with_grad()),
    })
}

/// VGG-`depth`'s convolutional part (torchvision's `features`: children `0`, `1`, …):
/// 3×3 convolutions (padding 1) each followed by batch norm if `batch_norm` and ReLU, the
/// stages separated by 2×2 max pools, or average pools if `average_pool` (Gatys et al.'s
/// choice for style transfer: "slightly more appealing results"). Convolutions initialised
/// as torchvision does (Kaiming normal, fan-out, bias 0).
pub fn features(
    depth: usize,
    batch_norm: bool,
    average_pool: bool,
    rng: &mut Rng,
) -> Result<Sequential> {
    let mut features = Sequential::new();
    let mut c = 3;
    for layer in config(depth)? {
        match layer {
            Layer::Conv(c_out) => {
                let mut conv = Conv2d::new(c, c_out, [3, 3], Conv2dConfig::new().padding(1), rng)?;
                let shape = conv.weight.shape().to_vec();
                let std = (2.0 / fans(&shape).1 as f32).sqrt();
                conv.weight = Tensor::randn(&shape, 0.0, std, rng).with_grad();
                conv.bias = Some(Tensor::zeros(&[c_out]).with_grad());
                features = features.push(conv); //         [n, c_out, h, w]
                if batch_norm {
                    features = features.push(BatchNorm::new_2d(c_out)?);
                }
                features = features.push(Activation::ReLU);
                c = c_out;
            }
            // [n, c, h/2, w/2]
            Layer::MaxPool if average_pool => {
                features = features.push(Pool::Avg(Pool2dConfig::new(2)))
            }
            Layer::MaxPool => features = features.push(Pool::Max(Pool2dConfig::new(2))),
        }
    }
    Ok(features)
}

/// VGG-`depth` with batch norm if `batch_norm`, classifier dropout `dropout` and
/// `num_classes` outputs; convolutions initialised as torchvision does (Kaiming normal,
/// fan-out, bias 0). Input `[n, 3, h, w]`; shapes below for 224×224.
pub fn vgg(
    depth: usize,
    batch_norm: bool,
    dropout: f32,
    num_classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let features = features(depth, batch_norm, false, rng)?;
    let classifier = Sequential::new()
        .push(linear(512 * 7 * 7, 4096, rng)?) //                  0: [n, 4096]
        .push(Activation::ReLU) //                                 1
        .push(Dropout::new(dropout, rng.next_u64())?) //           2
        .push(linear(4096, 4096, rng)?) //                         3: [n, 4096]
        .push(Activation::ReLU) //                                 4
        .push(Dropout::new(dropout, rng.next_u64())?) //           5
        .push(linear(4096, num_classes, rng)?); //                 6: [n, num_classes]
    Ok(Sequential::new()
        .push_named("features", features) //                       [n, 512, 7, 7]
        .push_named("avgpool", Pool::AdaptiveAvg([7, 7])) //       [n, 512, 7, 7]
        .push_named("flatten", Flatten::default()) //              [n, 25088]
        .push_named("classifier", classifier)) //                  [n, num_classes]
}

/// The network called `name` (one of [`NAMES`]) with classifier dropout `dropout` (0
/// selects torchvision's 0.5) and `classes` outputs, and its default input shape, or `None` if `name` is not a
/// VGG.
pub fn build(
    name: &str,
    dropout: f32,
    classes: usize,
    rng: &mut Rng,
) -> Option<Result<(Sequential, [usize; 3])>> {
    let rest = name.strip_prefix("vgg")?;
    let (depth, batch_norm) = match rest.strip_suffix("_bn") {
        Some(d) => (d, true),
        None => (rest, false),
    };
    let depth = match depth {
        "11" | "13" | "16" | "19" => depth.parse().expect("a listed depth"),
        _ => return None,
    };
    let p = if dropout == 0.0 {
        DEFAULT_DROPOUT
    } else {
        dropout
    };
    Some(vgg(depth, batch_norm, p, classes, rng).map(|net| (net, INPUT)))
}
