//! End to end: the small CNN of `examples/quadrants.rs` must actually learn.

#[path = "../examples/quadrants.rs"]
mod quadrants;

#[test]
fn small_cnn_learns_the_blob_quadrant_task() {
    let (losses, accuracy) = quadrants::train(200, 1, |_, _| {}).unwrap();
    let mean = |s: &[f32]| s.iter().sum::<f32>() / s.len() as f32;
    let (first, last) = (mean(&losses[..20]), mean(&losses[losses.len() - 20..]));
    assert!(last < 0.5 * first, "loss fell only from {first} to {last}");
    assert!(
        accuracy > 0.85,
        "held-out accuracy {accuracy} (chance 0.25)"
    );
}
