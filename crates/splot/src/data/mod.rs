//! Data: IDX files, MNIST, image datasets, the batch [`Loader`], and synthetic tasks for
//! examples and tests.
//!
//! - [`idx`]: the IDX format (raw or gzipped) as [`IdxArray`].
//! - [`ImageDataset`]: grey byte images `[count, rows, cols]` with a label each.
//! - [`mnist`]: the MNIST files shipped in the repository's `data/mnist/`.
//! - [`Loader`]: shuffled, normalised, padded, optionally distorted batches, prepared on a
//!   background thread, reproducible from `(seed, epoch)`.
//! - [`synthetic`]: small generated tasks.

mod dataset;
pub mod idx;
pub mod image;
pub mod loader;
pub mod mnist;
pub mod synthetic;

pub use dataset::ImageDataset;
pub use idx::IdxArray;
pub use loader::{Augment, Batch, Batches, Loader, LoaderConfig};
pub use mnist::{Mnist, MNIST_MEAN, MNIST_STD};
