//! splot: convolutional neural networks in Rust.
//!
//! - [`Tensor`]: f32, NCHW, with define-by-run reverse-mode autograd ([`autograd`]).
//! - [`ops`]: convolution with every padding mode of the lecture, pooling (max, average,
//!   global, adaptive), activations, dropout, batch and local response normalisation,
//!   losses, elementwise arithmetic, reductions, shapes (slices, permutations, broadcasts,
//!   stacking), indexing (gather, scatter, embedding lookups, masks), matrix products —
//!   each with its backward rule.
//! - [`cpu`]: the kernels underneath (GEMM, im2col through the padding index map).
//! - [`io`]: weights as safetensors with PyTorch `state_dict` names, files written
//!   atomically.
//!
//! ```
//! use splot::{Conv2dConfig, PaddingMode, Tensor};
//! let x = Tensor::ones(&[1, 1, 4, 4]).with_grad();
//! let w = Tensor::ones(&[1, 1, 3, 3]).with_grad();
//! let cfg = Conv2dConfig::new().padding(1).padding_mode(PaddingMode::Replicate);
//! let y = x.conv2d(&w, None, &cfg)?;
//! assert_eq!(y.shape(), &[1, 1, 4, 4]);
//! let grads = y.sum_all().backward()?;
//! assert_eq!(grads.get(&w).unwrap().shape(), &[1, 1, 3, 3]);
//! # Ok::<(), splot::Error>(())
//! ```

#![warn(missing_docs)]

pub mod autograd;
pub mod cpu;
pub mod data;
pub mod dist;
mod error;
pub mod io;
pub mod models;
pub mod nn;
pub mod ops;
pub mod optim;
pub mod tasks;
pub mod tensor;
pub mod testing;
pub mod train;
pub mod viz;

pub use autograd::{no_grad, Gradients, NoGradGuard};
pub use cpu::{init_threads, run_in_pool};
pub use error::{Error, Result};
pub use nn::{Mode, Module};
pub use ops::boxes::{batched_nms, nms, remove_small_boxes, BoxCoder};
pub use ops::conv::{Conv2dConfig, ConvTranspose2dConfig};
pub use ops::index::{Indices, Mask};
pub use ops::loss::{CrossEntropyConfig, Reduction};
pub use ops::norm::{BatchNormConfig, LrnConfig, LrnConvention};
pub use ops::padding::{Padding2d, PaddingMode};
pub use ops::pool::Pool2dConfig;
pub use ops::resample::{InterpolateConfig, InterpolateMode, OutputSize};
pub use ops::roi::{boxes_to_rois, RoiAlignConfig, Rois};
pub use tensor::{Rng, Tensor};
