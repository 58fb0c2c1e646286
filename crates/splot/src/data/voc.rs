//! Pascal VOC segmentation (`VOCdevkit/VOC2012/` as torchvision's `VOCSegmentation` reads
//! it): `ImageSets/Segmentation/<split>.txt` lists the image ids, `JPEGImages/<id>.jpg` the
//! images and `SegmentationClass/<id>.png` their masks (palette PNGs: index = class, 255 =
//! the ignored border). The class names are VOC's 21 unless the root holds a
//! `classes.txt` (one name per line, background first), as splot's digit scenes do.

use super::sample::TargetKind;
use super::source::{Entry, EntryTarget, FileDataset};
use crate::error::{Error, Result};
use std::path::Path;

/// Pascal VOC's 21 classes, background first.
pub const VOC_CLASSES: [&str; 21] = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
];

/// Reads split `split` (`train`, `val`, `trainval`…) of a VOC segmentation directory.
/// Errors name the list file and the line of an id whose image or mask is missing.
pub fn voc_segmentation(root: &Path, split: &str) -> Result<FileDataset> {
    let list = root
        .join("ImageSets")
        .join("Segmentation")
        .join(format!("{split}.txt"));
    let text = std::fs::read_to_string(&list).map_err(|e| Error::io(&list, e))?;
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let id = line.trim();
        if id.is_empty() {
            continue;
        }
        let jpg = root.join("JPEGImages").join(format!("{id}.jpg"));
        let image = if jpg.is_file() {
            jpg.clone()
        } else {
            root.join("JPEGImages").join(format!("{id}.png"))
        };
        if !image.is_file() {
            return Err(Error::format(
                &list,
                format!("line {}: no image {} (nor .png)", n + 1, jpg.display()),
            ));
        }
        let mask = root.join("SegmentationClass").join(format!("{id}.png"));
        if !mask.is_file() {
            return Err(Error::format(
                &list,
                format!("line {}: no mask {}", n + 1, mask.display()),
            ));
        }
        entries.push(Entry {
            image,
            target: EntryTarget::MaskFile(mask),
            id: entries.len() as u64,
        });
    }
    if entries.is_empty() {
        return Err(Error::format(&list, "lists no image id"));
    }
    let names = root.join("classes.txt");
    let classes = if names.is_file() {
        let text = std::fs::read_to_string(&names).map_err(|e| Error::io(&names, e))?;
        let classes: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if classes.is_empty() || classes.len() > 255 {
            return Err(Error::format(
                &names,
                format!("{} class names: need 1 to 255", classes.len()),
            ));
        }
        classes
    } else {
        VOC_CLASSES.iter().map(|s| s.to_string()).collect()
    };
    Ok(FileDataset {
        entries,
        classes,
        kind: TargetKind::Mask,
    })
}
