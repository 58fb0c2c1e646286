//! Pooling and normalisation layers.

use super::{Mode, Module, TensorKind};
use crate::error::{Error, Result};
use crate::ops::norm::{BatchNormConfig, LrnConfig};
use crate::ops::pool::Pool2dConfig;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};

/// Pooling layers (no parameters).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Pool {
    /// `MaxPool2d` with window, stride, padding, dilation and ceil mode.
    Max(Pool2dConfig),
    /// `AvgPool2d` with window, stride, padding, ceil mode and count-include-pad.
    Avg(Pool2dConfig),
    /// `AdaptiveAvgPool2d` to the given `[height, width]`.
    AdaptiveAvg([usize; 2]),
    /// `AdaptiveMaxPool2d` to the given `[height, width]`.
    AdaptiveMax([usize; 2]),
    /// Global average pooling to `[n, c, 1, 1]`.
    GlobalAvg,
}

impl Module for Pool {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        match self {
            Pool::Max(_) => "MaxPool2d",
            Pool::Avg(_) => "AvgPool2d",
            Pool::AdaptiveAvg(_) => "AdaptiveAvgPool2d",
            Pool::AdaptiveMax(_) => "AdaptiveMaxPool2d",
            Pool::GlobalAvg => "GlobalAvgPool2d",
        }
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        match self {
            Pool::Max(cfg) => x.max_pool2d(cfg),
            Pool::Avg(cfg) => x.avg_pool2d(cfg),
            Pool::AdaptiveAvg(out) => x.adaptive_avg_pool2d(*out),
            Pool::AdaptiveMax(out) => x.adaptive_max_pool2d(*out),
            Pool::GlobalAvg => x.global_avg_pool2d(),
        }
    }
}

/// Batch normalisation over `[n, c, h, w]` (`BatchNorm2d`) or `[n, c]` / `[n, c, l]`
/// (`BatchNorm1d`): parameters `weight`, `bias` (when affine); buffers `running_mean`,
/// `running_var`, `num_batches_tracked`, named as in PyTorch.
pub struct BatchNorm {
    /// `γ [c]`, if affine.
    pub weight: Option<Tensor>,
    /// `β [c]`, if affine.
    pub bias: Option<Tensor>,
    /// Running mean `[c]` (buffer).
    pub running_mean: Tensor,
    /// Running variance `[c]` (buffer).
    pub running_var: Tensor,
    /// Training steps taken (buffer, a scalar; PyTorch stores it as an integer).
    pub num_batches_tracked: Tensor,
    /// Momentum and epsilon.
    pub cfg: BatchNormConfig,
    two_d: bool,
    /// Normalise with the running statistics and leave them alone, even in `Train` mode
    /// (torchvision's `FrozenBatchNorm2d`); see [`Module::freeze_statistics`].
    frozen: AtomicBool,
}

impl BatchNorm {
    fn build(channels: usize, two_d: bool) -> Result<Self> {
        if channels == 0 {
            return Err(Error::config(
                if two_d { "BatchNorm2d" } else { "BatchNorm1d" },
                "needs at least one channel",
            ));
        }
        crate::tensor::size::check_shape("BatchNorm", &[channels])?;
        Ok(BatchNorm {
            weight: Some(Tensor::ones(&[channels]).with_grad()),
            bias: Some(Tensor::zeros(&[channels]).with_grad()),
            running_mean: Tensor::zeros(&[channels]),
            running_var: Tensor::ones(&[channels]),
            num_batches_tracked: Tensor::zeros(&[]),
            cfg: BatchNormConfig::default(),
            two_d,
            frozen: AtomicBool::new(false),
        })
    }

    /// `BatchNorm2d(channels)` with PyTorch's defaults (affine, momentum 0.1, eps 1e-5).
    pub fn new_2d(channels: usize) -> Result<Self> {
        Self::build(channels, true)
    }

    /// `BatchNorm1d(channels)` with PyTorch's defaults.
    pub fn new_1d(channels: usize) -> Result<Self> {
        Self::build(channels, false)
    }

    /// Without the learned scale and shift (`affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// With other momentum and epsilon.
    pub fn with_config(mut self, cfg: BatchNormConfig) -> Self {
        self.cfg = cfg;
        self
    }
}

impl Module for BatchNorm {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        if self.two_d {
            "BatchNorm2d"
        } else {
            "BatchNorm1d"
        }
    }
    fn forward(&self, x: &Tensor, mode: Mode) -> Result<Tensor> {
        let rank_ok = if self.two_d {
            x.ndim() == 4
        } else {
            x.ndim() == 2 || x.ndim() == 3
        };
        if !rank_ok {
            let want = if self.two_d {
                "[n, c, h, w]"
            } else {
                "[n, c] or [n, c, l]"
            };
            return Err(Error::shape(
                self.kind(),
                format!("input must be {want}, got {:?}", x.shape()),
            ));
        }
        let training = mode.is_training() && !self.frozen.load(Ordering::Relaxed);
        let y = x.batch_norm(
            &self.running_mean,
            &self.running_var,
            self.weight.as_ref(),
            self.bias.as_ref(),
            training,
            &self.cfg,
        )?;
        if training {
            self.num_batches_tracked.data_mut()[0] += 1.0;
        }
        Ok(y)
    }
    fn freeze_statistics(&self, frozen: bool) {
        self.frozen.store(frozen, Ordering::Relaxed);
    }
    fn own_tensors(&self) -> Vec<(&'static str, Tensor, TensorKind)> {
        let mut v = Vec::new();
        if let (Some(w), Some(b)) = (&self.weight, &self.bias) {
            v.push(("weight", w.clone(), TensorKind::Parameter));
            v.push(("bias", b.clone(), TensorKind::Parameter));
        }
        v.push((
            "running_mean",
            self.running_mean.clone(),
            TensorKind::Buffer,
        ));
        v.push(("running_var", self.running_var.clone(), TensorKind::Buffer));
        v.push((
            "num_batches_tracked",
            self.num_batches_tracked.clone(),
            TensorKind::Buffer,
        ));
        v
    }
}

/// Local response normalisation across channels (`LocalResponseNorm`), in the AlexNet
/// paper's or PyTorch's convention (see [`LrnConfig`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LocalResponseNorm(pub LrnConfig);

impl Module for LocalResponseNorm {
    fn infer(&self, input: &[usize]) -> Result<super::Inferred> {
        self.infer_shape(input)
    }
    fn kind(&self) -> &'static str {
        "LocalResponseNorm"
    }
    fn forward(&self, x: &Tensor, _: Mode) -> Result<Tensor> {
        x.local_response_norm(&self.0)
    }
}
