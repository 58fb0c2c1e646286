//! Classification layouts: torchvision's ImageFolder (`root/<class>/**/*.png|jpg`) and a
//! CSV of `path,label`.
//!
//! ImageFolder follows `torchvision.datasets.ImageFolder`: the classes are the
//! sub-directories of `root`, sorted by name (code point order, as Python's `sorted`), class
//! `k` the `k`-th; each class's files are found recursively, directory by directory in
//! sorted order, the names in each directory sorted; files with other extensions are
//! skipped; a class without any image is an error (torchvision raises one too).

use super::sample::TargetKind;
use super::source::{Entry, EntryTarget, FileDataset};
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The image file extensions the readers take (compared without case).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];

/// Whether `path` has one of [`IMAGE_EXTENSIONS`].
pub fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<(String, PathBuf, bool)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        // Follows symbolic links, as torchvision's os.walk(followlinks=True).
        let is_dir = path.is_dir();
        out.push((
            entry.file_name().to_string_lossy().into_owned(),
            path,
            is_dir,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The image files under `dir`, recursively, in torchvision's order: `sorted(os.walk(dir))`
/// visits directories by their path, and each directory's files by name.
fn images_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        let d = dirs[i].clone();
        for (_, path, is_dir) in read_dir_sorted(&d)? {
            if is_dir {
                dirs.push(path);
            }
        }
        i += 1;
    }
    dirs.sort_by(|a, b| a.to_string_lossy().cmp(&b.to_string_lossy()));
    let mut files = Vec::new();
    for d in &dirs {
        for (_, path, is_dir) in read_dir_sorted(d)? {
            if !is_dir && is_image_file(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Every image under `root` (recursively, in ImageFolder's order), without targets: a
/// folder of pictures (style transfer's content images). An empty folder is an error.
pub fn image_files(root: &Path) -> Result<FileDataset> {
    if !root.is_dir() {
        return Err(Error::format(root, "not a directory of pictures"));
    }
    let files = images_under(root)?;
    if files.is_empty() {
        return Err(Error::format(
            root,
            format!("holds no image ({} files)", IMAGE_EXTENSIONS.join(", ")),
        ));
    }
    Ok(FileDataset {
        entries: files
            .into_iter()
            .enumerate()
            .map(|(i, image)| Entry {
                image,
                target: EntryTarget::None,
                id: i as u64,
            })
            .collect(),
        classes: Vec::new(),
        kind: TargetKind::None,
    })
}

/// Reads an ImageFolder directory (see the module documentation).
pub fn image_folder(root: &Path) -> Result<FileDataset> {
    let classes: Vec<(String, PathBuf)> = read_dir_sorted(root)?
        .into_iter()
        .filter(|(_, _, is_dir)| *is_dir)
        .map(|(name, path, _)| (name, path))
        .collect();
    if classes.is_empty() {
        return Err(Error::format(
            root,
            "no class folder: an ImageFolder directory holds one sub-directory of images per class",
        ));
    }
    let mut entries = Vec::new();
    for (k, (name, dir)) in classes.iter().enumerate() {
        let files = images_under(dir)?;
        if files.is_empty() {
            return Err(Error::format(
                dir,
                format!(
                    "class folder '{name}' holds no image ({} files)",
                    IMAGE_EXTENSIONS.join(", ")
                ),
            ));
        }
        for image in files {
            entries.push(Entry {
                image,
                target: EntryTarget::Class(k),
                id: entries.len() as u64,
            });
        }
    }
    Ok(FileDataset {
        entries,
        classes: classes.into_iter().map(|(n, _)| n).collect(),
        kind: TargetKind::Class,
    })
}

/// Reads a CSV of `path,label` lines (a first line `path,label` is a header and skipped;
/// empty lines and lines starting with `#` too). Paths are relative to the CSV's directory
/// unless absolute; the label is after the last comma, so paths may hold commas. Labels
/// that are all non-negative integers are the classes themselves (names `"0"`, `"1"`, …);
/// otherwise they are class names, numbered in sorted order as ImageFolder's. Errors name
/// the CSV file and the line: a missing field, a missing image file, a non-image file.
pub fn csv_list(csv: &Path) -> Result<FileDataset> {
    let text = std::fs::read_to_string(csv).map_err(|e| Error::io(csv, e))?;
    let base = csv.parent().unwrap_or(Path::new(""));
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || (n == 0 && line == "path,label") {
            continue;
        }
        let Some((path, label)) = line.rsplit_once(',') else {
            return Err(Error::format(
                csv,
                format!("line {}: '{line}' is not 'path,label'", n + 1),
            ));
        };
        let (path, label) = (path.trim(), label.trim());
        if path.is_empty() || label.is_empty() {
            return Err(Error::format(
                csv,
                format!("line {}: '{line}' has an empty path or label", n + 1),
            ));
        }
        let image = base.join(path);
        if !image.is_file() {
            return Err(Error::format(
                csv,
                format!(
                    "line {}: image file {} does not exist",
                    n + 1,
                    image.display()
                ),
            ));
        }
        if !is_image_file(&image) {
            return Err(Error::format(
                csv,
                format!(
                    "line {}: {} is not a {} file",
                    n + 1,
                    image.display(),
                    IMAGE_EXTENSIONS.join("/")
                ),
            ));
        }
        rows.push((image, label.to_string()));
    }
    if rows.is_empty() {
        return Err(Error::format(csv, "no 'path,label' line"));
    }
    let numeric: Option<Vec<usize>> = rows.iter().map(|(_, l)| l.parse().ok()).collect();
    let (labels, classes) = match numeric {
        Some(labels) => {
            let top = labels.iter().max().copied().unwrap_or(0);
            let classes = (0..=top).map(|c| c.to_string()).collect();
            (labels, classes)
        }
        None => {
            let names: BTreeMap<&str, usize> = rows.iter().map(|(_, l)| (l.as_str(), 0)).collect();
            let index: BTreeMap<&str, usize> =
                names.keys().enumerate().map(|(i, &n)| (n, i)).collect();
            let labels = rows.iter().map(|(_, l)| index[l.as_str()]).collect();
            (labels, index.keys().map(|s| s.to_string()).collect())
        }
    };
    let entries = rows
        .into_iter()
        .zip(labels)
        .enumerate()
        .map(|(i, ((image, _), label))| Entry {
            image,
            target: EntryTarget::Class(label),
            id: i as u64,
        })
        .collect();
    Ok(FileDataset {
        entries,
        classes,
        kind: TargetKind::Class,
    })
}
