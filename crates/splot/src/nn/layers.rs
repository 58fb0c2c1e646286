//! Layers over single ops: convolutions, linear, activations, dropout, flatten.
//! Initialisation follows PyTorch's defaults, so that a freshly built layer behaves like
//! its PyTorch twin: weights Kaiming-uniform with `a = √5` (bound `1/√fan_in`), biases
//! uniform in `±1/√fan_in`.

use super::{Mode, Module, TensorKind};
use crate::error::{Error, Result};
use crate::ops::conv::{Conv2dConfig, ConvTranspose2dConfig};
use crate::tensor::{fans, Rng, Tensor};
use std::sync::Mutex;

fn default_weight(shape: &[usize], rng: &mut Rng) -> Tensor {
    Tensor::kaiming_uniform(shape, 5f32.sqrt(), rng).with_grad()
}

fn default_bias(len: usize, fan_in: usize, rng: &mut Rng) -> Tensor {
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    Tensor::rand_uniform(&[len], -bound, bound, rng).with_grad()
}

/// Channels positive and divisible by the groups, a positive kernel.
fn check_channels(
    layer: &'static str,
    in_channels: usize,
    out_channels: usize,
    kernel: [usize; 2],
    groups: usize,
) -> Result<()> {
    let ok = groups > 0
        && in_channels > 0
        && out_channels > 0
        && in_channels % groups == 0
        && out_channels % groups == 0
        && !kernel.contains(&0);
    if !ok {
        return Err(Error::config(
            layer,
            format!("{in_channels} → {out_channels} channels with kernel {kernel:?} and groups {groups}: channels must be positive and divisible by groups, the kernel positive"),
        ));
    }
    // the widths are the user's: the weight must fit in memory before it is drawn
    let (big, small) = (in_channels.max(out_channels), in_channels.min(out_channels));
    crate::tensor::size::check_shape(layer, &[big, small / groups, kernel[0], kernel[1]])?;
    Ok(())
}

fn weight_and_bias(
    weight: &Tensor,
    bias: &Option<Tensor>,
) -> Vec<(&'static str, Tensor, TensorKind)> {
    let mut v = vec![("weight", weight.clone(), TensorKind::Parameter)];
    if let Some(b) = bias {
        v.push(("bias", b.clone(), TensorKind::Parameter));
    }
    v
}

/// 2-d convolution layer: weight `[out, in/groups, kh, kw]`, optional bias `[out]`.
pub struct Conv2d {
    /// `[out, in/groups, kh, kw]`.
    pub weight: Tensor,
    /// `[out]`, if any.
    pub bias: Option<Tensor>,
    /// Stride, padding, dilation, groups, padding mode.
    pub cfg: Conv2dConfig,
}

impl Conv2d {
    /// A convolution from `in_channels` to `out_channels` with a `kernel` and settings, with a
    /// bias, initialised as PyTorch does.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        cfg: Conv2dConfig,
        rng: &mut Rng,
    ) -> Result<Self> {
        let g = cfg.groups;
        check_channels("Conv2d", in_channels, out_channels, kernel, g)?;
        let shape = [out_channels, in_channels / g, kernel[0], kernel[1]];
        let weight = default_weight(&shape, rng);
        let bias = Some(default_bias(out_channels, fans(&shape).0, rng));
        Ok(Conv2d { weight, bias, cfg })
    }

    /// The same layer without a bias (as before a batch norm).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl Module for Conv2d {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "Conv2d"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.conv2d(&self.weight, self.bias.as_ref(), &self.cfg)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        weight_and_bias(&self.weight, &self.bias)
    }
}

/// 2-d transposed convolution layer: weight `[in, out/groups, kh, kw]`, bias `[out]`.
pub struct ConvTranspose2d {
    /// `[in, out/groups, kh, kw]`.
    pub weight: Tensor,
    /// `[out]`, if any.
    pub bias: Option<Tensor>,
    /// Stride, padding, output padding, dilation, groups.
    pub cfg: ConvTranspose2dConfig,
}

impl ConvTranspose2d {
    /// A transposed convolution with a bias, initialised as PyTorch does (its fan-in is
    /// computed from the weight's second dimension, as PyTorch does).
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: [usize; 2],
        cfg: ConvTranspose2dConfig,
        rng: &mut Rng,
    ) -> Result<Self> {
        let g = cfg.groups;
        check_channels("ConvTranspose2d", in_channels, out_channels, kernel, g)?;
        let shape = [in_channels, out_channels / g, kernel[0], kernel[1]];
        let weight = default_weight(&shape, rng);
        let bias = Some(default_bias(out_channels, fans(&shape).0, rng));
        Ok(ConvTranspose2d { weight, bias, cfg })
    }

    /// The same layer without a bias.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl Module for ConvTranspose2d {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "ConvTranspose2d"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.conv_transpose2d(&self.weight, self.bias.as_ref(), &self.cfg)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        weight_and_bias(&self.weight, &self.bias)
    }
}

/// Fully connected layer `y = x·Wᵀ + b`: weight `[out, in]`, bias `[out]`.
pub struct Linear {
    /// `[out, in]`.
    pub weight: Tensor,
    /// `[out]`, if any.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// A linear map from `in_features` to `out_features` with a bias, initialised as
    /// PyTorch does.
    pub fn new(in_features: usize, out_features: usize, rng: &mut Rng) -> Result<Self> {
        if in_features == 0 || out_features == 0 {
            return Err(Error::config(
                "Linear",
                format!("{in_features} → {out_features} features: both must be positive"),
            ));
        }
        crate::tensor::size::check_shape("Linear", &[out_features, in_features])?;
        let weight = default_weight(&[out_features, in_features], rng);
        let bias = Some(default_bias(out_features, in_features, rng));
        Ok(Linear { weight, bias })
    }

    /// The same layer without a bias.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl Module for Linear {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "Linear"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.linear(&self.weight, self.bias.as_ref())
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        weight_and_bias(&self.weight, &self.bias)
    }
}

/// Parameter-free activation layers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// `max(0, x)`.
    ReLU,
    /// `max(αx, x)` with the given `α`.
    LeakyReLU(f32),
    /// `tanh(x)`.
    Tanh,
    /// `1/(1 + e^{−x})`.
    Sigmoid,
    /// LeNet-5's `1.7159·tanh(2x/3)`.
    LeCunTanh,
    /// Softmax along the given axis.
    Softmax(usize),
    /// Log-softmax along the given axis.
    LogSoftmax(usize),
}

impl Module for Activation {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        match self {
            Activation::ReLU => "ReLU",
            Activation::LeakyReLU(_) => "LeakyReLU",
            Activation::Tanh => "Tanh",
            Activation::Sigmoid => "Sigmoid",
            Activation::LeCunTanh => "LeCunTanh",
            Activation::Softmax(_) => "Softmax",
            Activation::LogSoftmax(_) => "LogSoftmax",
        }
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        Ok(match *self {
            Activation::ReLU => x.relu(),
            Activation::LeakyReLU(a) => x.leaky_relu(a),
            Activation::Tanh => x.tanh(),
            Activation::Sigmoid => x.sigmoid(),
            Activation::LeCunTanh => x.lecun_tanh(),
            Activation::Softmax(axis) => x.softmax(axis)?,
            Activation::LogSoftmax(axis) => x.log_softmax(axis)?,
        })
    }
}

/// Inverted dropout, element-wise or (for `channelwise`) whole feature maps as PyTorch's
/// `Dropout2d`; seeded, the identity in evaluation.
pub struct Dropout {
    p: f32,
    channelwise: bool,
    rng: Mutex<Rng>,
}

impl Dropout {
    /// Element-wise dropout with drop probability `p` and a seed for its masks.
    pub fn new(p: f32, seed: u64) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::config(
                "Dropout",
                format!("drop probability {p} must lie in [0, 1]"),
            ));
        }
        Ok(Dropout {
            p,
            channelwise: false,
            rng: Mutex::new(Rng::seed(seed)),
        })
    }

    /// Channel-wise dropout (`Dropout2d`).
    pub fn channelwise(p: f32, seed: u64) -> Result<Self> {
        Ok(Dropout {
            channelwise: true,
            ..Dropout::new(p, seed)?
        })
    }
}

impl Module for Dropout {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        if self.channelwise {
            "Dropout2d"
        } else {
            "Dropout"
        }
    }
    fn reseed(&self, seed: u64) {
        *self.rng.lock().expect("dropout rng poisoned") = Rng::seed(seed);
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let mut rng = self.rng.lock().expect("dropout rng poisoned");
        if self.channelwise {
            x.dropout2d(self.p, mode.is_training(), &mut rng)
        } else {
            x.dropout(self.p, mode.is_training(), &mut rng)
        }
    }
}

/// Flattens dimensions from `start` on (`Flatten::default()` flattens `[n, c, h, w]` to
/// `[n, c·h·w]`).
#[derive(Clone, Copy, Debug)]
pub struct Flatten {
    /// First dimension to flatten.
    pub start: usize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten { start: 1 }
    }
}

impl Module for Flatten {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "Flatten"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.flatten(self.start)
    }
}
