//! Inference time of a zoo network: `cargo run --release -p splot --example zoo_speed -- MODEL BATCH [RUNS]`.
//! Prints "<model> batch <b>: <ms> ms/batch, <images/s> images/s" (best of RUNS after a warm-up).
use splot::{Mode, Module, Rng, Tensor};
use std::time::Instant;

#[path = "../benches/workloads/alloc.rs"]
mod alloc;

fn main() -> splot::Result<()> {
    alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let model = args.get(1).cloned().unwrap_or("resnet18".into());
    let batch: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(1);
    let runs: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(5);
    splot::init_threads(None);
    let (net, input) = splot::models::build(&model, 0.0, 0)?;
    let x = Tensor::randn(
        &[batch, input[0], input[1], input[2]],
        0.0,
        1.0,
        &mut Rng::seed(1),
    );
    let once = || -> splot::Result<f64> {
        let t = Instant::now();
        splot::run_in_pool(|| splot::no_grad(|| net.forward(&x, Mode::Eval)))?;
        Ok(t.elapsed().as_secs_f64())
    };
    once()?;
    let best = (0..runs)
        .map(|_| once())
        .collect::<splot::Result<Vec<_>>>()?
        .into_iter()
        .fold(f64::MAX, f64::min);
    println!(
        "{model} batch {batch}: {:.1} ms/batch, {:.1} images/s",
        1e3 * best,
        batch as f64 / best
    );
    Ok(())
}
