//! Per-sample normalisation layers (`LayerNorm`, `GroupNorm`, `InstanceNorm2d`) and
//! resampling layers (`Upsample`, and [`ConvTranspose2d::bilinear`], a transposed
//! convolution initialised as bilinear upsampling), with PyTorch's parameter and buffer
//! names and defaults.

use super::{ConvTranspose2d, Mode, Module, TensorKind};
use crate::error::{Error, Result};
use crate::ops::conv::ConvTranspose2dConfig;
use crate::ops::norm::BatchNormConfig;
use crate::ops::resample::{bilinear_kernel_size, bilinear_upsampling_weight, InterpolateConfig};
use crate::tensor::Tensor;

/// `weight` and `bias` as parameters, those present.
fn affine_tensors(
    weight: &Option<Tensor>,
    bias: &Option<Tensor>,
) -> Vec<(&'static str, Tensor, TensorKind)> {
    let mut v = Vec::new();
    if let Some(w) = weight {
        v.push(("weight", w.clone(), TensorKind::Parameter));
    }
    if let Some(b) = bias {
        v.push(("bias", b.clone(), TensorKind::Parameter));
    }
    v
}

// ---------------------------------------------------------------- LayerNorm

/// Layer normalisation over the trailing axes `normalized_shape` (`torch.nn.LayerNorm`):
/// parameters `weight` (ones) and `bias` (zeros) of that shape when
/// `elementwise_affine`, eps 1e-5. See [`Tensor::layer_norm`].
pub struct LayerNorm {
    /// `γ`, shaped like `normalized_shape`, if elementwise affine.
    pub weight: Option<Tensor>,
    /// `β`, shaped like `normalized_shape`, if elementwise affine with a bias.
    pub bias: Option<Tensor>,
    /// The trailing axes normalised together.
    pub normalized_shape: Vec<usize>,
    /// Added to the variance.
    pub eps: f32,
}

impl LayerNorm {
    /// `LayerNorm(normalized_shape)` with PyTorch's defaults (elementwise affine with a
    /// bias, eps 1e-5). Errors: an empty shape or one with a zero axis.
    pub fn new(normalized_shape: &[usize]) -> Result<Self> {
        if normalized_shape.is_empty() || normalized_shape.contains(&0) {
            return Err(Error::config(
                "LayerNorm",
                format!("normalized_shape {normalized_shape:?} must be non-empty and positive"),
            ));
        }
        crate::tensor::size::check_shape("LayerNorm", normalized_shape)?;
        Ok(LayerNorm {
            weight: Some(Tensor::ones(normalized_shape).with_grad()),
            bias: Some(Tensor::zeros(normalized_shape).with_grad()),
            normalized_shape: normalized_shape.to_vec(),
            eps: 1e-5,
        })
    }

    /// Without the learned scale and shift (`elementwise_affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// Without the learned shift (`bias=False`).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// With another epsilon.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
}

impl Module for LayerNorm {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "LayerNorm"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.layer_norm(
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        affine_tensors(&self.weight, &self.bias)
    }
}

// ---------------------------------------------------------------- GroupNorm

/// Group normalisation of `[n, c, *]` in `groups` groups of channels
/// (`torch.nn.GroupNorm`): parameters `weight` (ones) and `bias` (zeros) `[c]` when
/// affine, eps 1e-5. See [`Tensor::group_norm`].
pub struct GroupNorm {
    /// Number of groups, dividing the channels.
    pub groups: usize,
    /// Number of channels.
    pub channels: usize,
    /// `γ [c]`, if affine.
    pub weight: Option<Tensor>,
    /// `β [c]`, if affine.
    pub bias: Option<Tensor>,
    /// Added to the variance.
    pub eps: f32,
}

impl GroupNorm {
    /// `GroupNorm(num_groups, num_channels)` with PyTorch's defaults (affine, eps 1e-5).
    /// Errors: zero channels, or groups zero or not dividing the channels.
    pub fn new(groups: usize, channels: usize) -> Result<Self> {
        if channels == 0 || groups == 0 || channels % groups != 0 {
            return Err(Error::config(
                "GroupNorm",
                format!("{groups} groups must divide the {channels} channels (both positive)"),
            ));
        }
        crate::tensor::size::check_shape("GroupNorm", &[channels])?;
        Ok(GroupNorm {
            groups,
            channels,
            weight: Some(Tensor::ones(&[channels]).with_grad()),
            bias: Some(Tensor::zeros(&[channels]).with_grad()),
            eps: 1e-5,
        })
    }

    /// Without the learned scale and shift (`affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// With another epsilon.
    pub fn eps(mut self, eps: f32) -> Self {
        self.eps = eps;
        self
    }
}

impl Module for GroupNorm {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "GroupNorm"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        if x.ndim() < 2 || x.dim(1) != self.channels {
            return Err(Error::shape(
                "GroupNorm",
                format!(
                    "input must be [n, {}, *], got {:?}",
                    self.channels,
                    x.shape()
                ),
            ));
        }
        x.group_norm(
            self.groups,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        affine_tensors(&self.weight, &self.bias)
    }
}

// ---------------------------------------------------------------- InstanceNorm2d

/// Running statistics of an instance norm that tracks them.
struct Running {
    mean: Tensor,
    var: Tensor,
    batches: Tensor,
}

/// Instance normalisation of `[n, c, h, w]` (`torch.nn.InstanceNorm2d`), by default
/// without affine parameters and without running statistics, as PyTorch. With
/// [`InstanceNorm2d::affine`]: parameters `weight` (ones), `bias` (zeros) `[c]`. With
/// [`InstanceNorm2d::track_running_stats`]: buffers `running_mean` (zeros), `running_var`
/// (ones) and `num_batches_tracked`, updated in [`Mode::Train`] and used in
/// [`Mode::Eval`]; without them both modes normalise by each plane's own statistics.
/// See [`Tensor::instance_norm`].
pub struct InstanceNorm2d {
    /// Number of channels.
    pub channels: usize,
    /// `γ [c]`, if affine.
    pub weight: Option<Tensor>,
    /// `β [c]`, if affine.
    pub bias: Option<Tensor>,
    running: Option<Running>,
    /// Momentum of the running statistics and epsilon (PyTorch's 0.1 and 1e-5).
    pub cfg: BatchNormConfig,
}

impl InstanceNorm2d {
    /// `InstanceNorm2d(channels)` with PyTorch's defaults (no affine, no running
    /// statistics, momentum 0.1, eps 1e-5). Errors: zero channels.
    pub fn new(channels: usize) -> Result<Self> {
        if channels == 0 {
            return Err(Error::config(
                "InstanceNorm2d",
                "needs at least one channel",
            ));
        }
        crate::tensor::size::check_shape("InstanceNorm2d", &[channels])?;
        Ok(InstanceNorm2d {
            channels,
            weight: None,
            bias: None,
            running: None,
            cfg: BatchNormConfig::default(),
        })
    }

    /// With a learned scale and shift (`affine=True`).
    pub fn affine(mut self) -> Self {
        self.weight = Some(Tensor::ones(&[self.channels]).with_grad());
        self.bias = Some(Tensor::zeros(&[self.channels]).with_grad());
        self
    }

    /// With running statistics (`track_running_stats=True`).
    pub fn track_running_stats(mut self) -> Self {
        self.running = Some(Running {
            mean: Tensor::zeros(&[self.channels]),
            var: Tensor::ones(&[self.channels]),
            batches: Tensor::zeros(&[]),
        });
        self
    }

    /// With other momentum and epsilon.
    pub fn with_config(mut self, cfg: BatchNormConfig) -> Self {
        self.cfg = cfg;
        self
    }

    /// The running mean and variance `[c]`, if tracked.
    pub fn running_stats(&self) -> Option<(&Tensor, &Tensor)> {
        self.running.as_ref().map(|r| (&r.mean, &r.var))
    }
}

impl Module for InstanceNorm2d {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "InstanceNorm2d"
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        if x.ndim() != 4 || x.dim(1) != self.channels {
            return Err(Error::shape(
                "InstanceNorm2d",
                format!(
                    "input must be [n, {}, h, w], got {:?}",
                    self.channels,
                    x.shape()
                ),
            ));
        }
        // PyTorch: the input's own statistics in training or when nothing is tracked
        let use_input_stats = mode.is_training() || self.running.is_none();
        let y = x.instance_norm(
            self.running.as_ref().map(|r| &r.mean),
            self.running.as_ref().map(|r| &r.var),
            self.weight.as_ref(),
            self.bias.as_ref(),
            use_input_stats,
            &self.cfg,
        )?;
        if let (Some(r), true) = (&self.running, mode.is_training()) {
            r.batches.data_mut()[0] += 1.0;
        }
        Ok(y)
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        let mut v = affine_tensors(&self.weight, &self.bias);
        if let Some(r) = &self.running {
            v.push(("running_mean", r.mean.clone(), TensorKind::Buffer));
            v.push(("running_var", r.var.clone(), TensorKind::Buffer));
            v.push(("num_batches_tracked", r.batches.clone(), TensorKind::Buffer));
        }
        v
    }
}

// ---------------------------------------------------------------- resampling

/// Resampling of `[n, c, h, w]` by a size or scale factor in the nearest, nearest-exact or
/// bilinear mode (`torch.nn.Upsample`, no parameters). See [`Tensor::interpolate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Upsample(pub InterpolateConfig);

impl Module for Upsample {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "Upsample"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.interpolate(&self.0)
    }
}

impl ConvTranspose2d {
    /// A transposed convolution from `channels` to `channels` that upsamples by `factor`
    /// as FCN's score upsampling does: kernel `2·factor − factor mod 2`
    /// ([`bilinear_kernel_size`]), stride `factor`, padding `⌊factor/2⌋` (so the output is
    /// exactly `factor` times the input), no bias, the weight initialised to bilinear
    /// interpolation ([`bilinear_upsampling_weight`]) and learnable. Away from the border
    /// it computes `interpolate` bilinear by `factor` with `align_corners=false`.
    /// Errors: zero channels or factor.
    pub fn bilinear(channels: usize, factor: usize) -> Result<Self> {
        if factor == 0 {
            return Err(Error::config(
                "ConvTranspose2d::bilinear",
                "the upsampling factor must be positive",
            ));
        }
        let k = bilinear_kernel_size(factor);
        let weight = bilinear_upsampling_weight(channels, k)?.with_grad();
        let cfg = ConvTranspose2dConfig::new()
            .stride(factor)
            .padding(factor / 2);
        Ok(ConvTranspose2d {
            weight,
            bias: None,
            cfg,
        })
    }
}
