//! [`ImageDataset`]: grey images of one size as bytes, with a class label each.

use super::idx::IdxArray;
use crate::error::{Error, Result};
use std::ops::Range;
use std::path::Path;

/// `count` grey images of `rows × cols` pixels (bytes, 0 black to 255 white), stored
/// row-major one after the other as `[count, rows, cols]`, and one class label per image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageDataset {
    images: Vec<u8>,
    labels: Vec<u8>,
    rows: usize,
    cols: usize,
}

impl ImageDataset {
    /// A dataset from its pixels `[count, rows, cols]` and its `count` labels; an error when
    /// the lengths do not fit or an image would have no pixels.
    pub fn new(images: Vec<u8>, labels: Vec<u8>, rows: usize, cols: usize) -> Result<Self> {
        if rows == 0 || cols == 0 {
            return Err(Error::shape(
                "ImageDataset",
                format!("images of {rows}×{cols} pixels have no pixels"),
            ));
        }
        if images.len() != labels.len() * rows * cols {
            return Err(Error::shape(
                "ImageDataset",
                format!(
                    "{} labels of {rows}×{cols} images need {} pixel bytes, got {}",
                    labels.len(),
                    labels.len() * rows * cols,
                    images.len()
                ),
            ));
        }
        Ok(ImageDataset {
            images,
            labels,
            rows,
            cols,
        })
    }

    /// Reads a pair of IDX files, images `[count, rows, cols]` and labels `[count]` (raw or
    /// gzipped), as MNIST, Fashion-MNIST and EMNIST ship them. Errors name the file: a wrong
    /// number of dimensions, or counts that differ (naming both files and both counts).
    pub fn from_idx_files(images: &Path, labels: &Path) -> Result<Self> {
        let image_array = IdxArray::read(images)?;
        let label_array = IdxArray::read(labels)?;
        let [count, rows, cols] = image_array.dims[..] else {
            return Err(Error::format(
                images,
                format!(
                    "expected images with 3 dimensions [count, rows, cols], found {:?}",
                    image_array.dims
                ),
            ));
        };
        let [label_count] = label_array.dims[..] else {
            return Err(Error::format(
                labels,
                format!(
                    "expected labels with 1 dimension [count], found {:?}",
                    label_array.dims
                ),
            ));
        };
        if label_count != count {
            return Err(Error::format(
                labels,
                format!(
                    "holds {label_count} labels but {} holds {count} images",
                    images.display()
                ),
            ));
        }
        ImageDataset::new(image_array.data, label_array.data, rows, cols)
            .map_err(|e| Error::format(images, e.to_string()))
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Rows (height) of each image.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns (width) of each image.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// All pixels, `[count, rows, cols]` row-major.
    pub fn images(&self) -> &[u8] {
        &self.images
    }

    /// All labels, one per image.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The pixels of image `i`, `rows × cols` row-major. Panics when `i >= len()`.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.rows * self.cols;
        &self.images[i * size..(i + 1) * size]
    }

    /// The label of image `i`. Panics when `i >= len()`.
    pub fn label(&self, i: usize) -> u8 {
        self.labels[i]
    }

    /// The images in `range` as a new dataset (e.g. `0..1000` for a quick run). Panics when
    /// the range goes past `len()`.
    pub fn subset(&self, range: Range<usize>) -> ImageDataset {
        let size = self.rows * self.cols;
        ImageDataset {
            images: self.images[range.start * size..range.end * size].to_vec(),
            labels: self.labels[range].to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// How many images carry each label: entry `k` counts label `k`, up to the largest
    /// label present.
    pub fn label_histogram(&self) -> Vec<usize> {
        let top = self
            .labels
            .iter()
            .copied()
            .max()
            .map_or(0, |m| m as usize + 1);
        let mut counts = vec![0; top];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        counts
    }
}
