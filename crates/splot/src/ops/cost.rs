//! Counting multiply-accumulates (MACs): `conv2d`, `conv_transpose2d` and `linear` add
//! the products they compute to a per-thread counter, which [`count_multiply_adds`]
//! reads around a closure (for `splot summary`). Other ops (pooling, normalisation,
//! activations) are not counted, as is the custom in the papers' and tools' tables.
//!
//! - `conv2d`: `n · oc · oh · ow · (c/groups) · kh · kw`
//! - `conv_transpose2d`: the same products as the convolution it is the adjoint of
//! - `linear`: `n · in · out`

use std::cell::Cell;

thread_local! {
    static MULTIPLY_ADDS: Cell<u64> = const { Cell::new(0) };
}

/// Adds `count` multiply-accumulates to this thread's counter.
pub(crate) fn add_multiply_adds(count: usize) {
    MULTIPLY_ADDS.with(|m| m.set(m.get().saturating_add(count as u64)));
}

/// Runs `f` and returns its result with the multiply-accumulates the counted ops it
/// called on this thread computed. Calls nest: an outer count includes the inner ones.
pub fn count_multiply_adds<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = MULTIPLY_ADDS.with(|m| m.replace(0));
    let result = f();
    let counted = MULTIPLY_ADDS.with(|m| m.replace(before.saturating_add(m.get())));
    (result, counted)
}
