//! The [`Dataset`] trait — indexable samples with a target kind and class names — and the
//! datasets every reader builds: [`FileDataset`] (images decoded lazily from files, the
//! readers of [`super::folder`], [`super::voc`], [`super::coco`]), [`MemoryDataset`]
//! (samples held in memory), [`Subset`]; [`ImageDataset`] (IDX digits) is one too.

use super::dataset::ImageDataset;
use super::image::{read_image, read_mask};
use super::sample::{Boxes, Image, Sample, Target, TargetKind, IGNORE_INDEX};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// Samples that can be read in any order, from any thread.
pub trait Dataset: Send + Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index` (decoded now, for file datasets). Errors name the file and the entry.
    fn get(&self, index: usize) -> Result<Sample>;

    /// The kind of target every sample carries.
    fn target_kind(&self) -> TargetKind;

    /// The class names, index = class (empty when the targets have no classes).
    fn classes(&self) -> Vec<String>;

    /// The file or entry of sample `index`, for messages ("JPEGImages/2007_000032.jpg").
    fn describe(&self, index: usize) -> String {
        format!("sample {index}")
    }
}

/// The target of a file entry, read with the image when the sample is asked for.
#[derive(Clone, Debug, PartialEq)]
pub enum EntryTarget {
    /// No target.
    None,
    /// A class index.
    Class(usize),
    /// A mask file (palette or grey PNG) of the image's size.
    MaskFile(PathBuf),
    /// Boxes, already checked against the image's size.
    Boxes(Boxes),
    /// Captions.
    Captions(Vec<String>),
}

/// One image file and its target.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The image file.
    pub image: PathBuf,
    /// Its target.
    pub target: EntryTarget,
    /// Its id (COCO's `image_id`, otherwise the index).
    pub id: u64,
}

/// Images on disk with their targets, decoded when asked for: what every reader of a
/// standard layout returns.
#[derive(Clone, Debug)]
pub struct FileDataset {
    /// The entries, in the reader's order.
    pub entries: Vec<Entry>,
    /// Class names, index = class.
    pub classes: Vec<String>,
    /// The kind of every entry's target.
    pub kind: TargetKind,
}

impl Dataset for FileDataset {
    fn len(&self) -> usize {
        self.entries.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let entry = self.entries.get(index).ok_or_else(|| {
            Error::shape(
                "FileDataset::get",
                format!("index {index} is past the {} samples", self.entries.len()),
            )
        })?;
        let image = read_image(&entry.image)?;
        let target = match &entry.target {
            EntryTarget::None => Target::None,
            EntryTarget::Class(c) => Target::Class(*c),
            EntryTarget::MaskFile(path) => {
                let mask = read_mask(path)?;
                if (mask.height, mask.width) != (image.height, image.width) {
                    return Err(Error::format(
                        path,
                        format!(
                            "the mask is {}×{} but its image {} is {}×{}",
                            mask.width,
                            mask.height,
                            entry.image.display(),
                            image.width,
                            image.height
                        ),
                    ));
                }
                let classes = self.classes.len();
                let outside = |&v: &u8| v as usize >= classes && v != IGNORE_INDEX;
                if let Some(at) = mask.data.iter().position(outside).filter(|_| classes > 0) {
                    return Err(Error::format(
                        path,
                        format!(
                            "mask value {} at row {}, column {} is not a class: the data has {} classes (0 to {}) and 255 marks ignored pixels",
                            mask.data[at],
                            at / mask.width,
                            at % mask.width,
                            self.classes.len(),
                            self.classes.len().saturating_sub(1)
                        ),
                    ));
                }
                Target::Mask(mask)
            }
            EntryTarget::Boxes(b) => Target::Boxes(b.clone()),
            EntryTarget::Captions(c) => Target::Captions(c.clone()),
        };
        Ok(Sample {
            image,
            target,
            id: entry.id,
        })
    }

    fn target_kind(&self) -> TargetKind {
        self.kind
    }

    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }

    fn describe(&self, index: usize) -> String {
        match self.entries.get(index) {
            Some(e) => e.image.display().to_string(),
            None => format!("sample {index}"),
        }
    }
}

/// Samples held in memory (generated data, tests).
#[derive(Clone, Debug)]
pub struct MemoryDataset {
    samples: Vec<Sample>,
    classes: Vec<String>,
    kind: TargetKind,
}

impl MemoryDataset {
    /// A dataset of `samples`, whose targets must all be of one kind.
    pub fn new(samples: Vec<Sample>, classes: Vec<String>) -> Result<Self> {
        let kind = samples
            .first()
            .map_or(TargetKind::None, |s| s.target.kind());
        if let Some(i) = samples.iter().position(|s| s.target.kind() != kind) {
            return Err(Error::config(
                "MemoryDataset",
                format!(
                    "sample {i} has a {:?} target, sample 0 a {kind:?} one",
                    samples[i].target.kind()
                ),
            ));
        }
        Ok(MemoryDataset {
            samples,
            classes,
            kind,
        })
    }
}

impl Dataset for MemoryDataset {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        self.samples.get(index).cloned().ok_or_else(|| {
            Error::shape(
                "MemoryDataset::get",
                format!("index {index} is past the {} samples", self.samples.len()),
            )
        })
    }

    fn target_kind(&self) -> TargetKind {
        self.kind
    }

    fn classes(&self) -> Vec<String> {
        self.classes.clone()
    }
}

/// The samples of `inner` at `indices`, in that order (a few-shot split, `--limit`).
#[derive(Clone)]
pub struct Subset {
    inner: Arc<dyn Dataset>,
    indices: Vec<usize>,
}

impl Subset {
    /// The samples of `inner` at `indices`; an error when an index is out of range.
    pub fn new(inner: Arc<dyn Dataset>, indices: Vec<usize>) -> Result<Self> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= inner.len()) {
            return Err(Error::shape(
                "Subset",
                format!("index {bad} is past the {} samples", inner.len()),
            ));
        }
        Ok(Subset { inner, indices })
    }
}

impl Dataset for Subset {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let i = *self.indices.get(index).ok_or_else(|| {
            Error::shape(
                "Subset::get",
                format!("index {index} is past the {} samples", self.indices.len()),
            )
        })?;
        self.inner.get(i)
    }

    fn target_kind(&self) -> TargetKind {
        self.inner.target_kind()
    }

    fn classes(&self) -> Vec<String> {
        self.inner.classes()
    }

    fn describe(&self, index: usize) -> String {
        match self.indices.get(index) {
            Some(&i) => self.inner.describe(i),
            None => format!("sample {index}"),
        }
    }
}

/// IDX digits (MNIST, UCI digits) are a dataset of grey images with a class each; class
/// names are the digits `"0"`, `"1"`, … up to the largest label.
impl Dataset for ImageDataset {
    fn len(&self) -> usize {
        ImageDataset::len(self)
    }

    fn get(&self, index: usize) -> Result<Sample> {
        if index >= ImageDataset::len(self) {
            return Err(Error::shape(
                "ImageDataset::get",
                format!(
                    "index {index} is past the {} images",
                    ImageDataset::len(self)
                ),
            ));
        }
        Ok(Sample {
            image: Image::new(1, self.rows(), self.cols(), self.image(index).to_vec())?,
            target: Target::Class(self.label(index) as usize),
            id: index as u64,
        })
    }

    fn target_kind(&self) -> TargetKind {
        TargetKind::Class
    }

    fn classes(&self) -> Vec<String> {
        let top = self.labels().iter().max().map_or(0, |&m| m as usize + 1);
        (0..top.max(10)).map(|c| c.to_string()).collect()
    }

    fn describe(&self, index: usize) -> String {
        format!("image {index}")
    }
}
