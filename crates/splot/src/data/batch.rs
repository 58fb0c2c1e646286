//! [`Batch`]: what a loader hands to the training loop — the images of a batch as one
//! tensor and their targets collated by kind ([`BatchTargets`]).

use super::sample::{Boxes, Mask};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// The targets of a batch, collated by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum BatchTargets {
    /// No targets.
    None,
    /// One class per image.
    Classes(Vec<usize>),
    /// One mask per image, all of the batch's height and width: `[n, h, w]` classes
    /// (255 = ignore).
    Masks(Vec<Mask>),
    /// One list of boxes per image, in the batch's (transformed) pixel coordinates.
    Boxes(Vec<Boxes>),
    /// The captions of each image.
    Captions(Vec<Vec<String>>),
}

/// One batch: images `[n, c, h, w]`, their targets, and where they came from.
#[derive(Clone, Debug)]
pub struct Batch {
    /// The transformed images, `[n, c, h, w]`.
    pub images: Tensor,
    /// Their targets.
    pub targets: BatchTargets,
    /// The position of each image in the dataset.
    pub indices: Vec<usize>,
    /// The `[height, width]` of each image before the batch padded it to the largest
    /// (all equal to the tensor's when no padding was needed).
    pub sizes: Vec<[usize; 2]>,
}

impl Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    /// True when the batch holds no image.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The class of each image; an error when the targets are not classes.
    pub fn labels(&self) -> Result<&[usize]> {
        match &self.targets {
            BatchTargets::Classes(c) => Ok(c),
            other => Err(Error::config(
                "Batch::labels",
                format!(
                    "the batch's targets are not classes but {}",
                    other.kind_name()
                ),
            )),
        }
    }
}

impl BatchTargets {
    /// The kind, in words, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            BatchTargets::None => "none",
            BatchTargets::Classes(_) => "classes",
            BatchTargets::Masks(_) => "masks",
            BatchTargets::Boxes(_) => "boxes",
            BatchTargets::Captions(_) => "captions",
        }
    }
}
