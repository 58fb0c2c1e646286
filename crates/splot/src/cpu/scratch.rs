//! Per-thread scratch buffers for kernels (column matrices, regrouped rows, transforms):
//! allocated and zeroed once per thread, then reused, so a convolution neither allocates
//! nor clears its work buffers on every call. Each thread keeps as many buffers as it has
//! held at once (a kernel's buffer and those of the tasks it runs inside it), each the
//! largest it has needed.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

thread_local! {
    static STORE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A work buffer of `len` values borrowed from the calling thread's store and given back
/// when dropped. Its contents are left over from earlier use: write before reading.
pub(crate) struct Scratch {
    buf: Vec<f32>,
    len: usize,
}

impl Scratch {
    /// Borrows `len` values: the smallest stored buffer that holds them, else the largest,
    /// grown (a fresh one when the store is empty).
    pub(crate) fn take(len: usize) -> Self {
        let mut buf = STORE.with(|s| {
            let mut s = s.borrow_mut();
            let fits = (0..s.len())
                .filter(|&i| s[i].len() >= len)
                .min_by_key(|&i| s[i].len());
            let pick = fits.or_else(|| (0..s.len()).max_by_key(|&i| s[i].len()));
            pick.map(|i| s.swap_remove(i)).unwrap_or_default()
        });
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
        // A thread that is being torn down has no store left to keep it in.
        let _ = STORE.try_with(|s| s.borrow_mut().push(buf));
    }
}
