//! The benchmark workloads, one registry shared by the criterion benches (`layers.rs`,
//! `networks.rs`) and the `workload` example that `bench/compare.sh` runs against
//! `bench/torch_workloads.py` (same names, same shapes, same timing).
//!
//! fp32 throughout, batch 8 unless the name says otherwise. Each workload is set up once
//! ([`Workload::prepare`]: tensors, networks, optimiser), then timed run by run; one run is
//! one forward pass, one forward+backward pass, or one training step, on splot's pool
//! ([`splot::run_in_pool`]).
//!
//! - `conv_fwd_*`: the convolution forward, no gradient tracking.
//! - `conv_fwdbwd_*`: forward, then backward with an all-ones upstream gradient (the
//!   gradient of `Σ y`), giving the gradients of input, weight and bias.
//! - `maxpool_*`, `batchnorm_*`, `lrn_*`: forward+backward the same way, the input's
//!   gradient (and batch norm's weight and bias gradients).
//! - `*_infer_b*`: a zoo network's forward in [`Mode::Eval`] under [`splot::no_grad`].
//! - `*_train_b*`: one SGD step (momentum 0.9): forward in [`Mode::Train`], cross-entropy,
//!   backward, update.
//! - `gemm_peak`: a square single-precision matrix product, the machine's reference rate.
//!
//! Work per run ([`Workload::flops`], floating-point operations, one multiply-add = 2):
//! `2·MACs` for a forward pass, `3 × 2·MACs` for forward+backward (input and weight
//! gradients each cost one forward's products); `2·n³` for the GEMM; `0` where products are
//! not the work (pooling, normalisation).

// Each includer uses part of the registry.
#![allow(dead_code)]

pub mod alloc;
mod ops;

use splot::nn;
use splot::ops::cost::count_multiply_adds;
use splot::optim::{Optimizer, Sgd};
use splot::{
    BatchNormConfig, Conv2dConfig, LrnConfig, Mode, Module, PaddingMode, Pool2dConfig, Rng, Tensor,
};
use std::hint::black_box;

/// One timed run of a prepared workload.
pub type Runner = Box<dyn FnMut() -> splot::Result<()>>;

/// Which criterion bench a workload belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// A single layer (or the GEMM): `benches/layers.rs`.
    Layer,
    /// A whole network: `benches/networks.rs`.
    Network,
}

/// The shape of one convolution workload.
#[derive(Clone, Copy, Debug)]
pub struct ConvShape {
    /// Input channels.
    pub c: usize,
    /// Output channels.
    pub oc: usize,
    /// Input height and width.
    pub hw: usize,
    /// Kernel height and width.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Padding on every side.
    pub pad: usize,
    /// Groups (`c` for depthwise).
    pub groups: usize,
    /// How the padding reads outside the image.
    pub mode: PaddingMode,
}

impl ConvShape {
    /// Output height (= width).
    pub fn out_hw(&self) -> usize {
        (self.hw + 2 * self.pad - self.k) / self.stride + 1
    }

    /// Multiply-adds of one forward pass at batch `n`: `n·oc·oh·ow·(c/groups)·k²`.
    pub fn multiply_adds(&self, n: usize) -> f64 {
        let o = self.out_hw();
        (n * self.oc * o * o * (self.c / self.groups) * self.k * self.k) as f64
    }
}

/// What a workload does.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A convolution, forward only (`backward: false`) or forward+backward.
    Conv {
        /// The layer.
        shape: ConvShape,
        /// Whether the run includes the backward pass.
        backward: bool,
    },
    /// Max-pool 3×3, stride 2, padding 1 (ResNet's stem) on `[8, 64, 112, 112]`, fwd+bwd.
    MaxPool,
    /// Batch norm in training mode on `[8, 64, 112, 112]`, fwd+bwd.
    BatchNorm,
    /// AlexNet's local response normalisation (size 5) on `[8, 96, 55, 55]`, fwd+bwd.
    Lrn,
    /// A zoo network's inference at a batch size.
    Infer {
        /// Name for [`splot::models::build`].
        model: &'static str,
        /// Batch size.
        batch: usize,
    },
    /// One SGD training step of a zoo network at a batch size.
    Train {
        /// Name for [`splot::models::build`].
        model: &'static str,
        /// Batch size.
        batch: usize,
        /// Number of classes of the labels.
        classes: usize,
    },
    /// `n×n · n×n` single-precision matrix product.
    Gemm {
        /// The size.
        n: usize,
    },
    /// An op of engine part 3 (resampling, boxes, recurrent…), set up by its own function
    /// in `ops.rs`; its floating-point operations per run (0 where products are not the
    /// work).
    Op {
        /// Builds the run.
        prepare: fn(&mut Rng) -> splot::Result<Runner>,
        /// Floating-point operations of one run.
        flops: f64,
    },
}

/// One named workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// The name shared with `bench/torch_workloads.py`.
    pub name: String,
    /// What it does.
    pub kind: Kind,
}

/// Batch size of the layer workloads.
pub const BATCH: usize = 8;

fn conv(c: usize, oc: usize, hw: usize, k: usize, stride: usize, pad: usize) -> ConvShape {
    ConvShape {
        c,
        oc,
        hw,
        k,
        stride,
        pad,
        groups: 1,
        mode: PaddingMode::Zeros,
    }
}

/// The convolution layers, by the suffix of their workload names.
pub fn conv_shapes() -> Vec<(&'static str, ConvShape)> {
    vec![
        ("c64_56", conv(64, 64, 56, 3, 1, 1)),
        ("c3_224_7x7s2", conv(3, 64, 224, 7, 2, 3)),
        ("c256_14", conv(256, 256, 14, 3, 1, 1)),
        ("c512_7", conv(512, 512, 7, 3, 1, 1)),
        ("c64_256_56_1x1", conv(64, 256, 56, 1, 1, 0)),
        (
            "dw128_56",
            ConvShape {
                groups: 128,
                ..conv(128, 128, 56, 3, 1, 1)
            },
        ),
        (
            "c64_56_replicate",
            ConvShape {
                mode: PaddingMode::Replicate,
                ..conv(64, 64, 56, 3, 1, 1)
            },
        ),
        (
            "c64_56_symmetric",
            ConvShape {
                mode: PaddingMode::Symmetric,
                ..conv(64, 64, 56, 3, 1, 1)
            },
        ),
    ]
}

/// Every workload, layers first.
pub fn all() -> Vec<Workload> {
    let mut list = vec![Workload {
        name: "gemm_peak".into(),
        kind: Kind::Gemm { n: 2048 },
    }];
    for backward in [false, true] {
        for (suffix, shape) in conv_shapes() {
            let prefix = if backward { "conv_fwdbwd" } else { "conv_fwd" };
            list.push(Workload {
                name: format!("{prefix}_{suffix}"),
                kind: Kind::Conv { shape, backward },
            });
        }
    }
    let mut add = |name: &str, kind| {
        list.push(Workload {
            name: name.into(),
            kind,
        })
    };
    add("maxpool_fwdbwd_64_112", Kind::MaxPool);
    add("batchnorm_fwdbwd_64_112", Kind::BatchNorm);
    add("lrn_fwdbwd_96_55", Kind::Lrn);
    for batch in [64, 256] {
        add(
            &format!("lenet5_train_b{batch}"),
            Kind::Train {
                model: "lenet5",
                batch,
                classes: 10,
            },
        );
    }
    for batch in [1, 8] {
        add(
            &format!("resnet18_infer_b{batch}"),
            Kind::Infer {
                model: "resnet18",
                batch,
            },
        );
    }
    add(
        "resnet18_train_b8",
        Kind::Train {
            model: "resnet18",
            batch: 8,
            classes: 1000,
        },
    );
    for model in ["vgg16", "googlenet"] {
        add(
            &format!("{model}_infer_b8"),
            Kind::Infer { model, batch: 8 },
        );
    }
    for (name, prepare, flops) in ops::workloads() {
        add(name, Kind::Op { prepare, flops });
    }
    list
}

/// The workload called `name`.
pub fn find(name: &str) -> Option<Workload> {
    all().into_iter().find(|w| w.name == name)
}

impl Workload {
    /// The criterion bench it belongs to.
    pub fn group(&self) -> Group {
        match self.kind {
            Kind::Infer { .. } | Kind::Train { .. } => Group::Network,
            _ => Group::Layer,
        }
    }

    /// Floating-point operations of one run, where products are the work (see the module
    /// doc); `0` for pooling and normalisation. Networks are counted by running one
    /// forward pass (zoo networks are built here for that: call it once).
    pub fn flops(&self) -> splot::Result<f64> {
        Ok(match self.kind {
            Kind::Conv { shape, backward } => {
                let forward = 2.0 * shape.multiply_adds(BATCH);
                if backward {
                    3.0 * forward
                } else {
                    forward
                }
            }
            Kind::MaxPool | Kind::BatchNorm | Kind::Lrn => 0.0,
            Kind::Gemm { n } => 2.0 * (n as f64).powi(3),
            Kind::Op { flops, .. } => flops,
            Kind::Infer { model, batch } => 2.0 * network_multiply_adds(model, batch)?,
            Kind::Train { model, batch, .. } => 6.0 * network_multiply_adds(model, batch)?,
        })
    }

    /// Builds what one run needs and returns the run.
    pub fn prepare(&self) -> splot::Result<Runner> {
        let mut rng = Rng::seed(1);
        match self.kind {
            Kind::Conv { shape, backward } => prepare_conv(shape, backward, &mut rng),
            Kind::MaxPool => {
                let x = Tensor::randn(&[BATCH, 64, 112, 112], 0.0, 1.0, &mut rng).with_grad();
                let cfg = Pool2dConfig::new(3).stride(2).padding(1);
                forward_backward(move || x.max_pool2d(&cfg))
            }
            Kind::BatchNorm => {
                let x = Tensor::randn(&[BATCH, 64, 112, 112], 0.0, 1.0, &mut rng).with_grad();
                let (mean, var) = (Tensor::zeros(&[64]), Tensor::ones(&[64]));
                let weight = Tensor::ones(&[64]).with_grad();
                let bias = Tensor::zeros(&[64]).with_grad();
                let cfg = BatchNormConfig::new();
                forward_backward(move || {
                    x.batch_norm(&mean, &var, Some(&weight), Some(&bias), true, &cfg)
                })
            }
            Kind::Lrn => {
                let x = Tensor::randn(&[BATCH, 96, 55, 55], 0.0, 1.0, &mut rng).with_grad();
                let cfg = LrnConfig::alexnet();
                forward_backward(move || x.local_response_norm(&cfg))
            }
            Kind::Gemm { n } => {
                let a = Tensor::randn(&[n, n], 0.0, 1.0, &mut rng);
                let b = Tensor::randn(&[n, n], 0.0, 1.0, &mut rng);
                Ok(Box::new(move || {
                    let c = splot::run_in_pool(|| splot::no_grad(|| a.matmul(&b)))?;
                    black_box(c);
                    Ok(())
                }))
            }
            Kind::Op { prepare, .. } => prepare(&mut rng),
            Kind::Infer { model, batch } => {
                let (net, input) = splot::models::build(model, 0.0, 0)?;
                let x = Tensor::randn(&[batch, input[0], input[1], input[2]], 0.0, 1.0, &mut rng);
                Ok(Box::new(move || {
                    let y = splot::run_in_pool(|| splot::no_grad(|| net.forward(&x, Mode::Eval)))?;
                    black_box(y);
                    Ok(())
                }))
            }
            Kind::Train {
                model,
                batch,
                classes,
            } => {
                let (net, input) = splot::models::build(model, 0.0, 0)?;
                let mut opt = Sgd::new(nn::parameters(&net), 0.01).momentum(0.9)?;
                let x = Tensor::randn(&[batch, input[0], input[1], input[2]], 0.0, 1.0, &mut rng);
                let labels: Vec<usize> = (0..batch).map(|i| i % classes).collect();
                Ok(Box::new(move || {
                    splot::run_in_pool(|| {
                        let loss = net
                            .forward(&x, Mode::Train)?
                            .cross_entropy(&labels, &Default::default())?;
                        opt.step(&loss.backward()?)
                    })
                }))
            }
        }
    }
}

/// Forward multiply-adds of a zoo network at a batch size, counted on one forward pass.
fn network_multiply_adds(model: &str, batch: usize) -> splot::Result<f64> {
    let (net, input) = splot::models::build(model, 0.0, 0)?;
    let x = Tensor::zeros(&[batch, input[0], input[1], input[2]]);
    let (y, multiply_adds) = count_multiply_adds(|| splot::no_grad(|| net.forward(&x, Mode::Eval)));
    y?;
    Ok(multiply_adds as f64)
}

fn prepare_conv(shape: ConvShape, backward: bool, rng: &mut Rng) -> splot::Result<Runner> {
    let ConvShape {
        c,
        oc,
        hw,
        k,
        stride,
        pad,
        groups,
        mode,
    } = shape;
    let x = Tensor::randn(&[BATCH, c, hw, hw], 0.0, 1.0, rng);
    let w = Tensor::kaiming_normal(&[oc, c / groups, k, k], rng);
    let b = Tensor::randn(&[oc], 0.0, 0.1, rng);
    let cfg = Conv2dConfig::new()
        .stride(stride)
        .padding(pad)
        .groups(groups)
        .padding_mode(mode);
    if backward {
        let (x, w, b) = (x.with_grad(), w.with_grad(), b.with_grad());
        forward_backward(move || x.conv2d(&w, Some(&b), &cfg))
    } else {
        Ok(Box::new(move || {
            let y = splot::run_in_pool(|| splot::no_grad(|| x.conv2d(&w, Some(&b), &cfg)))?;
            black_box(y);
            Ok(())
        }))
    }
}

/// A run of `forward` followed by its backward pass from an all-ones output gradient.
pub(crate) fn forward_backward(
    forward: impl Fn() -> splot::Result<Tensor> + Send + Sync + 'static,
) -> splot::Result<Runner> {
    // The output's shape, for the upstream gradient made once here.
    let shape = splot::no_grad(&forward)?.shape().to_vec();
    let ones = Tensor::ones(&shape);
    Ok(Box::new(move || {
        let grads = splot::run_in_pool(|| forward()?.backward_with(&ones))?;
        black_box(grads);
        Ok(())
    }))
}
