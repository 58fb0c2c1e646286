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
        // resampling
        ("upsample_bilinear_fwd_21_64", upsample_bilinear_fwd, 0.0),
        (
            "upsample_bilinear_fwdbwd_21_64",
            upsample_bilinear_fwdbwd,
            0.0,
        ),
        // boxes
        // recurrent
    ]
}

// ---------------------------------------------------------------- resampling

/// FCN's score upsampling: `[8, 21, 64, 64]` to `[8, 21, 128, 128]`, bilinear ×2 with
/// `align_corners=false`.
fn upsample_input(rng: &mut Rng) -> (Tensor, splot::InterpolateConfig) {
    let x = Tensor::randn(&[8, 21, 64, 64], 0.0, 1.0, rng);
    (x, splot::InterpolateConfig::scale(2.0).bilinear(false))
}

/// The forward pass under no_grad.
fn upsample_bilinear_fwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (x, cfg) = upsample_input(rng);
    Ok(Box::new(move || {
        let y = splot::run_in_pool(|| splot::no_grad(|| x.interpolate(&cfg)))?;
        black_box(y);
        Ok(())
    }))
}

/// Forward, then the input's gradient from an all-ones output gradient.
fn upsample_bilinear_fwdbwd(rng: &mut Rng) -> splot::Result<Runner> {
    let (x, cfg) = upsample_input(rng);
    let x = x.with_grad();
    forward_backward(move || x.interpolate(&cfg))
}
