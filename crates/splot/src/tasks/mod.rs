//! The tasks the one training loop ([`crate::train::fit`]) trains: each supplies its model,
//! the loss of a batch and its evaluation ([`crate::train::Task`]), and lives in one place.
//!
//! - [`classify`]: one class per image (ImageFolder, CSV, IDX), cross-entropy, accuracy.
//! - [`caption`]: sentences per image (COCO captions), an LSTM over CNN features, BLEU and CIDEr-D.
//! - [`retrieve`]: nearest neighbours by a layer's features, precision@k and mAP.
//! - [`segment`]: a class per pixel (VOC masks), FCNs and Farabet's multi-scale network, mIoU.
//! - [`style`]: an image optimised to another's style over VGG19 features (Gatys et al.).
//! - [`transfer`]: a classifier fine-tuned from another network's weights (or a linear probe).

pub mod caption;
pub mod classify;
pub mod retrieve;
pub mod segment;
pub mod style;
pub mod transfer;
