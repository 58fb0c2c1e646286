//! COCO annotation files: instances (boxes with categories) and captions, read as
//! `pycocotools` and torchvision's `CocoDetection`/`CocoCaptions` read them, and written in
//! the same format (splot's digit scenes).
//!
//! - Images are served in increasing `id` order (pycocotools' `sorted(coco.imgs)`), each
//!   from `images_dir/file_name`; images without annotations are kept.
//! - Instances: `bbox` `[x, y, w, h]` becomes `[x, y, x + w, y + h]`; boxes of zero width or
//!   height are dropped (as torchvision's detection references do); the label is the
//!   `category_id` itself (torchvision's convention: 0 is the background, so class names
//!   are indexed by category id, gaps named `N/A`); `iscrowd` is kept.
//! - Errors name the file and the entry: an annotation that references an unknown image or
//!   category id, a box with negative width or height or outside its image (by more than
//!   one pixel; smaller overhangs are clipped), a duplicate id, a missing image file.

use super::sample::{Boxes, TargetKind};
use super::source::{Entry, EntryTarget, FileDataset};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One `images` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoImage {
    /// Image id.
    pub id: u64,
    /// File name, relative to the images directory.
    pub file_name: String,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
}

/// One `categories` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoCategory {
    /// Category id (the label).
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Its super-category, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supercategory: Option<String>,
}

/// One `annotations` entry: an object (instances files) or a caption (captions files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CocoAnnotation {
    /// Annotation id.
    pub id: u64,
    /// The image it belongs to.
    pub image_id: u64,
    /// The object's category (instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category_id: Option<u64>,
    /// `[x, y, width, height]` in pixels (instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bbox: Option<[f64; 4]>,
    /// Area of the object's mask in pixels (instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub area: Option<f64>,
    /// 1 for a crowd region (instances).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iscrowd: Option<u8>,
    /// Polygons or run-length encoding (instances), kept as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segmentation: Option<serde_json::Value>,
    /// The sentence (captions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
}

/// A COCO annotation file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CocoFile {
    /// Free-form description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    /// The images.
    pub images: Vec<CocoImage>,
    /// The annotations.
    #[serde(default)]
    pub annotations: Vec<CocoAnnotation>,
    /// The categories (instances files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<CocoCategory>,
}

impl CocoFile {
    /// Parses a file; errors name it, with the line and column of a syntax error.
    pub fn read(path: &Path) -> Result<CocoFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::format(path, format!("not a COCO annotation file: {e}")))
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, |w| {
            serde_json::to_writer(w, self)
                .map_err(|e| Error::format(path, format!("cannot write JSON: {e}")))
        })
    }

    /// The images by id, in id order; an error naming `path` for a duplicate id.
    fn images_by_id(&self, path: &Path) -> Result<BTreeMap<u64, &CocoImage>> {
        let mut map = BTreeMap::new();
        for img in &self.images {
            if map.insert(img.id, img).is_some() {
                return Err(Error::format(
                    path,
                    format!("image id {} appears twice", img.id),
                ));
            }
        }
        Ok(map)
    }
}

/// The entries of `images`, one per image in id order, each with its target, after checking
/// that the image file exists.
fn entries(
    path: &Path,
    images_dir: &Path,
    images: &BTreeMap<u64, &CocoImage>,
    mut target: impl FnMut(u64) -> EntryTarget,
) -> Result<Vec<Entry>> {
    let mut out = Vec::with_capacity(images.len());
    for (&id, img) in images {
        let file = images_dir.join(&img.file_name);
        if !file.is_file() {
            return Err(Error::format(
                path,
                format!("image {id}: file {} does not exist", file.display()),
            ));
        }
        out.push(Entry {
            image: file,
            target: target(id),
            id,
        });
    }
    Ok(out)
}

/// Reads a COCO instances file (`instances_train2017.json`) over the images in `images_dir`.
pub fn coco_instances(images_dir: &Path, annotations: &Path) -> Result<FileDataset> {
    let file = CocoFile::read(annotations)?;
    let images = file.images_by_id(annotations)?;
    let mut names: BTreeMap<u64, &str> = BTreeMap::new();
    for c in &file.categories {
        if names.insert(c.id, &c.name).is_some() {
            return Err(Error::format(
                annotations,
                format!("category id {} appears twice", c.id),
            ));
        }
    }
    let mut boxes: HashMap<u64, Boxes> = HashMap::new();
    for a in &file.annotations {
        let what = format!("annotation {} (image {})", a.id, a.image_id);
        let img = images.get(&a.image_id).ok_or_else(|| {
            Error::format(
                annotations,
                format!(
                    "{what} refers to image id {}, which 'images' does not list",
                    a.image_id
                ),
            )
        })?;
        let cat = a
            .category_id
            .ok_or_else(|| Error::format(annotations, format!("{what} has no category_id")))?;
        if !names.contains_key(&cat) {
            return Err(Error::format(
                annotations,
                format!("{what} refers to category id {cat}, which 'categories' does not list"),
            ));
        }
        let [x, y, w, h] = a
            .bbox
            .ok_or_else(|| Error::format(annotations, format!("{what} has no bbox")))?;
        let mut one = Boxes::default();
        one.push(
            [x as f32, y as f32, (x + w) as f32, (y + h) as f32],
            cat as usize,
            a.iscrowd.unwrap_or(0) != 0,
        );
        one.check(img.width, img.height, 1.0, &what)
            .map_err(|e| Error::format(annotations, e.to_string()))?;
        if w > 0.0 && h > 0.0 {
            let b = boxes.entry(a.image_id).or_default();
            b.push(one.boxes[0], one.labels[0], one.iscrowd[0]);
        }
    }
    let entries = entries(annotations, images_dir, &images, |id| {
        EntryTarget::Boxes(boxes.remove(&id).unwrap_or_default())
    })?;
    let top = names.keys().next_back().map_or(0, |&m| m as usize);
    let classes = (0..=top)
        .map(|c| match names.get(&(c as u64)) {
            Some(n) => n.to_string(),
            None if c == 0 => "__background__".to_string(),
            None => "N/A".to_string(),
        })
        .collect();
    Ok(FileDataset {
        entries,
        classes,
        kind: TargetKind::Boxes,
    })
}

/// Reads a COCO captions file (`captions_train2017.json`) over the images in `images_dir`:
/// each image with all its captions, in the file's order.
pub fn coco_captions(images_dir: &Path, annotations: &Path) -> Result<FileDataset> {
    let file = CocoFile::read(annotations)?;
    let images = file.images_by_id(annotations)?;
    let mut captions: HashMap<u64, Vec<String>> = HashMap::new();
    for a in &file.annotations {
        if !images.contains_key(&a.image_id) {
            return Err(Error::format(
                annotations,
                format!(
                    "annotation {} refers to image id {}, which 'images' does not list",
                    a.id, a.image_id
                ),
            ));
        }
        let text = a.caption.clone().ok_or_else(|| {
            Error::format(annotations, format!("annotation {} has no caption", a.id))
        })?;
        captions.entry(a.image_id).or_default().push(text);
    }
    let entries = entries(annotations, images_dir, &images, |id| {
        EntryTarget::Captions(captions.remove(&id).unwrap_or_default())
    })?;
    Ok(FileDataset {
        entries,
        classes: Vec::new(),
        kind: TargetKind::Captions,
    })
}
