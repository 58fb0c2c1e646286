//! Small synthetic image tasks that a CNN can learn in seconds, for examples and tests.

use crate::tensor::{Rng, Tensor};

/// `n` grey `size × size` images of noise (σ 0.5) with one Gaussian blob of height 0.8, and the quadrant
/// that holds the blob's centre as the label (0 top-left, 1 top-right, 2 bottom-left,
/// 3 bottom-right). Returns `([n, 1, size, size], labels)`. `size` must be at least 8.
pub fn blob_quadrants(n: usize, size: usize, rng: &mut Rng) -> (Tensor, Vec<usize>) {
    assert!(size >= 8, "blob_quadrants needs images of at least 8×8");
    let half = size / 2;
    let mut pixels = vec![0.0f32; n * size * size];
    let mut labels = Vec::with_capacity(n);
    for img in pixels.chunks_mut(size * size) {
        let label = rng.below(4);
        // Centre at least 1 pixel inside its quadrant so the label is unambiguous.
        let (r0, c0) = ((label / 2) * half, (label % 2) * half);
        let cy = (r0 + 1 + rng.below(half - 2)) as f32;
        let cx = (c0 + 1 + rng.below(half - 2)) as f32;
        let sigma = rng.uniform(1.0, 2.0);
        for y in 0..size {
            for x in 0..size {
                let d2 = (y as f32 - cy).powi(2) + (x as f32 - cx).powi(2);
                img[y * size + x] =
                    0.8 * (-d2 / (2.0 * sigma * sigma)).exp() + rng.normal(0.0, 0.5);
            }
        }
        labels.push(label);
    }
    let images = Tensor::from_vec(pixels, &[n, 1, size, size]).expect("shape matches");
    (images, labels)
}
