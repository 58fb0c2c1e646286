//! What a dataset yields: a [`Sample`], an [`Image`] (bytes, 1 or 3 channels, any size) and a
//! [`Target`] of one kind — a class, a mask, boxes with classes, captions, or nothing.
//!
//! Legend: `c` channels, `h` height, `w` width (pixels); boxes are `[x1, y1, x2, y2]` in
//! pixels of the image they belong to, as torchvision's detection models take them (`x2`
//! and `y2` are the right and bottom edges: a box over pixel columns 3..=5 has `x1 = 3`,
//! `x2 = 6`).

use crate::error::{Error, Result};

/// The class of a mask pixel that losses and metrics ignore (Pascal VOC's object borders).
pub const IGNORE_INDEX: u8 = 255;

/// An image as bytes, planar (`[c, h, w]`, channel after channel), 0 dark to 255 bright;
/// 1 channel (grey) or 3 (red, green, blue).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Channels: 1 or 3.
    pub channels: usize,
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// `channels·height·width` bytes, planar.
    pub data: Vec<u8>,
}

impl Image {
    /// An image from planar bytes; an error unless there are 1 or 3 channels, at least one
    /// pixel, and exactly `c·h·w` bytes.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<u8>) -> Result<Image> {
        if !matches!(channels, 1 | 3) || height == 0 || width == 0 {
            return Err(Error::shape(
                "Image",
                format!("{channels} channels of {height}×{width} pixels: need 1 or 3 channels and at least one pixel"),
            ));
        }
        if data.len() != channels * height * width {
            return Err(Error::shape(
                "Image",
                format!(
                    "{channels}×{height}×{width} needs {} bytes, got {}",
                    channels * height * width,
                    data.len()
                ),
            ));
        }
        Ok(Image {
            channels,
            height,
            width,
            data,
        })
    }

    /// An image from interleaved bytes (`[h, w, c]`, as image files and `image` store them).
    pub fn from_interleaved(
        channels: usize,
        height: usize,
        width: usize,
        hwc: &[u8],
    ) -> Result<Image> {
        if hwc.len() != channels * height * width {
            return Err(Error::shape(
                "Image::from_interleaved",
                format!(
                    "{height}×{width}×{channels} needs {} bytes, got {}",
                    channels * height * width,
                    hwc.len()
                ),
            ));
        }
        let plane = height * width;
        let mut data = vec![0u8; hwc.len()];
        if channels == 3 {
            let (r, rest) = data.split_at_mut(plane);
            let (g, b) = rest.split_at_mut(plane);
            for (((px, r), g), b) in hwc.chunks_exact(3).zip(r).zip(g).zip(b) {
                (*r, *g, *b) = (px[0], px[1], px[2]);
            }
        } else {
            for (p, px) in hwc.chunks_exact(channels.max(1)).enumerate() {
                for (ch, &v) in px.iter().enumerate() {
                    data[ch * plane + p] = v;
                }
            }
        }
        Image::new(channels, height, width, data)
    }

    /// The bytes interleaved (`[h, w, c]`), for writing files.
    pub fn to_interleaved(&self) -> Vec<u8> {
        let plane = self.height * self.width;
        let mut out = vec![0u8; self.data.len()];
        for ch in 0..self.channels {
            for p in 0..plane {
                out[p * self.channels + ch] = self.data[ch * plane + p];
            }
        }
        out
    }

    /// Channel `ch` as `h·w` bytes.
    pub fn plane(&self, ch: usize) -> &[u8] {
        let plane = self.height * self.width;
        &self.data[ch * plane..(ch + 1) * plane]
    }

    /// The same picture with `channels` channels: grey is repeated into red, green and
    /// blue; colour becomes grey by ITU-R 601 luma (`0.299 R + 0.587 G + 0.114 B`, as PIL's
    /// `convert("L")`).
    pub fn with_channels(self, channels: usize) -> Result<Image> {
        match (self.channels, channels) {
            (a, b) if a == b => Ok(self),
            (1, 3) => {
                let mut data = Vec::with_capacity(self.data.len() * 3);
                for _ in 0..3 {
                    data.extend_from_slice(&self.data);
                }
                Image::new(3, self.height, self.width, data)
            }
            (3, 1) => {
                let (r, g, b) = (self.plane(0), self.plane(1), self.plane(2));
                // PIL: L = (R·299 + G·587 + B·114) / 1000, rounded half up.
                let data = (0..r.len())
                    .map(|i| {
                        let l = r[i] as u32 * 299 + g[i] as u32 * 587 + b[i] as u32 * 114;
                        ((l + 500) / 1000) as u8
                    })
                    .collect();
                Image::new(1, self.height, self.width, data)
            }
            (_, c) => Err(Error::config(
                "Image::with_channels",
                format!("cannot make {c} channels (1 or 3) from {}", self.channels),
            )),
        }
    }
}

/// A class per pixel (`h·w` bytes, row-major); [`IGNORE_INDEX`] (255) marks pixels to ignore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    /// Height in pixels.
    pub height: usize,
    /// Width in pixels.
    pub width: usize,
    /// One class per pixel.
    pub data: Vec<u8>,
}

impl Mask {
    /// A mask from its classes; an error when the size does not fit.
    pub fn new(height: usize, width: usize, data: Vec<u8>) -> Result<Mask> {
        if data.len() != height * width || height == 0 || width == 0 {
            return Err(Error::shape(
                "Mask",
                format!(
                    "{height}×{width} mask needs {} classes, got {}",
                    height * width,
                    data.len()
                ),
            ));
        }
        Ok(Mask {
            height,
            width,
            data,
        })
    }
}

/// Boxes with a class each (a detection target): `[x1, y1, x2, y2]` in pixels, as torchvision.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Boxes {
    /// One `[x1, y1, x2, y2]` per object.
    pub boxes: Vec<[f32; 4]>,
    /// The class of each object (COCO's `category_id`; 0 is the background).
    pub labels: Vec<usize>,
    /// Whether each box covers a crowd (COCO's `iscrowd`), which evaluation ignores.
    pub iscrowd: Vec<bool>,
}

impl Boxes {
    /// Number of objects.
    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    /// True when there is no object.
    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }

    /// Adds one object.
    pub fn push(&mut self, bbox: [f32; 4], label: usize, iscrowd: bool) {
        self.boxes.push(bbox);
        self.labels.push(label);
        self.iscrowd.push(iscrowd);
    }

    /// Keeps the objects for which `keep(box)` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&[f32; 4]) -> bool) {
        let flags: Vec<bool> = self.boxes.iter().map(&mut keep).collect();
        let mut i = 0;
        self.boxes.retain(|_| (flags[i], i += 1).0);
        i = 0;
        self.labels.retain(|_| (flags[i], i += 1).0);
        i = 0;
        self.iscrowd.retain(|_| (flags[i], i += 1).0);
    }

    /// Checks every box against an image of `width × height`: finite, `x1 ≤ x2`, `y1 ≤ y2`,
    /// and inside the image (within `slack` pixels, which are then clipped away). `what`
    /// names the entry in the error.
    pub fn check(&mut self, width: usize, height: usize, slack: f32, what: &str) -> Result<()> {
        let (w, h) = (width as f32, height as f32);
        for (k, b) in self.boxes.iter_mut().enumerate() {
            let [x1, y1, x2, y2] = *b;
            if !b.iter().all(|v| v.is_finite()) || x2 < x1 || y2 < y1 {
                return Err(Error::config(
                    "Boxes",
                    format!(
                        "{what}: box {k} {b:?} is not [x1, y1, x2, y2] with x1 ≤ x2 and y1 ≤ y2"
                    ),
                ));
            }
            if x1 < -slack || y1 < -slack || x2 > w + slack || y2 > h + slack {
                return Err(Error::config(
                    "Boxes",
                    format!("{what}: box {k} {b:?} lies outside its {width}×{height} image"),
                ));
            }
            *b = [x1.max(0.0), y1.max(0.0), x2.min(w), y2.min(h)];
        }
        Ok(())
    }
}

/// The kind of target a dataset yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// No target (style transfer's content images, retrieval galleries).
    None,
    /// A class index.
    Class,
    /// A class per pixel.
    Mask,
    /// Boxes with classes.
    Boxes,
    /// Captions (several per image).
    Captions,
}

/// The target of one sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// No target.
    None,
    /// A class index.
    Class(usize),
    /// A class per pixel, the image's size.
    Mask(Mask),
    /// Boxes with classes.
    Boxes(Boxes),
    /// The captions of the image (COCO has five per image).
    Captions(Vec<String>),
}

impl Target {
    /// Its kind.
    pub fn kind(&self) -> TargetKind {
        match self {
            Target::None => TargetKind::None,
            Target::Class(_) => TargetKind::Class,
            Target::Mask(_) => TargetKind::Mask,
            Target::Boxes(_) => TargetKind::Boxes,
            Target::Captions(_) => TargetKind::Captions,
        }
    }
}

/// One element of a dataset: an image and its target, with an id (COCO's `image_id`, or
/// the index) for evaluation and error messages.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The picture.
    pub image: Image,
    /// What should be predicted for it.
    pub target: Target,
    /// The image's id in its dataset.
    pub id: u64,
}
