//! Sizes that cannot abort the process: every size a user controls (padding, input shapes,
//! layer widths, resize and interpolation targets) goes through [`check_shape`] before
//! anything of that size is allocated. The element count is a checked product (no
//! wrap-around, no "capacity overflow" panic), and a tensor larger than the machine's
//! memory is an [`Error::TooLarge`] naming the op, the shape and the bytes it would need,
//! instead of an allocation failure that aborts (or an overcommitted one that gets the
//! process killed later).
//!
//! The limit is the machine's physical memory (`MemTotal` of `/proc/meminfo`; the whole
//! address space elsewhere), or `SPLOT_MAX_TENSOR_BYTES` when set.

use crate::error::{Error, Result};
use std::sync::OnceLock;

/// Bytes of one element (f32).
pub const ELEMENT_BYTES: u64 = 4;

/// The product of `shape`, or `None` if it does not fit a `usize`.
pub fn checked_numel(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// The largest tensor, in bytes, that splot allocates: `SPLOT_MAX_TENSOR_BYTES` if set,
/// else the machine's physical memory (read once).
pub fn max_tensor_bytes() -> u64 {
    static LIMIT: OnceLock<u64> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("SPLOT_MAX_TENSOR_BYTES")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .or_else(physical_memory)
            .unwrap_or(isize::MAX as u64)
    })
}

/// `MemTotal` of `/proc/meminfo` in bytes (Linux), else `None`.
fn physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The bytes of a tensor of `shape` (f32), exactly, in 128 bits (no shape of `usize`
/// dimensions overflows it for up to four dimensions; longer ones saturate).
pub fn shape_bytes(shape: &[usize]) -> u128 {
    shape
        .iter()
        .try_fold(ELEMENT_BYTES as u128, |acc, &d| acc.checked_mul(d as u128))
        .unwrap_or(u128::MAX)
}

/// `1.6e17` bytes → `"160 PB"`: three significant digits with B, kB, MB, GB, TB, PB, EB;
/// beyond, in powers of ten (`"3.2e40 bytes"`).
pub fn format_bytes(bytes: u128) -> String {
    if bytes == u128::MAX {
        return "more than 2^128 bytes".into();
    }
    if bytes >= 10u128.pow(21) {
        return format!("{:.1e} bytes", bytes as f64);
    }
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", units[u])
    } else if v >= 10.0 {
        format!("{v:.1} {}", units[u])
    } else {
        format!("{v:.2} {}", units[u])
    }
}

/// The element count of a tensor of `shape` that `op` is about to allocate, after checking
/// that it can be allocated: the product does not overflow and its bytes do not exceed
/// [`max_tensor_bytes`]. The error names `op`, the shape and the bytes.
pub fn check_shape(op: &'static str, shape: &[usize]) -> Result<usize> {
    check_shape_within(op, shape, max_tensor_bytes())
}

/// [`check_shape`] against an explicit limit in bytes.
pub fn check_shape_within(op: &'static str, shape: &[usize], limit: u64) -> Result<usize> {
    let bytes = shape_bytes(shape);
    match checked_numel(shape) {
        Some(n) if bytes <= limit as u128 => Ok(n),
        _ => Err(Error::TooLarge {
            op,
            shape: shape.to_vec(),
            bytes,
            limit,
        }),
    }
}

/// `a + b`, or an error naming `op` and `what` overflowed (sizes from user input).
pub fn add(op: &'static str, what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_add(b).ok_or_else(|| overflow(op, what))
}

/// `a · b`, or an error naming `op` and `what` overflowed.
pub fn mul(op: &'static str, what: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| overflow(op, what))
}

fn overflow(op: &'static str, what: &str) -> Error {
    Error::config(op, format!("{what} overflows: the sizes are too large"))
}

/// A vector of `len` copies of `value` for `op`'s tensor of `shape` (whose product is
/// `len`), checked by [`check_shape`] first; an allocation the system refuses is an
/// [`Error::TooLarge`] too, never an abort.
pub fn filled(op: &'static str, shape: &[usize], value: f32) -> Result<Vec<f32>> {
    let len = check_shape(op, shape)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::TooLarge {
        op,
        shape: shape.to_vec(),
        bytes: shape_bytes(shape),
        limit: max_tensor_bytes(),
    })?;
    v.resize(len, value);
    Ok(v)
}
