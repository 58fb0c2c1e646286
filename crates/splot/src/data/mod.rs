//! Data: IDX files, MNIST, image datasets, the batch [`Loader`], and synthetic tasks for
//! examples and tests.
//!
//! - [`idx`]: the IDX format (raw or gzipped) as [`IdxArray`].
//! - [`ImageDataset`]: grey byte images `[count, rows, cols]` with a label each.
//! - [`mnist`]: the MNIST files shipped in the repository's `data/mnist/`.
//! - [`Loader`]: batches of any [`Dataset`] through a [`transforms`] [`Pipeline`], collated by
//!   target kind ([`collate`]), prepared on worker threads, reproducible from `(seed, epoch)`.
//! - [`synthetic`]: small generated tasks.
//!
//! Round 2's data for every task: a [`Dataset`] yields [`Sample`]s, an [`Image`] (bytes, 1
//! or 3 channels, any size) and a [`Target`] (a class, a mask, boxes, captions, nothing),
//! read from the layouts users already have by one set of readers — [`image_folder`],
//! [`csv_list`], IDX ([`ImageDataset`]), [`voc_segmentation`], [`coco_instances`],
//! [`coco_captions`] — which read splot's own offline sets ([`UciDigits`], the digit scenes
//! of [`scenes`]) too.

mod batch;
pub mod coco;
pub mod collate;
mod dataset;
pub mod folder;
pub mod idx;
pub mod image;
pub mod loader;
pub mod mnist;
mod sample;
pub mod scenes;
mod source;
pub mod synthetic;
pub mod transforms;
pub mod voc;

pub use batch::{Batch, BatchTargets};
pub use coco::{coco_captions, coco_instances, CocoFile};
pub use collate::{pad_tokens, Tokens};
pub use dataset::ImageDataset;
pub use folder::{csv_list, image_files, image_folder};
pub use idx::IdxArray;
pub use loader::{Augment, Batches, Loader, LoaderConfig, Skipped};
pub use mnist::{Mnist, UciDigits, MNIST_MEAN, MNIST_STD};
pub use sample::{Boxes, Image, Mask, Sample, Target, TargetKind, IGNORE_INDEX};
pub use source::{Dataset, Entry, EntryTarget, FileDataset, MemoryDataset, Subset};
pub use transforms::{Item, Pipeline, Transform};
pub use voc::{voc_segmentation, VOC_CLASSES};
