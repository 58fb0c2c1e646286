//! Per-epoch metrics and the run's `metrics.csv`.

use crate::error::{Error, Result};
use crate::io::write_atomic;
use std::path::Path;

/// The numbers of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Learning rate used.
    pub lr: f32,
    /// Mean training loss.
    pub train_loss: f64,
    /// Training accuracy (on the distorted images when augmenting).
    pub train_accuracy: f64,
    /// Mean test loss.
    pub test_loss: f64,
    /// Test accuracy.
    pub test_accuracy: f64,
    /// Wall time of the epoch's training, in seconds.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

/// The header of `metrics.csv`.
pub const CSV_HEADER: &str =
    "epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second";

impl EpochMetrics {
    /// One CSV line (no newline).
    pub fn csv_line(&self) -> String {
        format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.3},{:.1}",
            self.epoch,
            self.lr,
            self.train_loss,
            self.train_accuracy,
            self.test_loss,
            self.test_accuracy,
            self.seconds,
            self.images_per_second
        )
    }

    /// Parses a line written by [`EpochMetrics::csv_line`].
    pub fn parse_csv_line(line: &str) -> Option<EpochMetrics> {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 8 {
            return None;
        }
        Some(EpochMetrics {
            epoch: f[0].parse().ok()?,
            lr: f[1].parse().ok()?,
            train_loss: f[2].parse().ok()?,
            train_accuracy: f[3].parse().ok()?,
            test_loss: f[4].parse().ok()?,
            test_accuracy: f[5].parse().ok()?,
            seconds: f[6].parse().ok()?,
            images_per_second: f[7].parse().ok()?,
        })
    }
}

/// Reads `metrics.csv` (missing file: no epochs).
pub fn read_metrics(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            EpochMetrics::parse_csv_line(l).ok_or_else(|| {
                Error::format(path, format!("line {} is not a metrics row: '{l}'", i + 2))
            })
        })
        .collect()
}

/// Writes all rows to `metrics.csv`, atomically.
pub fn write_metrics(path: &Path, rows: &[EpochMetrics]) -> Result<()> {
    let mut text = String::from(CSV_HEADER);
    text.push('\n');
    for r in rows {
        text.push_str(&r.csv_line());
        text.push('\n');
    }
    write_atomic(path, |w| {
        w.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
    })
}
