//! AlexNet (Krizhevsky, Sutskever, Hinton, NIPS 2012), twice:
//!
//! - `alexnet`: torchvision's version (61 100 840 parameters): 64, 192, 384, 256, 256
//!   channels, no LRN, no groups, an adaptive average pool to 6×6 (any input of at least
//!   63×63), names `features.0/3/6/8/10` and `classifier.1/4/6` as in torchvision.
//! - `alexnet-paper`: the paper's network (60 965 224 parameters) on a 227×227 input:
//!   96, 256, 384, 384, 256 channels; conv2, conv4 and conv5 split into two groups (the
//!   two GPUs: each half reads only its own half of the previous layer); ReLU after every
//!   layer; local response normalisation after the ReLUs of conv1 and conv2 in the paper's
//!   convention ([`LrnConfig::alexnet`]: size 5, α = 10⁻⁴, β = 0.75, k = 2, α not divided
//!   by the size); overlapping 3×3 max pools with stride 2 after both LRNs and after conv5;
//!   dropout 0.5 before FC6 and FC7 (torchvision's placement). Initialised as the paper
//!   says: weights `N(0, 0.01²)`, biases 1 in conv2, conv4, conv5 and the hidden fully
//!   connected layers, 0 elsewhere. The paper's 224×224 is a known slip: only 227 (up to
//!   230) gives its 55×55 first layer.

use crate::error::Result;
use crate::nn::{
    Activation, Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, Pool, Sequential,
};
use crate::ops::conv::Conv2dConfig;
use crate::ops::norm::LrnConfig;
use crate::ops::pool::Pool2dConfig;
use crate::tensor::{Rng, Tensor};

/// torchvision's default input: 3×224×224.
pub const INPUT: [usize; 3] = [3, 224, 224];

/// The paper's input: 3×227×227.
pub const PAPER_INPUT: [usize; 3] = [3, 227, 227];

/// The registry names this module builds (see [`build`]).
pub const NAMES: [&str; 2] = ["alexnet", "alexnet-paper"];

/// Dropout probability of both networks' first two fully connected layers.
pub const DEFAULT_DROPOUT: f32 = 0.5;

fn conv(c_in: usize, c_out: usize, k: usize, cfg: Conv2dConfig, rng: &mut Rng) -> Result<Conv2d> {
    Conv2d::new(c_in, c_out, [k, k], cfg, rng)
}

/// torchvision's AlexNet with classifier dropout `dropout` and `num_classes` outputs
/// (PyTorch's default initialisation). Shapes for a 224×224 input.
pub fn alexnet(dropout: f32, num_classes: usize, rng: &mut Rng) -> Result<Sequential> {
    let c = Conv2dConfig::new;
    let pool = || Pool::Max(Pool2dConfig::new(3).stride(2));
    let features = Sequential::new()
        .push(conv(3, 64, 11, c().stride(4).padding(2), rng)?) //   0: [n, 64, 55, 55]
        .push(Activation::ReLU) //                                   1
        .push(pool()) //                                             2: [n, 64, 27, 27]
        .push(conv(64, 192, 5, c().padding(2), rng)?) //            3: [n, 192, 27, 27]
        .push(Activation::ReLU) //                                   4
        .push(pool()) //                                             5: [n, 192, 13, 13]
        .push(conv(192, 384, 3, c().padding(1), rng)?) //           6: [n, 384, 13, 13]
        .push(Activation::ReLU) //                                   7
        .push(conv(384, 256, 3, c().padding(1), rng)?) //           8: [n, 256, 13, 13]
        .push(Activation::ReLU) //                                   9
        .push(conv(256, 256, 3, c().padding(1), rng)?) //          10: [n, 256, 13, 13]
        .push(Activation::ReLU) //                                  11
        .push(pool()); //                                           12: [n, 256, 6, 6]
    let classifier = Sequential::new()
        .push(Dropout::new(dropout, rng.next_u64())?) //            0
        .push(Linear::new(256 * 6 * 6, 4096, rng)?) //              1: [n, 4096]
        .push(Activation::ReLU) //                                   2
        .push(Dropout::new(dropout, rng.next_u64())?) //            3
        .push(Linear::new(4096, 4096, rng)?) //                      4: [n, 4096]
        .push(Activation::ReLU) //                                   5
        .push(Linear::new(4096, num_classes, rng)?); //              6: [n, num_classes]
    Ok(Sequential::new()
        .push_named("features", features) //                         [n, 256, 6, 6]
        .push_named("avgpool", Pool::AdaptiveAvg([6, 6])) //         [n, 256, 6, 6]
        .push_named("flatten", Flatten::default()) //                [n, 9216]
        .push_named("classifier", classifier)) //                    [n, num_classes]
}

/// Weights `N(0, 0.01²)` and every bias `bias`, the paper's initialisation.
fn paper_init(weight: &mut Tensor, bias: &mut Option<Tensor>, value: f32, rng: &mut Rng) {
    *weight = Tensor::randn(weight.shape(), 0.0, 0.01, rng).with_grad();
    if let Some(b) = bias {
        *b = Tensor::full(b.shape(), value).with_grad();
    }
}

/// A convolution with the paper's initialisation and the given bias value.
fn paper_conv(
    c_in: usize,
    c_out: usize,
    k: usize,
    cfg: Conv2dConfig,
    bias: f32,
    rng: &mut Rng,
) -> Result<Conv2d> {
    let mut l = conv(c_in, c_out, k, cfg, rng)?;
    paper_init(&mut l.weight, &mut l.bias, bias, rng);
    Ok(l)
}

/// A fully connected layer with the paper's initialisation and the given bias value.
fn paper_fc(c_in: usize, c_out: usize, bias: f32, rng: &mut Rng) -> Result<Linear> {
    if c_in == 0 || c_out == 0 {
        return Linear::new(c_in, c_out, rng); // the error
    }
    Ok(Linear {
        weight: Tensor::randn(&[c_out, c_in], 0.0, 0.01, rng).with_grad(),
        bias: Some(Tensor::full(&[c_out], bias).with_grad()),
    })
}

/// The paper's AlexNet (see the module docs) with dropout `dropout` before FC6 and FC7
/// and `num_classes` outputs. Input `[n, 3, 227, 227]`.
pub fn alexnet_paper(dropout: f32, num_classes: usize, rng: &mut Rng) -> Result<Sequential> {
    let c = Conv2dConfig::new;
    let pool = || Pool::Max(Pool2dConfig::new(3).stride(2));
    let lrn = || LocalResponseNorm(LrnConfig::alexnet());
    let conv1 = paper_conv(3, 96, 11, c().stride(4), 0.0, rng)?;
    let conv2 = paper_conv(96, 256, 5, c().padding(2).groups(2), 1.0, rng)?;
    let conv3 = paper_conv(256, 384, 3, c().padding(1), 0.0, rng)?;
    let conv4 = paper_conv(384, 384, 3, c().padding(1).groups(2), 1.0, rng)?;
    let conv5 = paper_conv(384, 256, 3, c().padding(1).groups(2), 1.0, rng)?;
    let fc6 = paper_fc(256 * 6 * 6, 4096, 1.0, rng)?;
    let fc7 = paper_fc(4096, 4096, 1.0, rng)?;
    let fc8 = paper_fc(4096, num_classes, 0.0, rng)?;
    let features = Sequential::new()
        .push(conv1) //                 0: [n, 96, 55, 55]
        .push(Activation::ReLU) //      1
        .push(lrn()) //                 2
        .push(pool()) //                3: [n, 96, 27, 27]
        .push(conv2) //                 4: [n, 256, 27, 27], two groups of 48 → 128
        .push(Activation::ReLU) //      5
        .push(lrn()) //                 6
        .push(pool()) //                7: [n, 256, 13, 13]
        .push(conv3) //                 8: [n, 384, 13, 13], full connection
        .push(Activation::ReLU) //      9
        .push(conv4) //                10: [n, 384, 13, 13], two groups of 192 → 192
        .push(Activation::ReLU) //     11
        .push(conv5) //                12: [n, 256, 13, 13], two groups of 192 → 128
        .push(Activation::ReLU) //     13
        .push(pool()); //              14: [n, 256, 6, 6]
    let classifier = Sequential::new()
        .push(Dropout::new(dropout, rng.next_u64())?) //   0
        .push(fc6) //                                      1: [n, 4096]
        .push(Activation::ReLU) //                         2
        .push(Dropout::new(dropout, rng.next_u64())?) //   3
        .push(fc7) //                                      4: [n, 4096]
        .push(Activation::ReLU) //                         5
        .push(fc8); //                                     6: [n, num_classes]
    Ok(Sequential::new()
        .push_named("features", features) //                  [n, 256, 6, 6]
        .push_named("flatten", Flatten::default()) //         [n, 9216]
        .push_named("classifier", classifier)) //             [n, num_classes]
}

/// The network called `name` (one of [`NAMES`]) with dropout `dropout` (0 selects 0.5)
/// and `classes` outputs, and its default input shape, or `None` if `name` is not an
/// AlexNet.
pub fn build(
    name: &str,
    dropout: f32,
    classes: usize,
    rng: &mut Rng,
) -> Option<Result<(Sequential, [usize; 3])>> {
    let p = if dropout == 0.0 {
        DEFAULT_DROPOUT
    } else {
        dropout
    };
    match name {
        "alexnet" => Some(alexnet(p, classes, rng).map(|n| (n, INPUT))),
        "alexnet-paper" => Some(alexnet_paper(p, classes, rng).map(|n| (n, PAPER_INPUT))),
        _ => None,
    }
}
