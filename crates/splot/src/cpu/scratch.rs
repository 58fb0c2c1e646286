//! Per-thread scratch buffers for kernels (column matrices, regrouped rows): allocated and
//! zeroed once per thread, then reused, so a convolution neither allocates nor clears its
//! work buffers on every call. Each thread keeps its largest buffer for its lifetime.

use std::cell::Cell;
use std::ops::{Deref, DerefMut};

thread_local! {
    static STORE: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// A work buffer of `len` values borrowed from the calling thread's store and given back
/// when dropped. Its contents are left over from earlier use: write before reading.
pub(crate) struct Scratch {
    buf: Vec<f32>,
    len: usize,
}

impl Scratch {
    /// Borrows `len` values (a buffer taken while another is borrowed on the same thread is
    /// a fresh one; the larger is kept when both come back).
    pub(crate) fn take(len: usize) -> Self {
        let mut buf = STORE.with(Cell::take);
        if buf.len() < len {
            buf.resize(len, 0.0);
        }
        Scratch { buf, len }
    }
}

impl Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[..self.len]
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[..self.len]
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        STORE.with(|s| {
            let kept = s.take();
            s.set(if kept.len() > buf.len() { kept } else { buf });
        });
    }
}
