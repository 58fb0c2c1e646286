//! ResNet (He, Zhang, Ren, Sun, CVPR 2016), as torchvision builds it, the paper's CIFAR-10
//! networks, and the *plain* twin of each (the same layers without shortcuts) for the
//! degradation experiment.
//!
//! A residual block computes `y = relu(F(x) + shortcut(x))`, where `F` is two 3×3
//! convolutions ([`BlockKind::Basic`]) or 1×1 → 3×3 → 1×1 ([`BlockKind::Bottleneck`]),
//! each followed by batch norm, with a ReLU between them. The shortcut is the identity
//! when shapes agree; otherwise a 1×1 convolution with stride and batch norm
//! (`downsample`, ImageNet networks, the paper's option B) or a parameter-free
//! subsample-and-zero-pad ([`ZeroPadShortcut`], CIFAR networks, option A).
//!
//! ImageNet networks (input 3×224×224; the global pool makes any size ≥ 32×32 work):
//!
//! | name       | block      | blocks per stage | parameters  |
//! |------------|------------|------------------|-------------|
//! | resnet18   | basic      | 2, 2, 2, 2       | 11 689 512  |
//! | resnet34   | basic      | 3, 4, 6, 3       | 21 797 672  |
//! | resnet50   | bottleneck | 3, 4, 6, 3       | 25 557 032  |
//! | resnet101  | bottleneck | 3, 4, 23, 3      | 44 549 160  |
//! | resnet152  | bottleneck | 3, 8, 36, 3      | 60 192 808  |
//!
//! The bottleneck strides on its 3×3 convolution (torchvision's "ResNet v1.5"; the paper
//! strides on the first 1×1). State-dict names equal torchvision's (`conv1.weight`,
//! `layer1.0.bn1.running_mean`, `layer2.0.downsample.0.weight`, `fc.bias`), so torchvision
//! weights converted to safetensors load as they are.
//!
//! CIFAR-10 networks `resnet{6n+2}` (input 3×32×32, 10 classes): a 3×3 convolution to 16
//! channels, three stages of `n` basic blocks with 16, 32, 64 channels (the first block of
//! stages 2 and 3 strides by 2), global average pooling and a linear layer; shortcuts are
//! option A, so the residual network and its plain twin have the same parameters
//! (resnet20 269 722, resnet32 464 154, resnet44 658 586, resnet56 853 018, resnet110
//! 1 727 962).
//!
//! Plain networks (`plain18`…`plain152`, `plain20`…`plain110`) drop every shortcut, the
//! `downsample` projections included: `y = relu(F(x))`.
//!
//! The blocks are [`ResidualBlock`]s rather than the generic [`Residual`](crate::nn::Residual)
//! container, whose children are named `body` and `shortcut`: torchvision's names put the
//! convolutions and the `downsample` side by side in the block, and the final ReLU comes
//! after the sum.

use crate::error::{Error, Result};
use crate::nn::{Activation, BatchNorm, Conv2d, Flatten, Linear, Mode, Module, Pool, Sequential};
use crate::ops::conv::Conv2dConfig;
use crate::ops::pool::Pool2dConfig;
use crate::tensor::{fans, Rng, Tensor};

/// The input of the ImageNet networks: 3×224×224.
pub const IMAGENET_INPUT: [usize; 3] = [3, 224, 224];

/// The input of the CIFAR-10 networks: 3×32×32.
pub const CIFAR_INPUT: [usize; 3] = [3, 32, 32];

/// The registry names this module builds (see [`build`]).
pub const NAMES: [&str; 20] = [
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnet20",
    "resnet32",
    "resnet44",
    "resnet56",
    "resnet110",
    "plain18",
    "plain34",
    "plain50",
    "plain101",
    "plain152",
    "plain20",
    "plain32",
    "plain44",
    "plain56",
    "plain110",
];

/// The two residual functions `F` of the paper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockKind {
    /// Two 3×3 convolutions (`conv1`, `conv2`); output channels = `planes`.
    Basic,
    /// 1×1 reduce, 3×3, 1×1 expand (`conv1`, `conv2`, `conv3`); output channels =
    /// 4·`planes`.
    Bottleneck,
}

impl BlockKind {
    /// Output channels per `planes`: 1 (basic) or 4 (bottleneck).
    pub fn expansion(self) -> usize {
        match self {
            BlockKind::Basic => 1,
            BlockKind::Bottleneck => 4,
        }
    }
}

/// The paper's option A shortcut: subsample by `stride` (keep every `stride`-th row and
/// column, `x[:, :, ::s, ::s]`) and append `extra_channels` channels of zeros. No
/// parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ZeroPadShortcut {
    /// Subsampling step, ≥ 1.
    pub stride: usize,
    /// Zero channels appended after the input's channels.
    pub extra_channels: usize,
}

impl Module for ZeroPadShortcut {
    fn infer(&self, input: &[usize]) -> Result<crate::nn::Inferred> {
        if input.len() != 4 {
            return Err(Error::shape(
                "ZeroPadShortcut",
                format!("input must be [n, c, h, w], got {input:?}"),
            ));
        }
        let mut shape = if self.stride > 1 {
            let cfg = Pool2dConfig::new(1).stride(self.stride);
            crate::ops::pool::max_pool2d_output_shape(input, &cfg)?
        } else {
            input.to_vec()
        };
        shape[1] = crate::tensor::size::add(
            "ZeroPadShortcut",
            "channels + extra channels",
            shape[1],
            self.extra_channels,
        )?;
        Ok(crate::nn::Inferred::free(shape))
    }
    fn kind(&self) -> &'static str {
        "ZeroPadShortcut"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        if x.ndim() != 4 {
            return Err(Error::shape(
                "ZeroPadShortcut",
                format!("input must be [n, c, h, w], got {:?}", x.shape()),
            ));
        }
        // a 1×1 max pool with stride s is the subsampling x[:, :, ::s, ::s]
        let sub = if self.stride > 1 {
            x.max_pool2d(&Pool2dConfig::new(1).stride(self.stride))?
        } else {
            x.clone()
        };
        if self.extra_channels == 0 {
            return Ok(sub);
        }
        let (n, h, w) = (sub.dim(0), sub.dim(2), sub.dim(3));
        let zeros = Tensor::zeros(&[n, self.extra_channels, h, w]);
        Tensor::concat(&[&sub, &zeros], 1) //                [n, c + extra, h/s, w/s]
    }
}

/// What a block adds to `F(x)`.
pub enum Shortcut {
    /// `x` itself.
    Identity,
    /// torchvision's `downsample`: a 1×1 convolution with stride and a batch norm
    /// (children `0` and `1`).
    Projection(Sequential),
    /// Option A: subsample and zero-pad, no parameters.
    ZeroPad(ZeroPadShortcut),
    /// Nothing: a plain network's block, `y = relu(F(x))`.
    None,
}

/// A residual block `relu(F(x) + shortcut(x))` with torchvision's child names: `conv1`,
/// `bn1`, `conv2`, `bn2` (`conv3`, `bn3` for a bottleneck) and `downsample` for a
/// projection or zero-pad shortcut.
pub struct ResidualBlock {
    kind: BlockKind,
    /// `(conv_i, bn_i)` in order; ReLU between them.
    layers: Vec<(Conv2d, BatchNorm)>,
    shortcut: Shortcut,
    names: Vec<(String, String)>,
}

/// A convolution without bias, initialised as torchvision initialises ResNets:
/// `N(0, 2/fan_out)` (Kaiming normal, fan-out mode).
fn conv_no_bias(
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    rng: &mut Rng,
) -> Result<Conv2d> {
    dilated_conv(c_in, c_out, k, stride, 1, rng)
}

/// [`conv_no_bias`] with dilation `d` and padding `d·⌊k/2⌋` (the output keeps the size
/// of a stride-`stride` convolution, as torchvision's `conv3x3(…, dilation)`).
fn dilated_conv(
    c_in: usize,
    c_out: usize,
    k: usize,
    stride: usize,
    d: usize,
    rng: &mut Rng,
) -> Result<Conv2d> {
    let cfg = Conv2dConfig::new()
        .stride(stride)
        .padding(d * (k / 2))
        .dilation(d);
    let mut conv = Conv2d::new(c_in, c_out, [k, k], cfg, rng)?.without_bias();
    let shape = conv.weight.shape().to_vec();
    let std = (2.0 / fans(&shape).1 as f32).sqrt();
    conv.weight = Tensor::randn(&shape, 0.0, std, rng).with_grad();
    Ok(conv)
}

impl ResidualBlock {
    /// A block from `c_in` channels with `planes` (output `planes · expansion` channels),
    /// striding by `stride` on its 3×3 convolution (the first of a basic block, the
    /// middle one of a bottleneck), with the given shortcut.
    pub fn new(
        kind: BlockKind,
        c_in: usize,
        planes: usize,
        stride: usize,
        shortcut: Shortcut,
        rng: &mut Rng,
    ) -> Result<Self> {
        Self::dilated(kind, c_in, planes, stride, 1, shortcut, rng)
    }

    /// [`ResidualBlock::new`] with the 3×3 convolution of a bottleneck dilated by
    /// `dilation` (padding = dilation). Errors: a basic block with dilation above 1, which
    /// torchvision does not build either.
    pub fn dilated(
        kind: BlockKind,
        c_in: usize,
        planes: usize,
        stride: usize,
        dilation: usize,
        shortcut: Shortcut,
        rng: &mut Rng,
    ) -> Result<Self> {
        if dilation == 0 || (kind == BlockKind::Basic && dilation > 1) {
            return Err(Error::config(
                "ResNet",
                format!("dilation {dilation} is not supported in a {kind:?} block (bottleneck blocks only, as in torchvision)"),
            ));
        }
        let bn = |c| BatchNorm::new_2d(c);
        let layers = match kind {
            BlockKind::Basic => vec![
                (conv_no_bias(c_in, planes, 3, stride, rng)?, bn(planes)?),
                (conv_no_bias(planes, planes, 3, 1, rng)?, bn(planes)?),
            ],
            BlockKind::Bottleneck => vec![
                (conv_no_bias(c_in, planes, 1, 1, rng)?, bn(planes)?),
                (
                    dilated_conv(planes, planes, 3, stride, dilation, rng)?,
                    bn(planes)?,
                ),
                (
                    conv_no_bias(planes, 4 * planes, 1, 1, rng)?,
                    bn(4 * planes)?,
                ),
            ],
        };
        let names = (1..=layers.len())
            .map(|i| (format!("conv{i}"), format!("bn{i}")))
            .collect();
        Ok(ResidualBlock {
            kind,
            layers,
            shortcut,
            names,
        })
    }
}

impl Module for ResidualBlock {
    fn kind(&self) -> &'static str {
        match self.kind {
            BlockKind::Basic => "BasicBlock",
            BlockKind::Bottleneck => "Bottleneck",
        }
    }
    fn infer(&self, input: &[usize]) -> Result<crate::nn::Inferred> {
        let body = self
            .layers
            .iter()
            .zip(&self.names)
            .flat_map(|((c, b), (cn, bn))| {
                [
                    (cn.clone(), c as &dyn Module),
                    (bn.clone(), b as &dyn Module),
                ]
            });
        let f = crate::nn::infer_chain(body, input)?;
        let s = match &self.shortcut {
            Shortcut::Identity => crate::nn::Inferred::free(input.to_vec()),
            Shortcut::Projection(p) => p.infer(input).map_err(|e| e.in_layer("downsample"))?,
            Shortcut::ZeroPad(z) => z.infer(input).map_err(|e| e.in_layer("downsample"))?,
            Shortcut::None => return Ok(f),
        };
        crate::nn::residual_sum(self.kind(), f, s)
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        // F(x): conv → bn (→ relu) for each layer, no relu after the last
        let mut f = x.clone();
        for (i, ((conv, bn), (conv_name, bn_name))) in
            self.layers.iter().zip(&self.names).enumerate()
        {
            f = conv.forward(&f, mode).map_err(|e| e.in_layer(conv_name))?;
            f = bn.forward(&f, mode).map_err(|e| e.in_layer(bn_name))?;
            if i + 1 < self.layers.len() {
                f = f.relu();
            }
        }
        let s = match &self.shortcut {
            Shortcut::Identity => Some(x.clone()),
            Shortcut::Projection(p) => {
                Some(p.forward(x, mode).map_err(|e| e.in_layer("downsample"))?)
            }
            Shortcut::ZeroPad(z) => Some(z.forward(x, mode).map_err(|e| e.in_layer("downsample"))?),
            Shortcut::None => None,
        };
        let y = match s {
            Some(s) if s.shape() != f.shape() => {
                return Err(Error::shape(
                    self.kind(),
                    format!(
                        "residual {:?} and shortcut {:?} differ",
                        f.shape(),
                        s.shape()
                    ),
                ))
            }
            Some(s) => f.add(&s)?,
            None => f,
        };
        Ok(y.relu())
    }
    fn topology(&self) -> crate::nn::Topology {
        let shortcut = match self.shortcut {
            Shortcut::Identity => Some("identity"),
            Shortcut::Projection(_) => Some("projection"),
            Shortcut::ZeroPad(_) => Some("zero-pad"),
            Shortcut::None => None,
        };
        crate::nn::Topology::Residual { shortcut }
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        let mut c: Vec<(String, &dyn Module)> = Vec::new();
        for ((conv, bn), (conv_name, bn_name)) in self.layers.iter().zip(&self.names) {
            c.push((conv_name.clone(), conv));
            c.push((bn_name.clone(), bn));
        }
        match &self.shortcut {
            Shortcut::Projection(p) => c.push(("downsample".into(), p)),
            Shortcut::ZeroPad(z) => c.push(("downsample".into(), z)),
            Shortcut::Identity | Shortcut::None => {}
        }
        c
    }
}

/// How the first block of a stage meets a change of shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShortcutStyle {
    /// 1×1 convolution + batch norm (ImageNet networks).
    Projection,
    /// Subsample and zero-pad (CIFAR networks).
    ZeroPad,
    /// No shortcuts at all (plain networks).
    Plain,
}

/// One stage (`layerN`): `blocks` blocks, the first from `c_in` channels with `stride`.
/// Returns the stage and its output channels.
fn stage(
    kind: BlockKind,
    c_in: usize,
    planes: usize,
    blocks: usize,
    stride: usize,
    style: ShortcutStyle,
    rng: &mut Rng,
) -> Result<(Sequential, usize)> {
    dilated_stage(kind, c_in, planes, blocks, stride, [1, 1], style, rng)
}

/// [`stage`] whose first block's 3×3 convolution is dilated by `dilation[0]` and the
/// others' by `dilation[1]` (torchvision's `_make_layer` with `dilate`: the previous
/// dilation, then the new one).
#[allow(clippy::too_many_arguments)]
fn dilated_stage(
    kind: BlockKind,
    c_in: usize,
    planes: usize,
    blocks: usize,
    stride: usize,
    dilation: [usize; 2],
    style: ShortcutStyle,
    rng: &mut Rng,
) -> Result<(Sequential, usize)> {
    let c_out = planes * kind.expansion();
    let mut seq = Sequential::new();
    let mut c = c_in;
    for b in 0..blocks {
        let s = if b == 0 { stride } else { 1 };
        let d = if b == 0 { dilation[0] } else { dilation[1] };
        let reshapes = s != 1 || c != c_out;
        let shortcut = match style {
            ShortcutStyle::Plain => Shortcut::None,
            _ if !reshapes => Shortcut::Identity,
            ShortcutStyle::Projection => Shortcut::Projection(
                Sequential::new()
                    .push(conv_no_bias(c, c_out, 1, s, rng)?)
                    .push(BatchNorm::new_2d(c_out)?),
            ),
            ShortcutStyle::ZeroPad => Shortcut::ZeroPad(ZeroPadShortcut {
                stride: s,
                extra_channels: c_out.checked_sub(c).ok_or_else(|| {
                    Error::config("ResNet", "a zero-pad shortcut cannot drop channels")
                })?,
            }),
        };
        seq = seq.push(ResidualBlock::dilated(
            kind, c, planes, s, d, shortcut, rng,
        )?);
        c = c_out;
    }
    Ok((seq, c_out))
}

/// A batch norm with torchvision's initialisation (γ = 1, β = 0, the default).
fn bn(c: usize) -> Result<BatchNorm> {
    BatchNorm::new_2d(c)
}

/// torchvision's ImageNet ResNet with `blocks` blocks per stage (`[2, 2, 2, 2]` for
/// ResNet-18), `num_classes` outputs, and shortcuts unless `plain`. Input `[n, 3, h, w]`;
/// the shapes below are for 224×224.
pub fn resnet(
    kind: BlockKind,
    blocks: [usize; 4],
    plain: bool,
    num_classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let c = 512 * kind.expansion();
    Ok(trunk(kind, blocks, plain, [false; 3], rng)?
        .push_named("avgpool", Pool::AdaptiveAvg([1, 1])) //      [n, 512·e, 1, 1]
        .push_named("flatten", Flatten::default()) //             [n, 512·e]
        .push_named("fc", Linear::new(c, num_classes, rng)?)) //  [n, num_classes]
}

/// The convolutional trunk of an ImageNet ResNet, `conv1` … `layer4` (output
/// `512·expansion` channels), with torchvision's `replace_stride_with_dilation`: where
/// `dilate[i]` is set, stage `i + 2` keeps the resolution (stride 1) and multiplies the
/// dilation by 2 instead, so the output stride is 32 / 2^(dilated stages). Segmentation
/// backbones (`fcn_resnet50`) dilate layers 3 and 4: `[false, true, true]`, stride 8.
/// Errors: dilation in a network of basic blocks.
pub fn trunk(
    kind: BlockKind,
    blocks: [usize; 4],
    plain: bool,
    dilate: [bool; 3],
    rng: &mut Rng,
) -> Result<Sequential> {
    let style = if plain {
        ShortcutStyle::Plain
    } else {
        ShortcutStyle::Projection
    };
    let conv1 = conv_no_bias(3, 64, 7, 2, rng)?; // 7×7, stride 2, padding 3
    let (layer1, mut c) = stage(kind, 64, 64, blocks[0], 1, style, rng)?;
    let mut dilation = 1;
    let mut layers = Vec::new();
    for (i, planes) in [128, 256, 512].into_iter().enumerate() {
        let previous = dilation;
        let stride = if dilate[i] {
            dilation *= 2;
            1
        } else {
            2
        };
        let d = [previous, dilation];
        let (layer, c_out) = dilated_stage(kind, c, planes, blocks[i + 1], stride, d, style, rng)?;
        layers.push(layer);
        c = c_out;
    }
    debug_assert_eq!(c, 512 * kind.expansion());
    let [layer2, layer3, layer4]: [Sequential; 3] = layers
        .try_into()
        .map_err(|_| Error::config("ResNet", "three stages"))?;
    let maxpool = Pool2dConfig::new(3).stride(2).padding(1);
    Ok(Sequential::new()
        .push_named("conv1", conv1) //                            [n, 64, 112, 112]
        .push_named("bn1", bn(64)?) //                            [n, 64, 112, 112]
        .push_named("relu", Activation::ReLU) //                  [n, 64, 112, 112]
        .push_named("maxpool", Pool::Max(maxpool)) //             [n, 64, 56, 56]
        .push_named("layer1", layer1) //                          [n, 64·e, 56, 56]
        .push_named("layer2", layer2) //                          [n, 128·e, 28, 28]
        .push_named("layer3", layer3) //                          [n, 256·e, 14, 14]
        .push_named("layer4", layer4)) //                         [n, 512·e, 7, 7]
}

/// The paper's CIFAR-10 ResNet-(6n+2) with `n` basic blocks per stage, option A
/// shortcuts (none if `plain`) and `num_classes` outputs. Input `[n, 3, 32, 32]`.
pub fn cifar_resnet(
    n: usize,
    plain: bool,
    num_classes: usize,
    rng: &mut Rng,
) -> Result<Sequential> {
    let style = if plain {
        ShortcutStyle::Plain
    } else {
        ShortcutStyle::ZeroPad
    };
    let kind = BlockKind::Basic;
    let conv1 = conv_no_bias(3, 16, 3, 1, rng)?;
    let (layer1, c) = stage(kind, 16, 16, n, 1, style, rng)?;
    let (layer2, c) = stage(kind, c, 32, n, 2, style, rng)?;
    let (layer3, c) = stage(kind, c, 64, n, 2, style, rng)?;
    Ok(Sequential::new()
        .push_named("conv1", conv1) //                            [n, 16, 32, 32]
        .push_named("bn1", bn(16)?) //                            [n, 16, 32, 32]
        .push_named("relu", Activation::ReLU) //                  [n, 16, 32, 32]
        .push_named("layer1", layer1) //                          [n, 16, 32, 32]
        .push_named("layer2", layer2) //                          [n, 32, 16, 16]
        .push_named("layer3", layer3) //                          [n, 64, 8, 8]
        .push_named("avgpool", Pool::AdaptiveAvg([1, 1])) //      [n, 64, 1, 1]
        .push_named("flatten", Flatten::default()) //             [n, 64]
        .push_named("fc", Linear::new(c, num_classes, rng)?)) //  [n, num_classes]
}

/// The network called `name` (one of [`NAMES`]) with `classes` outputs and its default
/// input shape, or `None` if `name` is not a ResNet of this module.
pub fn build(
    name: &str,
    classes: usize,
    rng: &mut Rng,
) -> Option<Result<(Sequential, [usize; 3])>> {
    let (plain, depth) = if let Some(d) = name.strip_prefix("resnet") {
        (false, d)
    } else if let Some(d) = name.strip_prefix("plain") {
        (true, d)
    } else {
        return None;
    };
    use BlockKind::{Basic, Bottleneck};
    // ImageNet depths: (block, blocks per stage); CIFAR depths 6n + 2: None
    let spec = match depth {
        "18" => Some((Basic, [2, 2, 2, 2])),
        "34" => Some((Basic, [3, 4, 6, 3])),
        "50" => Some((Bottleneck, [3, 4, 6, 3])),
        "101" => Some((Bottleneck, [3, 4, 23, 3])),
        "152" => Some((Bottleneck, [3, 8, 36, 3])),
        "20" | "32" | "44" | "56" | "110" => None,
        _ => return None,
    };
    Some(match spec {
        Some((kind, blocks)) => {
            resnet(kind, blocks, plain, classes, rng).map(|net| (net, IMAGENET_INPUT))
        }
        None => {
            let n = (depth.parse::<usize>().expect("a listed depth") - 2) / 6;
            cifar_resnet(n, plain, classes, rng).map(|net| (net, CIFAR_INPUT))
        }
    })
}
