//! The workloads of engine part 3's ops, each a name, the function that prepares its run,
//! and its floating-point operations per run (0 where products are not the work). Their
//! PyTorch twins, with the same names, are in `bench/torch_workloads.py` (`OPS`).

#![allow(unused_imports)]

use super::{forward_backward, Runner};
use splot::{Rng, Tensor};
use std::hint::black_box;

/// One entry: name, preparation, floating-point operations per run.
pub type OpWorkload = (&'static str, fn(&mut Rng) -> splot::Result<Runner>, f64);

/// Every op workload.
pub fn workloads() -> Vec<OpWorkload> {
    vec![
        // losses
        (
            "cross_entropy_fwdbwd_21_128",
            cross_entropy_segmentation,
            0.0,
        ),
        // resampling
        // boxes
        // recurrent
    ]
}

/// Segmentation's loss: cross-entropy of `[8, 21, 128, 128]` logits against per-pixel
/// targets, about a tenth of them the ignored 255, forward and backward.
fn cross_entropy_segmentation(rng: &mut Rng) -> splot::Result<Runner> {
    let z = Tensor::randn(&[8, 21, 128, 128], 0.0, 1.0, rng).with_grad();
    let targets: Vec<usize> = (0..8 * 128 * 128)
        .map(|_| {
            if rng.below(10) == 0 {
                255
            } else {
                rng.below(21)
            }
        })
        .collect();
    let cfg = splot::CrossEntropyConfig {
        ignore_index: Some(255),
        ..Default::default()
    };
    forward_backward(move || z.cross_entropy(&targets, &cfg))
}
