//! IDX reading (raw, gzipped, and every way a file can be broken) and MNIST.

use flate2::{write::GzEncoder, Compression};
use splot::data::{IdxArray, ImageDataset, Mnist};
use std::io::Write;
use std::path::{Path, PathBuf};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// IDX bytes with the given type code and dimensions, followed by `data`.
fn idx_bytes(code: u8, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, code, dims.len() as u8];
    dims.iter()
        .for_each(|d| out.extend_from_slice(&d.to_be_bytes()));
    out.extend_from_slice(data);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Reads `bytes` written as `name` and returns the error message, which must name the file.
fn read_error(name: &str, bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), name, bytes);
    let msg = IdxArray::read(&path).unwrap_err().to_string();
    assert!(msg.contains(name), "error does not name the file: {msg}");
    msg
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "{msg:?} lacks {p:?}");
    }
}

#[test]
fn idx_round_trips_raw_and_gzipped_and_detects_gzip_by_content() {
    let dir = tempfile::tempdir().unwrap();
    let a = IdxArray::new(vec![3, 2, 4], (0..24).collect()).unwrap();
    for (name, gz) in [("a.idx", false), ("a.idx.gz", true)] {
        let path = dir.path().join(name);
        a.write(&path, gz).unwrap();
        assert_eq!(std::fs::read(&path).unwrap().starts_with(&[0x1f, 0x8b]), gz);
        assert_eq!(IdxArray::read(&path).unwrap(), a);
    }
    // Names that lie: gzip content without .gz, raw content with .gz.
    let lying_gz = write(dir.path(), "plain-name", &gzip(&a.to_bytes()));
    let lying_raw = write(dir.path(), "raw.gz", &a.to_bytes());
    assert_eq!(IdxArray::read(&lying_gz).unwrap(), a);
    assert_eq!(IdxArray::read(&lying_raw).unwrap(), a);
    assert_eq!(
        IdxArray::read(&write(dir.path(), "one.idx", &idx_bytes(8, &[1], &[9]))).unwrap(),
        IdxArray {
            dims: vec![1],
            data: vec![9]
        }
    );
}

#[test]
fn idx_truncated_files_say_expected_and_found() {
    let good = idx_bytes(8, &[3, 2, 4], &[7; 24]);
    let msg = read_error("short.idx", &good[..good.len() - 5]);
    assert_contains(&msg, &["truncated", "24", "19"]);
    let msg = read_error("short.idx.gz", &gzip(&good[..good.len() - 5]));
    assert_contains(&msg, &["truncated", "24", "19"]);
    let msg = read_error("header.idx", &good[..9]);
    assert_contains(&msg, &["header", "16", "9"]);
    assert_contains(&read_error("tiny.idx", &[0, 0]), &["magic"]);
    assert_contains(&read_error("empty.idx", &[]), &["magic"]);
    // A gzip stream cut in the middle.
    let gz = gzip(&good);
    let msg = read_error("cut.gz", &gz[..gz.len() / 2]);
    assert_contains(&msg, &["gzip", "truncated"]);
}

#[test]
fn idx_bad_magic_type_and_trailing_bytes_are_errors() {
    let mut bad_magic = idx_bytes(8, &[2], &[1, 2]);
    bad_magic[0] = 0x12;
    assert_contains(
        &read_error("magic.idx", &bad_magic),
        &["magic", "12 00 08 01"],
    );
    let msg = read_error("float.idx", &idx_bytes(0x0D, &[1], &[0; 4]));
    assert_contains(&msg, &["0x0d", "32-bit float", "unsupported"]);
    assert_contains(
        &read_error("odd.idx", &idx_bytes(0x42, &[1], &[0])),
        &["unknown", "0x42"],
    );
    assert_contains(
        &read_error("zero.idx", &idx_bytes(8, &[], &[])),
        &["0 dimensions"],
    );
    let msg = read_error("long.idx", &idx_bytes(8, &[2, 2], &[0; 7]));
    assert_contains(&msg, &["3 trailing bytes", "4 data bytes"]);
    let msg = read_error("long.idx.gz", &gzip(&idx_bytes(8, &[2, 2], &[0; 7])));
    assert_contains(&msg, &["3 trailing bytes"]);
    let huge = read_error("huge.idx", &idx_bytes(8, &[u32::MAX; 4], &[]));
    assert_contains(&huge, &["overflow"]);
}

#[test]
fn idx_corrupt_gzip_and_missing_files_are_errors_naming_the_file() {
    let mut gz = gzip(&idx_bytes(8, &[64], &(0..64).collect::<Vec<u8>>()));
    let mid = gz.len() / 2;
    gz[mid..mid + 4].iter_mut().for_each(|b| *b ^= 0xA5);
    assert_contains(&read_error("corrupt.gz", &gz), &["gzip"]);
    let msg = read_error(
        "header.gz",
        &[0x1f, 0x8b, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 1, 2],
    );
    assert_contains(&msg, &["gzip"]);
    let err = IdxArray::read(Path::new("/no/such/dir/missing.idx")).unwrap_err();
    assert!(matches!(err, splot::Error::Io { .. }), "{err:?}");
    assert_contains(&err.to_string(), &["missing.idx"]);
}

/// Writes an MNIST-named test pair with `images` images of 4×4 and `labels` labels.
fn write_mnist_test_pair(dir: &Path, images: u32, labels: u32, label_value: u8) {
    let pixels = vec![0u8; images as usize * 16];
    write(
        dir,
        "t10k-images-idx3-ubyte.gz",
        &gzip(&idx_bytes(8, &[images, 4, 4], &pixels)),
    );
    let l = vec![label_value; labels as usize];
    write(dir, "t10k-labels-idx1-ubyte", &idx_bytes(8, &[labels], &l));
}

#[test]
fn mnist_checks_counts_dimensions_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    write_mnist_test_pair(dir.path(), 60, 59, 3);
    let msg = Mnist::load_test(dir.path()).unwrap_err().to_string();
    assert_contains(
        &msg,
        &[
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte",
            "60 images",
            "59 labels",
        ],
    );
    write_mnist_test_pair(dir.path(), 60, 60, 3);
    let set = Mnist::load_test(dir.path()).unwrap(); // the raw labels file is found too
    assert_eq!((set.len(), set.rows(), set.cols()), (60, 4, 4));
    write_mnist_test_pair(dir.path(), 5, 5, 10);
    let msg = Mnist::load_test(dir.path()).unwrap_err().to_string();
    assert_contains(&msg, &["t10k-labels-idx1-ubyte", "label 10 at index 0"]);
    let images = write(dir.path(), "flat-images", &idx_bytes(8, &[5, 16], &[0; 80]));
    let labels = write(dir.path(), "flat-labels", &idx_bytes(8, &[5], &[0; 5]));
    let msg = ImageDataset::from_idx_files(&images, &labels)
        .unwrap_err()
        .to_string();
    assert_contains(&msg, &["flat-images", "3 dimensions", "[5, 16]"]);
    let msg = ImageDataset::from_idx_files(&labels, &images)
        .unwrap_err()
        .to_string();
    assert_contains(&msg, &["flat-labels", "3 dimensions"]);
    let cube = write(dir.path(), "cube", &idx_bytes(8, &[5, 1, 1], &[0; 5]));
    let msg = ImageDataset::from_idx_files(&cube, &cube)
        .unwrap_err()
        .to_string();
    assert_contains(&msg, &["cube", "1 dimension", "[5, 1, 1]"]);
    let msg = Mnist::load_train(dir.path()).unwrap_err().to_string();
    assert_contains(&msg, &["train-images-idx3-ubyte.gz"]);
}

#[test]
fn the_committed_mnist_test_set_reads() {
    let dir = Mnist::locate().unwrap();
    assert!(
        dir.join("train-images-idx3-ubyte.gz").is_file(),
        "{}",
        dir.display()
    );
    let test = Mnist::load_test(&dir).unwrap();
    assert_eq!((test.len(), test.rows(), test.cols()), (10_000, 28, 28));
    let hist = test.label_histogram();
    assert_eq!(hist.len(), 10);
    assert_eq!(hist.iter().sum::<usize>(), 10_000);
    assert!(hist.iter().all(|&c| (800..1200).contains(&c)), "{hist:?}");
    assert_eq!(test.label(0), 7);
    assert_eq!(test.image(0).iter().copied().max(), Some(255));
    assert!(Mnist::default_dir()
        .join("t10k-images-idx3-ubyte.gz")
        .is_file());
}
