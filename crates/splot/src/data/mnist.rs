//! MNIST: 60 000 training and 10 000 test digits, 28×28 grey, labels 0–9.
//!
//! The four files ship with the repository in `data/mnist/`, so a fresh clone trains
//! offline. Fashion-MNIST uses the same file names and format and loads the same way.
//!
//! ```no_run
//! use splot::data::mnist::Mnist;
//! let mnist = Mnist::load(&Mnist::locate()?)?;
//! assert_eq!((mnist.train.len(), mnist.test.len()), (60_000, 10_000));
//! # Ok::<(), splot::Error>(())
//! ```

use super::dataset::ImageDataset;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Mean of the MNIST training pixels after scaling to `[0, 1]` (torchvision's 0.1307).
pub const MNIST_MEAN: f32 = 0.1307;
/// Standard deviation of the MNIST training pixels after scaling to `[0, 1]` (0.3081).
pub const MNIST_STD: f32 = 0.3081;

/// File name of the training images.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
/// File name of the training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
/// File name of the test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
/// File name of the test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";

/// The MNIST training and test sets.
#[derive(Clone, Debug)]
pub struct Mnist {
    /// The 60 000 training digits.
    pub train: ImageDataset,
    /// The 10 000 test digits.
    pub test: ImageDataset,
}

impl Mnist {
    /// Reads the four standard files from `dir` (see [`TRAIN_IMAGES`] and its siblings;
    /// each may also be there uncompressed, without `.gz`). Checks that images are
    /// 3-dimensional, labels 1-dimensional, the counts of each pair equal and every label
    /// a digit 0–9; errors name the file.
    pub fn load(dir: &Path) -> Result<Mnist> {
        Ok(Mnist {
            train: Mnist::load_train(dir)?,
            test: Mnist::load_test(dir)?,
        })
    }

    /// Reads only the training set from `dir`, with the checks of [`Mnist::load`].
    pub fn load_train(dir: &Path) -> Result<ImageDataset> {
        load_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)
    }

    /// Reads only the test set from `dir`, with the checks of [`Mnist::load`].
    pub fn load_test(dir: &Path) -> Result<ImageDataset> {
        load_pair(dir, TEST_IMAGES, TEST_LABELS)
    }

    /// The repository's `data/mnist`, found from where this crate was compiled
    /// (`CARGO_MANIFEST_DIR/../../data/mnist`); it may not exist on another machine.
    pub fn default_dir() -> PathBuf {
        repository_data_dir("mnist")
    }

    /// Where the MNIST files are: `./data/mnist` under the current directory when that
    /// folder exists, else [`Mnist::default_dir`] when it exists; otherwise an
    /// [`Error::Io`] (not found) naming both places.
    pub fn locate() -> Result<PathBuf> {
        locate_data_dir("mnist", "MNIST")
    }
}

/// The repository's `data/<name>`, found from where this crate was compiled.
pub(crate) fn repository_data_dir(name: &str) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    match manifest.ancestors().nth(2) {
        Some(root) => root.join("data").join(name),
        None => manifest.join("../../data").join(name),
    }
}

/// `./data/<name>` when that folder exists, else the repository's; otherwise an
/// [`Error::Io`] naming both places (`what` names the data set).
pub(crate) fn locate_data_dir(name: &str, what: &str) -> Result<PathBuf> {
    let local = Path::new("data").join(name);
    if local.is_dir() {
        return Ok(local);
    }
    let default = repository_data_dir(name);
    if default.is_dir() {
        return Ok(default);
    }
    Err(Error::io(
        local,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no {what} folder here, nor at {} (the repository's data/{name})",
                default.display()
            ),
        ),
    ))
}

/// The UCI optical digits (1 797 8×8 images, `data/uci-digits/`, CC BY 4.0; see its
/// README): 989 for training and 808 for testing, stored as MNIST's IDX files.
#[derive(Clone, Debug)]
pub struct UciDigits {
    /// The 989 training digits.
    pub train: ImageDataset,
    /// The 808 test digits.
    pub test: ImageDataset,
}

impl UciDigits {
    /// Reads both splits from `dir` (gzipped or raw IDX).
    pub fn load(dir: &Path) -> Result<UciDigits> {
        Ok(UciDigits {
            train: load_pair(
                dir,
                "train-images-idx3-ubyte.gz",
                "train-labels-idx1-ubyte.gz",
            )?,
            test: load_pair(
                dir,
                "test-images-idx3-ubyte.gz",
                "test-labels-idx1-ubyte.gz",
            )?,
        })
    }

    /// Where the files are: `./data/uci-digits`, else the repository's.
    pub fn locate() -> Result<PathBuf> {
        locate_data_dir("uci-digits", "UCI digits")
    }
}

fn find_file(dir: &Path, name: &str) -> PathBuf {
    let gz = dir.join(name);
    if !gz.exists() {
        if let Some(raw) = name.strip_suffix(".gz").map(|n| dir.join(n)) {
            if raw.exists() {
                return raw;
            }
        }
    }
    gz
}

/// Reads one images/labels pair and checks that every label is a digit.
fn load_pair(dir: &Path, images: &str, labels: &str) -> Result<ImageDataset> {
    let labels_path = find_file(dir, labels);
    let set = ImageDataset::from_idx_files(&find_file(dir, images), &labels_path)?;
    if let Some((i, &l)) = set.labels().iter().enumerate().find(|&(_, &l)| l >= 10) {
        return Err(Error::format(
            labels_path,
            format!("label {l} at index {i} is not a digit 0–9"),
        ));
    }
    Ok(set)
}
