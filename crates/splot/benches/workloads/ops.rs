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
        // boxes
        // recurrent
    ]
}
