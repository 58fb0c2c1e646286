//! GoogLeNet / Inception v1 (Szegedy et al., CVPR 2015), as torchvision builds it, and the
//! paper's naive Inception module.
//!
//! An Inception module runs four branches on the same input and concatenates their
//! outputs along the channels: a 1×1 convolution; 1×1 reduction → 3×3; 1×1 reduction →
//! "5×5"; 3×3 max pool (stride 1) → 1×1 projection. The 1×1 reductions keep the cost of
//! the larger convolutions down; [`inception_naive`] is the version without them.
//!
//! Differences from the paper, all torchvision's, followed for weight compatibility:
//! - every convolution is a [`BasicConv2d`]: convolution without bias, batch norm with
//!   `eps = 0.001`, ReLU (the paper predates batch norm);
//! - the "5×5" branch uses a **3×3** convolution (a known slip in torchvision's port that
//!   its pretrained weights depend on, so `branch3.1.conv.weight` is `[c, c_red, 3, 3]`);
//! - max pools use `ceil_mode`; the last pool before inception 5a is 2×2;
//! - the auxiliary classifiers pool adaptively to 4×4 (the paper: 5×5 average, stride 3);
//! - torchvision's `transform_input` (a re-normalisation of ImageNet-normalised input
//!   that its pretrained weights set) is not built in: prepare inputs accordingly.
//!
//! Two registry names: `googlenet` (6 624 904 parameters, torchvision's
//! `googlenet(aux_logits=False)`) and `googlenet-aux` (13 004 888, with `aux1` and `aux2`,
//! torchvision's default constructor and the layout of its pretrained checkpoint).
//!
//! Names are torchvision's: `conv1.conv.weight`, `conv1.bn.running_mean`,
//! `inception3a.branch1.conv.weight`, `inception3a.branch2.1.bn.bias`,
//! `inception4e.branch4.1.conv.weight`, `aux1.fc2.bias`, `fc.weight`.

use super::resnet::IMAGENET_INPUT;
use crate::error::{Error, Result};
use crate::nn::{
    Activation, BatchNorm, Concat, Conv2d, Dropout, Flatten, Linear, Mode, Module, Pool, Sequential,
};
use crate::ops::conv::Conv2dConfig;
use crate::ops::norm::BatchNormConfig;
use crate::ops::pool::Pool2dConfig;
use crate::tensor::{Rng, Tensor};
use std::sync::{Arc, Mutex};

/// The registry names this module builds (see [`build`]).
pub const NAMES: [&str; 2] = ["googlenet", "googlenet-aux"];

/// torchvision's dropout probability before the last layer.
pub const DEFAULT_DROPOUT: f32 = 0.2;

/// Dropout probability of the auxiliary classifiers (torchvision and the paper).
pub const AUX_DROPOUT: f32 = 0.7;

/// Weights `N(0, 0.01²)`, as torchvision initialises GoogLeNet (a normal truncated at
/// ±2, which at this width truncates nothing in practice).
fn small_normal(shape: &[usize], rng: &mut Rng) -> Tensor {
    Tensor::randn(shape, 0.0, 0.01, rng).with_grad()
}

/// torchvision's `BasicConv2d`: a convolution without bias (child `conv`), batch norm
/// with `eps = 0.001` (child `bn`), ReLU.
pub struct BasicConv2d {
    /// The convolution, no bias.
    pub conv: Conv2d,
    /// Its batch norm.
    pub bn: BatchNorm,
}

impl BasicConv2d {
    /// A `k × k` convolution from `c_in` to `c_out` channels with the given settings.
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        cfg: Conv2dConfig,
        rng: &mut Rng,
    ) -> Result<Self> {
        let mut conv = Conv2d::new(c_in, c_out, [k, k], cfg, rng)?.without_bias();
        conv.weight = small_normal(conv.weight.shape(), rng);
        let bn = BatchNorm::new_2d(c_out)?.with_config(BatchNormConfig::new().eps(0.001));
        Ok(BasicConv2d { conv, bn })
    }
}

impl Module for BasicConv2d {
    fn infer(&self, input: &[usize]) -> Result<crate::nn::Inferred> {
        crate::nn::infer_chain(self.children(), input)
    }
    fn kind(&self) -> &'static str {
        "BasicConv2d"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let y = self.conv.forward(x, mode).map_err(|e| e.in_layer("conv"))?;
        Ok(self.bn.forward(&y, mode)?.relu())
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("conv".into(), &self.conv), ("bn".into(), &self.bn)]
    }
}

/// An Inception module: parallel branches `branch1`…`branch4` on the same input, their
/// outputs concatenated along the channels.
pub struct Inception {
    branches: Concat,
}

impl Module for Inception {
    fn infer(&self, input: &[usize]) -> Result<crate::nn::Inferred> {
        self.branches.infer(input)
    }
    fn kind(&self) -> &'static str {
        "Inception"
    }
    fn topology(&self) -> crate::nn::Topology {
        crate::nn::Topology::Branches
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        self.branches.forward(x, mode)
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.branches.children()
    }
}

/// The 3×3 max pool with stride 1 and padding 1 of the pooling branch (size-preserving).
fn branch_pool() -> Pool {
    Pool::Max(Pool2dConfig::new(3).stride(1).padding(1).ceil_mode(true))
}

/// torchvision's Inception module with 1×1 dimension reductions, from `c_in` channels to
/// `ch1x1 + ch3x3 + ch5x5 + pool_proj`:
/// - `branch1`: 1×1 to `ch1x1`;
/// - `branch2`: 1×1 to `ch3x3red`, 3×3 to `ch3x3`;
/// - `branch3`: 1×1 to `ch5x5red`, 3×3 (the paper: 5×5) to `ch5x5`;
/// - `branch4`: 3×3 max pool (stride 1, padding 1), 1×1 to `pool_proj`.
#[allow(clippy::too_many_arguments)]
pub fn inception(
    c_in: usize,
    ch1x1: usize,
    ch3x3red: usize,
    ch3x3: usize,
    ch5x5red: usize,
    ch5x5: usize,
    pool_proj: usize,
    rng: &mut Rng,
) -> Result<Inception> {
    let c = Conv2dConfig::new;
    let branches = Concat::new()
        .branch_named("branch1", BasicConv2d::new(c_in, ch1x1, 1, c(), rng)?)
        .branch_named(
            "branch2",
            Sequential::new()
                .push(BasicConv2d::new(c_in, ch3x3red, 1, c(), rng)?)
                .push(BasicConv2d::new(ch3x3red, ch3x3, 3, c().padding(1), rng)?),
        )
        .branch_named(
            "branch3",
            Sequential::new()
                .push(BasicConv2d::new(c_in, ch5x5red, 1, c(), rng)?)
                .push(BasicConv2d::new(ch5x5red, ch5x5, 3, c().padding(1), rng)?),
        )
        .branch_named(
            "branch4",
            Sequential::new().push(branch_pool()).push(BasicConv2d::new(
                c_in,
                pool_proj,
                1,
                c(),
                rng,
            )?),
        );
    Ok(Inception { branches })
}

/// The paper's naive Inception module (its figure 2a): parallel 1×1, 3×3 and 5×5
/// convolutions (with bias, each followed by ReLU, padded to keep the size) and a 3×3 max
/// pool with stride 1, concatenated: `c_in` → `ch1x1 + ch3x3 + ch5x5 + c_in` channels.
/// Children `branch1`…`branch3` (each `0` the convolution, `1` its ReLU) and `branch4`
/// (the pool). The pooled branch keeps all `c_in` channels, which is why stacking these
/// modules grows the width and why the real module projects it with a 1×1 convolution.
pub fn inception_naive(
    c_in: usize,
    ch1x1: usize,
    ch3x3: usize,
    ch5x5: usize,
    rng: &mut Rng,
) -> Result<Inception> {
    let conv = |c_out: usize, k: usize, rng: &mut Rng| -> Result<Sequential> {
        let cfg = Conv2dConfig::new().padding(k / 2);
        Ok(Sequential::new()
            .push(Conv2d::new(c_in, c_out, [k, k], cfg, rng)?)
            .push(Activation::ReLU))
    };
    let branches = Concat::new()
        .branch_named("branch1", conv(ch1x1, 1, rng)?)
        .branch_named("branch2", conv(ch3x3, 3, rng)?)
        .branch_named("branch3", conv(ch5x5, 5, rng)?)
        .branch_named("branch4", branch_pool());
    Ok(Inception { branches })
}

/// The logits of the auxiliary classifiers of the last forward pass in training mode,
/// `[aux1, aux2]` as they are computed (a shared handle: see [`InceptionAux`]).
pub type AuxLogits = Arc<Mutex<Vec<(String, Tensor)>>>;

/// torchvision's auxiliary classifier, placed in the main chain as a tap: its `forward`
/// returns the input unchanged, and in training mode also computes the auxiliary logits
/// (4×4 adaptive average pool, `conv` 1×1 to 128, `fc1` 2048 → 1024 with ReLU, dropout
/// 0.7, `fc2` to the classes) and stores them in its [`AuxLogits`] handle, where a
/// training loop can add their loss (the paper weights it by 0.3). In evaluation it does
/// nothing.
pub struct InceptionAux {
    /// 1×1 convolution to 128 channels.
    pub conv: BasicConv2d,
    /// 2048 → 1024.
    pub fc1: Linear,
    /// 1024 → classes.
    pub fc2: Linear,
    dropout: Dropout,
    label: String,
    sink: AuxLogits,
}

impl InceptionAux {
    /// A classifier from `c_in` channels to `num_classes`, reporting under `label` into
    /// `sink`.
    pub fn new(
        c_in: usize,
        num_classes: usize,
        label: &str,
        sink: AuxLogits,
        rng: &mut Rng,
    ) -> Result<Self> {
        let conv = BasicConv2d::new(c_in, 128, 1, Conv2dConfig::new(), rng)?;
        let mut fc1 = Linear::new(2048, 1024, rng)?;
        fc1.weight = small_normal(fc1.weight.shape(), rng);
        let mut fc2 = Linear::new(1024, num_classes, rng)?;
        fc2.weight = small_normal(fc2.weight.shape(), rng);
        Ok(InceptionAux {
            conv,
            fc1,
            fc2,
            dropout: Dropout::new(AUX_DROPOUT, rng.next_u64())?,
            label: label.to_string(),
            sink,
        })
    }

    /// The auxiliary logits for the input `x` (`[n, c_in, h, w]` → `[n, classes]`).
    pub fn logits(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let h = x.adaptive_avg_pool2d([4, 4])?; //           [n, c_in, 4, 4]
        let h = self.conv.forward(&h, mode)?.flatten(1)?; // [n, 2048]
        let h = self.fc1.forward(&h, mode)?.relu(); //       [n, 1024]
        let h = self.dropout.forward(&h, mode)?;
        self.fc2.forward(&h, mode) //                        [n, classes]
    }
}

impl Module for InceptionAux {
    fn infer(&self, input: &[usize]) -> Result<crate::nn::Inferred> {
        // evaluation: the identity (its logits are computed in training only)
        if input.len() != 4 {
            return Err(Error::shape(
                "InceptionAux",
                format!("input must be [n, c, h, w], got {input:?}"),
            ));
        }
        Ok(crate::nn::Inferred::free(input.to_vec()))
    }
    fn kind(&self) -> &'static str {
        "InceptionAux"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        if x.ndim() != 4 {
            return Err(Error::shape(
                "InceptionAux",
                format!("input must be [n, c, h, w], got {:?}", x.shape()),
            ));
        }
        if mode.is_training() {
            let logits = self.logits(x, mode)?;
            let mut sink = self.sink.lock().expect("aux logits poisoned");
            sink.retain(|(label, _)| label != &self.label);
            sink.push((self.label.clone(), logits));
        }
        Ok(x.clone())
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("conv".into(), &self.conv),
            ("fc1".into(), &self.fc1),
            ("fc2".into(), &self.fc2),
        ]
    }
    fn reseed(&self, seed: u64) {
        self.dropout.reseed(seed);
    }
}

/// torchvision's GoogLeNet with `num_classes` outputs, dropout `dropout` before `fc`,
/// and the auxiliary classifiers `aux1` (after inception 4a) and `aux2` (after 4d) when
/// `aux_logits`, whose training-mode logits land in the returned handle. Input
/// `[n, 3, h, w]`; shapes below for 224×224 (smaller inputs pass too; the tests use
/// 64×64).
pub fn googlenet(
    aux_logits: bool,
    dropout: f32,
    num_classes: usize,
    rng: &mut Rng,
) -> Result<(Sequential, AuxLogits)> {
    let c = Conv2dConfig::new;
    let pool = |k: usize| Pool::Max(Pool2dConfig::new(k).stride(2).ceil_mode(true));
    let sink = AuxLogits::default();
    let conv1 = BasicConv2d::new(3, 64, 7, c().stride(2).padding(3), rng)?; //  [n, 64, 112, 112]
    let conv2 = BasicConv2d::new(64, 64, 1, c(), rng)?; //                      [n, 64, 56, 56]
    let conv3 = BasicConv2d::new(64, 192, 3, c().padding(1), rng)?; //          [n, 192, 56, 56]

    // inception(in, 1×1, 3×3 reduce, 3×3, "5×5" reduce, "5×5", pool projection)
    let i3a = inception(192, 64, 96, 128, 16, 32, 32, rng)?; //                 [n, 256, 28, 28]
    let i3b = inception(256, 128, 128, 192, 32, 96, 64, rng)?; //               [n, 480, 28, 28]
    let i4a = inception(480, 192, 96, 208, 16, 48, 64, rng)?; //                [n, 512, 14, 14]
    let i4b = inception(512, 160, 112, 224, 24, 64, 64, rng)?; //               [n, 512, 14, 14]
    let i4c = inception(512, 128, 128, 256, 24, 64, 64, rng)?; //               [n, 512, 14, 14]
    let i4d = inception(512, 112, 144, 288, 32, 64, 64, rng)?; //               [n, 528, 14, 14]
    let i4e = inception(528, 256, 160, 320, 32, 128, 128, rng)?; //             [n, 832, 14, 14]
    let i5a = inception(832, 256, 160, 320, 32, 128, 128, rng)?; //             [n, 832, 7, 7]
    let i5b = inception(832, 384, 192, 384, 48, 128, 128, rng)?; //             [n, 1024, 7, 7]
    let aux = |c_in, label, rng: &mut Rng| -> Result<Option<InceptionAux>> {
        aux_logits
            .then(|| InceptionAux::new(c_in, num_classes, label, sink.clone(), rng))
            .transpose()
    };
    let aux1 = aux(512, "aux1", rng)?; //                         taps [n, 512, 14, 14]
    let aux2 = aux(528, "aux2", rng)?; //                         taps [n, 528, 14, 14]
    let mut fc = Linear::new(1024, num_classes, rng)?;
    fc.weight = small_normal(fc.weight.shape(), rng);

    let mut net = Sequential::new()
        .push_named("conv1", conv1) //                        [n, 64, 112, 112]
        .push_named("maxpool1", pool(3)) //                   [n, 64, 56, 56]
        .push_named("conv2", conv2) //                        [n, 64, 56, 56]
        .push_named("conv3", conv3) //                        [n, 192, 56, 56]
        .push_named("maxpool2", pool(3)) //                   [n, 192, 28, 28]
        .push_named("inception3a", i3a) //                    [n, 256, 28, 28]
        .push_named("inception3b", i3b) //                    [n, 480, 28, 28]
        .push_named("maxpool3", pool(3)) //                   [n, 480, 14, 14]
        .push_named("inception4a", i4a); //                   [n, 512, 14, 14]
    if let Some(aux1) = aux1 {
        net = net.push_named("aux1", aux1); //                [n, 512, 14, 14] (passed on)
    }
    net = net
        .push_named("inception4b", i4b) //                    [n, 512, 14, 14]
        .push_named("inception4c", i4c) //                    [n, 512, 14, 14]
        .push_named("inception4d", i4d); //                   [n, 528, 14, 14]
    if let Some(aux2) = aux2 {
        net = net.push_named("aux2", aux2); //                [n, 528, 14, 14] (passed on)
    }
    let net = net
        .push_named("inception4e", i4e) //                    [n, 832, 14, 14]
        .push_named("maxpool4", pool(2)) //                   [n, 832, 7, 7]
        .push_named("inception5a", i5a) //                    [n, 832, 7, 7]
        .push_named("inception5b", i5b) //                    [n, 1024, 7, 7]
        .push_named("avgpool", Pool::AdaptiveAvg([1, 1])) //  [n, 1024, 1, 1]
        .push_named("flatten", Flatten::default()) //         [n, 1024]
        .push_named("dropout", Dropout::new(dropout, rng.next_u64())?) // [n, 1024]
        .push_named("fc", fc); //                             [n, num_classes]
    Ok((net, sink))
}

/// The network called `name` (one of [`NAMES`]) with dropout `dropout` before the last
/// layer (0 selects torchvision's 0.2) and `classes` outputs, and its default input shape 3×224×224, or `None`
/// if `name` is not a GoogLeNet.
pub fn build(
    name: &str,
    dropout: f32,
    classes: usize,
    rng: &mut Rng,
) -> Option<Result<(Sequential, [usize; 3])>> {
    let aux = match name {
        "googlenet" => false,
        "googlenet-aux" => true,
        _ => return None,
    };
    let p = if dropout == 0.0 {
        DEFAULT_DROPOUT
    } else {
        dropout
    };
    Some(googlenet(aux, p, classes, rng).map(|(net, _)| (net, IMAGENET_INPUT)))
}
