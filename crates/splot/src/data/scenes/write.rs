//! The files of a digit-scene set, in the layouts of Pascal VOC and COCO, every one written
//! atomically. Under `DIR`, for each split `s` (`train`, `val`) and canvas id
//! `s_NNNNNN`:
//!
//! - `JPEGImages/<id>.png`: the canvas, 8-bit grey PNG (lossless; the VOC reader falls back
//!   from `.jpg` to `.png`);
//! - `SegmentationClass/<id>.png`: the class mask, a palette PNG with VOC's colours (digit
//!   + 1, 0 background, 255 the one-pixel border);
//! - `SegmentationObject/<id>.png`: the instance mask (k + 1 for the k-th annotation of the
//!   canvas, same border), as VOC's own;
//! - `ImageSets/Segmentation/<s>.txt`: the ids of the split, one a line; `classes.txt`:
//!   `background`, `0` … `9`;
//! - `annotations/instances_<s>.json`: COCO instances; image ids `1…N` in canvas order
//!   (`file_name` relative to `JPEGImages/`), one annotation per digit with its tight
//!   `bbox` `[x, y, w, h]` around the visible ink, `area` (visible ink pixels), `iscrowd`
//!   0, `segmentation` as uncompressed RLE (COCO's column-major run lengths) of the
//!   instance mask, and `category_id` = digit + 1, categories named `"0"` … `"9"` (so the
//!   label the COCO reader returns is the VOC mask class); `info` records the seed and size;
//! - `annotations/captions_<s>.json`: COCO captions over the same images, 3 to 5 each.

use super::{check_size, scene_seed, Scene, SceneDigit, Split};
use crate::data::coco::{CocoAnnotation, CocoCategory, CocoFile, CocoImage};
use crate::data::image::{voc_palette, write_image, write_mask};
use crate::data::{ImageDataset, Mnist};
use crate::error::{Error, Result};
use image::{Rgb, RgbImage};
use rayon::prelude::*;
use std::path::Path;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenesConfig {
    /// Canvases in the train split (from MNIST's training digits).
    pub train: usize,
    /// Canvases in the val split (from MNIST's test digits).
    pub val: usize,
    /// Side of every canvas in pixels.
    pub size: usize,
    /// The seed the whole set follows.
    pub seed: u64,
}

impl Default for ScenesConfig {
    /// 1 000 train and 200 val canvases of 128×128, seed 0.
    fn default() -> Self {
        ScenesConfig {
            train: 1000,
            val: 200,
            size: 128,
            seed: 0,
        }
    }
}

impl ScenesConfig {
    /// An error unless both splits have at least one canvas and the size is possible.
    pub fn check(&self) -> Result<()> {
        for (name, n) in [("train", self.train), ("val", self.val)] {
            if n == 0 {
                return Err(Error::config(
                    "digit scenes",
                    format!("0 {name} canvases: each split needs at least one"),
                ));
            }
            if n > 1_000_000 {
                return Err(Error::config(
                    "digit scenes",
                    format!("{n} {name} canvases: at most 1 000 000 per split"),
                ));
            }
        }
        check_size(self.size)
    }

    /// The number of canvases of `split`.
    pub fn count(&self, split: Split) -> usize {
        match split {
            Split::Train => self.train,
            Split::Val => self.val,
        }
    }
}

/// What [`write_scenes`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenesSummary {
    /// Canvases of the train and val splits.
    pub canvases: [usize; 2],
    /// Labelled digits of the train and val splits.
    pub digits: [usize; 2],
    /// How many canvases hold 1, 2, … 5 digits (both splits).
    pub per_count: [usize; 5],
}

/// What the JSON files need of a canvas whose pixels are written.
struct Canvas {
    image: CocoImage,
    digits: Vec<SceneDigit>,
    segmentations: Vec<serde_json::Value>,
    captions: Vec<String>,
}

/// Generates the set described by `config` from the MNIST files in `mnist_dir` (training
/// digits for `train`, test digits for `val`) and writes it under `out` (see the module
/// docs). The arguments are checked before MNIST is read; a missing MNIST folder or file
/// is an error naming it.
pub fn write_scenes(out: &Path, mnist_dir: &Path, config: &ScenesConfig) -> Result<ScenesSummary> {
    config.check()?;
    if !mnist_dir.is_dir() {
        return Err(Error::io(
            mnist_dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no MNIST folder here (the digit scenes are made of MNIST digits; the \
                 repository ships them in data/mnist)",
            ),
        ));
    }
    let train = Mnist::load_train(mnist_dir)?;
    let val = Mnist::load_test(mnist_dir)?;
    write_scenes_from(out, &train, &val, config)
}

/// [`write_scenes`] with the digits of each split given: `train` for the train split and
/// `val` for the val split.
pub fn write_scenes_from(
    out: &Path,
    train: &ImageDataset,
    val: &ImageDataset,
    config: &ScenesConfig,
) -> Result<ScenesSummary> {
    config.check()?;
    for dir in [
        "JPEGImages",
        "SegmentationClass",
        "SegmentationObject",
        "ImageSets/Segmentation",
        "annotations",
    ] {
        let d = out.join(dir);
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
    }
    let mut summary = ScenesSummary {
        canvases: [config.train, config.val],
        digits: [0; 2],
        per_count: [0; 5],
    };
    for (s, split) in Split::ALL.into_iter().enumerate() {
        let digits = if split == Split::Train { train } else { val };
        let canvases: Vec<Canvas> = (0..config.count(split))
            .into_par_iter()
            .map(|i| {
                let scene =
                    Scene::generate(digits, config.size, scene_seed(config.seed, split, i))?;
                let name = format!("{}.png", split.canvas_id(i));
                write_image(&out.join("JPEGImages").join(&name), &scene.image)?;
                write_mask(&out.join("SegmentationClass").join(&name), &scene.mask)?;
                write_mask(&out.join("SegmentationObject").join(&name), &scene.objects)?;
                Ok(Canvas {
                    image: CocoImage {
                        id: i as u64 + 1,
                        file_name: name,
                        width: config.size,
                        height: config.size,
                    },
                    segmentations: (1..=scene.digits.len())
                        .map(|k| rle(&scene.objects, k as u8))
                        .collect(),
                    digits: scene.digits,
                    captions: scene.captions,
                })
            })
            .collect::<Result<_>>()?;
        let ids: String = (0..canvases.len())
            .map(|i| split.canvas_id(i) + "\n")
            .collect();
        let list = out
            .join("ImageSets/Segmentation")
            .join(format!("{}.txt", split.name()));
        crate::io::write_atomic(&list, |w| {
            w.write_all(ids.as_bytes()).map_err(|e| Error::io(&list, e))
        })?;
        let info = serde_json::json!({
            "description": "splot digit scenes: MNIST digits on textured canvases",
            "split": split.name(),
            "seed": config.seed,
            "size": config.size,
            "digits_from": if split == Split::Train { "MNIST training set" } else { "MNIST test set" },
        });
        let mut instances = CocoFile {
            info: Some(info.clone()),
            images: canvases.iter().map(|c| c.image.clone()).collect(),
            annotations: Vec::new(),
            categories: (0..10)
                .map(|d| CocoCategory {
                    id: d + 1,
                    name: d.to_string(),
                    supercategory: Some("digit".into()),
                })
                .collect(),
        };
        let mut captions = CocoFile {
            info: Some(info),
            images: instances.images.clone(),
            annotations: Vec::new(),
            categories: Vec::new(),
        };
        for canvas in canvases {
            let img = &canvas.image;
            summary.digits[s] += canvas.digits.len();
            summary.per_count[canvas.digits.len() - 1] += 1;
            for (d, segmentation) in canvas.digits.iter().zip(canvas.segmentations) {
                let [x1, y1, x2, y2] = d.bbox;
                instances.annotations.push(CocoAnnotation {
                    id: instances.annotations.len() as u64 + 1,
                    image_id: img.id,
                    category_id: Some(d.label as u64 + 1),
                    bbox: Some([x1 as f64, y1 as f64, (x2 - x1) as f64, (y2 - y1) as f64]),
                    area: Some(d.area as f64),
                    iscrowd: Some(0),
                    segmentation: Some(segmentation),
                    caption: None,
                });
            }
            for c in canvas.captions {
                captions.annotations.push(CocoAnnotation {
                    id: captions.annotations.len() as u64 + 1,
                    image_id: img.id,
                    category_id: None,
                    bbox: None,
                    area: None,
                    iscrowd: None,
                    segmentation: None,
                    caption: Some(c),
                });
            }
        }
        let dir = out.join("annotations");
        instances.write(&dir.join(format!("instances_{}.json", split.name())))?;
        captions.write(&dir.join(format!("captions_{}.json", split.name())))?;
    }
    let names = out.join("classes.txt");
    let text: String = std::iter::once("background".to_string())
        .chain((0..10).map(|d| d.to_string()))
        .map(|n| n + "\n")
        .collect();
    crate::io::write_atomic(&names, |w| {
        w.write_all(text.as_bytes())
            .map_err(|e| Error::io(&names, e))
    })?;
    Ok(summary)
}

/// COCO's uncompressed run-length encoding of the pixels of `mask` equal to `value`:
/// `{"size": [h, w], "counts": [...]}`, runs down the columns (column-major), the first
/// run counting pixels outside the object (0 when the first pixel is inside).
pub fn rle(mask: &crate::data::Mask, value: u8) -> serde_json::Value {
    let (h, w) = (mask.height, mask.width);
    let mut counts = Vec::new();
    let (mut inside, mut run) = (false, 0u64);
    for x in 0..w {
        for y in 0..h {
            if (mask.data[y * w + x] == value) != inside {
                counts.push(run);
                (inside, run) = (!inside, 0);
            }
            run += 1;
        }
    }
    counts.push(run);
    serde_json::json!({ "size": [h, w], "counts": counts })
}

/// A picture of scenes for the README: each canvas (grey, its boxes outlined in their
/// class's VOC colour) beside its class mask in VOC's colours, two scenes a row, 4 px
/// white gaps.
pub fn scene_preview(scenes: &[Scene]) -> Result<RgbImage> {
    let Some(first) = scenes.first() else {
        return Err(Error::config("scene_preview", "no scene to draw"));
    };
    let size = first.image.width;
    if let Some(s) = scenes
        .iter()
        .find(|s| s.image.width != size || s.image.height != size)
    {
        return Err(Error::shape(
            "scene_preview",
            format!(
                "scenes of {size}×{size} and {}×{} px",
                s.image.width, s.image.height
            ),
        ));
    }
    let gap = 4;
    let per_row = scenes.len().min(2);
    let rows = scenes.len().div_ceil(per_row);
    let pair = 2 * size + gap;
    let (w, h) = (
        per_row * pair + (per_row - 1) * gap,
        rows * size + (rows - 1) * gap,
    );
    let mut img = RgbImage::from_pixel(w as u32, h as u32, Rgb([255, 255, 255]));
    let palette = voc_palette();
    for (n, scene) in scenes.iter().enumerate() {
        let (x0, y0) = ((n % per_row) * (pair + gap), (n / per_row) * (size + gap));
        let grey = scene.image.plane(0);
        for y in 0..size {
            for x in 0..size {
                let g = grey[y * size + x];
                img.put_pixel((x0 + x) as u32, (y0 + y) as u32, Rgb([g, g, g]));
                let c = palette[scene.mask.data[y * size + x] as usize];
                img.put_pixel((x0 + size + gap + x) as u32, (y0 + y) as u32, Rgb(c));
            }
        }
        for d in &scene.digits {
            let c = Rgb(palette[d.label as usize + 1]);
            let [x1, y1, x2, y2] = d.bbox;
            for x in x1..x2 {
                img.put_pixel((x0 + x) as u32, (y0 + y1) as u32, c);
                img.put_pixel((x0 + x) as u32, (y0 + y2 - 1) as u32, c);
            }
            for y in y1..y2 {
                img.put_pixel((x0 + x1) as u32, (y0 + y) as u32, c);
                img.put_pixel((x0 + x2 - 1) as u32, (y0 + y) as u32, c);
            }
        }
    }
    Ok(img)
}

/// Writes the scenes' background textures as an ImageFolder classification set: `out/train/
/// <texture>/NNNNN.png` (`train` of each of the 5 textures: shaded, mottled, striped,
/// checkered, cluttered) and `out/test/<texture>/` (`test` of each), grey `size × size`,
/// on a dark ground as MNIST's digits are, the clutter digits drawn from MNIST's training
/// digits for train, its test digits for test). A target unrelated to the digits'
/// identity, for transfer learning ("when does it stop paying"). Returns the images written.
pub fn write_textures(
    out: &Path,
    train_digits: &ImageDataset,
    test_digits: &ImageDataset,
    [train, test]: [usize; 2],
    size: usize,
    seed: u64,
) -> Result<usize> {
    check_size(size)?;
    let mut written = 0;
    for (split, count, digits) in [("train", train, train_digits), ("test", test, test_digits)] {
        for (t, texture) in super::Texture::ALL.into_iter().enumerate() {
            let dir = out.join(split).join(texture.adjective());
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            (0..count).into_par_iter().try_for_each(|i| {
                let stream = (t as u64) << 40 | ((split == "test") as u64) << 32 | i as u64;
                let mut rng = crate::Rng::seed(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let band = super::Band::new(true);
                let pixels = super::background::background(&mut rng, size, texture, band, digits)
                    .iter()
                    .map(|&v| v.round().clamp(0.0, 255.0) as u8)
                    .collect();
                let image = crate::data::Image::new(1, size, size, pixels)?;
                write_image(&dir.join(format!("{i:05}.png")), &image)
            })?;
            written += count;
        }
    }
    Ok(written)
}
