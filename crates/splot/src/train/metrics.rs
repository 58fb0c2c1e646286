//! Per-epoch metrics and the run's `metrics.csv`.
//!
//! The columns are `epoch,lr`, then the task's named values — its training statistics as
//! `train_<name>` (`train_loss` first), its evaluation metrics as `test_<name>` — then
//! `seconds,images_per_second`. A classification run writes
//! `epoch,lr,train_loss,train_accuracy,test_loss,test_accuracy,…`, as the MNIST loop did.

use crate::error::{Error, Result};
use crate::io::write_atomic;
use std::path::Path;

/// The numbers of one epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// Epoch number, from 1.
    pub epoch: usize,
    /// Learning rate used (the default parameter group's).
    pub lr: f32,
    /// The task's values by column name (`train_loss`, `train_accuracy`, `test_loss`…),
    /// in column order.
    pub values: Vec<(String, f64)>,
    /// Wall time of the epoch's training, in seconds.
    pub seconds: f64,
    /// Training images per second.
    pub images_per_second: f64,
}

impl EpochMetrics {
    /// The value of column `name` (`"test_accuracy"`), if the task has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Sets column `name` to `value`, adding the column at the end when it is new.
    pub fn set(&mut self, name: &str, value: f64) {
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.values.push((name.to_string(), value)),
        }
    }

    /// Mean training loss (NaN when absent).
    pub fn train_loss(&self) -> f64 {
        self.get("train_loss").unwrap_or(f64::NAN)
    }

    /// The CSV header of rows like this one (no newline).
    pub fn csv_header(&self) -> String {
        let mut cols = vec!["epoch".to_string(), "lr".to_string()];
        cols.extend(self.values.iter().map(|(n, _)| n.clone()));
        cols.extend(["seconds".to_string(), "images_per_second".to_string()]);
        cols.join(",")
    }

    /// One CSV line (no newline).
    pub fn csv_line(&self) -> String {
        let mut line = format!("{},{}", self.epoch, self.lr);
        for (_, v) in &self.values {
            line.push_str(&format!(",{v:.6}"));
        }
        line.push_str(&format!(
            ",{:.3},{:.1}",
            self.seconds, self.images_per_second
        ));
        line
    }

    /// Parses a line written by [`EpochMetrics::csv_line`] under the header `header`.
    pub fn parse_csv_line(header: &[&str], line: &str) -> Option<EpochMetrics> {
        let f: Vec<&str> = line.split(',').collect();
        let n = header.len();
        if f.len() != n || n < 4 || header[..2] != ["epoch", "lr"] {
            return None;
        }
        let values = header[2..n - 2]
            .iter()
            .zip(&f[2..n - 2])
            .map(|(h, v)| Some((h.to_string(), v.parse().ok()?)))
            .collect::<Option<Vec<_>>>()?;
        Some(EpochMetrics {
            epoch: f[0].parse().ok()?,
            lr: f[1].parse().ok()?,
            values,
            seconds: f[n - 2].parse().ok()?,
            images_per_second: f[n - 1].parse().ok()?,
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
    let mut lines = text.lines();
    let header: Vec<&str> = match lines.next() {
        Some(h) => h.trim().split(',').collect(),
        None => return Ok(Vec::new()),
    };
    if header.len() < 4
        || header[..2] != ["epoch", "lr"]
        || header[header.len() - 2..] != ["seconds", "images_per_second"]
    {
        return Err(Error::format(
            path,
            format!(
                "line 1 is not a metrics header (epoch,lr,…,seconds,images_per_second): '{}'",
                header.join(",")
            ),
        ));
    }
    lines
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            EpochMetrics::parse_csv_line(&header, l.trim()).ok_or_else(|| {
                Error::format(path, format!("line {} is not a metrics row: '{l}'", i + 2))
            })
        })
        .collect()
}

/// Writes all rows to `metrics.csv`, atomically, under the first row's header.
pub fn write_metrics(path: &Path, rows: &[EpochMetrics]) -> Result<()> {
    let Some(first) = rows.first() else {
        return write_atomic(path, |w| {
            w.write_all(b"epoch,lr,seconds,images_per_second\n")
                .map_err(|e| Error::io(path, e))
        });
    };
    let mut text = first.csv_header();
    text.push('\n');
    for r in rows {
        text.push_str(&r.csv_line());
        text.push('\n');
    }
    write_atomic(path, |w| {
        w.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
    })
}
