//! Collation: transformed items into one [`Batch`] — the images normalised into one
//! `[n, c, h, w]` tensor, the targets gathered by kind ([`BatchTargets`]) — and
//! [`pad_tokens`], which turns token sequences into padded `[n, t]` ids with lengths.
//!
//! Images of one batch must have the same number of channels. Images of different sizes
//! are an error, unless padding is asked for: each then sits in the top-left corner of a
//! canvas of the batch's largest height and width, the rest 0 after normalisation (as
//! torchvision's detection models batch their images), masks padded with
//! [`IGNORE_INDEX`], and [`Batch::sizes`] records each image's own size.

use super::batch::{Batch, BatchTargets};
use super::sample::{Mask, Target, IGNORE_INDEX};
use super::transforms::{Item, Normalize};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Collates `items` (the samples at `indices` of the dataset). `describe(i)` names sample
/// `i` in errors; `pad` pads images of different sizes to the largest instead of refusing.
pub fn collate(
    items: Vec<Item>,
    indices: Vec<usize>,
    normalize: &Normalize,
    pad: bool,
    describe: &dyn Fn(usize) -> String,
) -> Result<Batch> {
    let first = items
        .first()
        .ok_or_else(|| Error::shape("collate", "a batch needs at least one image"))?;
    let (c, kind) = (first.channels, first.target.kind());
    let (mut h, mut w) = (first.height, first.width);
    for (k, it) in items.iter().enumerate() {
        let clash = |what: String| {
            Err(Error::shape(
                "collate",
                format!(
                    "{what}: {} and {} cannot share a batch",
                    describe(indices[0]),
                    describe(indices[k])
                ),
            ))
        };
        if it.channels != c {
            return clash(format!("{} channels against {}", c, it.channels));
        }
        if it.target.kind() != kind {
            return clash(format!("{kind:?} target against {:?}", it.target.kind()));
        }
        if (it.height, it.width) != (first.height, first.width) && !pad {
            return clash(format!(
                "images of {}×{} and {}×{} (resize or crop them, or pad the batch)",
                first.width, first.height, it.width, it.height
            ));
        }
        (h, w) = (h.max(it.height), w.max(it.width));
    }
    let n = items.len();
    let same = items.iter().all(|it| (it.height, it.width) == (h, w));
    let pixels = if same {
        let mut pixels = Vec::with_capacity(n * c * h * w);
        items
            .iter()
            .for_each(|it| normalize.extend(it, &mut pixels));
        pixels
    } else {
        let mut pixels = vec![0.0f32; n * c * h * w];
        for (k, it) in items.iter().enumerate() {
            normalize.write(it, &mut pixels[k * c * h * w..(k + 1) * c * h * w], h, w);
        }
        pixels
    };
    let sizes = items.iter().map(|it| [it.height, it.width]).collect();
    let targets = match kind {
        super::TargetKind::None => BatchTargets::None,
        super::TargetKind::Class => BatchTargets::Classes(
            items
                .into_iter()
                .map(|it| match it.target {
                    Target::Class(c) => c,
                    _ => unreachable!("kinds checked above"),
                })
                .collect(),
        ),
        super::TargetKind::Mask => BatchTargets::Masks(
            items
                .into_iter()
                .map(|it| match it.target {
                    Target::Mask(m) => pad_mask(m, h, w),
                    _ => unreachable!("kinds checked above"),
                })
                .collect(),
        ),
        super::TargetKind::Boxes => BatchTargets::Boxes(
            items
                .into_iter()
                .map(|it| match it.target {
                    Target::Boxes(b) => b,
                    _ => unreachable!("kinds checked above"),
                })
                .collect(),
        ),
        super::TargetKind::Captions => BatchTargets::Captions(
            items
                .into_iter()
                .map(|it| match it.target {
                    Target::Captions(c) => c,
                    _ => unreachable!("kinds checked above"),
                })
                .collect(),
        ),
    };
    Ok(Batch {
        images: Tensor::from_vec(pixels, &[n, c, h, w])?,
        targets,
        indices,
        sizes,
    })
}

/// `mask` in the top-left corner of an `h × w` mask of ignored pixels.
fn pad_mask(mask: Mask, h: usize, w: usize) -> Mask {
    if (mask.height, mask.width) == (h, w) {
        return mask;
    }
    let mut data = vec![IGNORE_INDEX; h * w];
    for (y, row) in mask.data.chunks_exact(mask.width).enumerate() {
        data[y * w..y * w + mask.width].copy_from_slice(row);
    }
    Mask {
        height: h,
        width: w,
        data,
    }
}

/// Token sequences padded to a common length: `ids` is `[n, t]` row-major with
/// `t = max(lengths)`, each row its sequence followed by the padding id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    /// `n·t` token ids.
    pub ids: Vec<usize>,
    /// The length of each sequence before padding.
    pub lengths: Vec<usize>,
    /// `t`, the padded length.
    pub max_len: usize,
}

impl Tokens {
    /// `[n, t]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.lengths.len(), self.max_len]
    }

    /// Row `k`: sequence `k` and its padding.
    pub fn row(&self, k: usize) -> &[usize] {
        &self.ids[k * self.max_len..(k + 1) * self.max_len]
    }
}

/// Pads `sequences` with `pad_id` to the longest (captioning batches, which pack or mask
/// by the lengths).
pub fn pad_tokens(sequences: &[Vec<usize>], pad_id: usize) -> Tokens {
    let max_len = sequences.iter().map(Vec::len).max().unwrap_or(0);
    let mut ids = Vec::with_capacity(sequences.len() * max_len);
    for s in sequences {
        ids.extend_from_slice(s);
        ids.extend(std::iter::repeat_n(pad_id, max_len - s.len()));
    }
    Tokens {
        ids,
        lengths: sequences.iter().map(Vec::len).collect(),
        max_len,
    }
}
