//! Rough LeNet-5 training throughput (images/s) on random data: `cargo run --release -p splot --example lenet_speed -- [batch] [steps] [model]`.
use splot::nn;
use splot::optim::{Optimizer, Sgd};
use splot::{Mode, Module, Rng, Tensor};
use std::time::Instant;

#[path = "../benches/workloads/alloc.rs"]
mod alloc;

fn main() -> splot::Result<()> {
    alloc::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let batch: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(64);
    let steps: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(50);
    let model = args.get(3).cloned().unwrap_or("lenet5".into());
    splot::init_threads(None);
    let (net, _) = splot::models::build(&model, 0.0, 0)?;
    let mut opt = Sgd::new(nn::parameters(&net), 0.01).momentum(0.9)?;
    let mut rng = Rng::seed(1);
    let x = Tensor::randn(&[batch, 1, 32, 32], 0.0, 1.0, &mut rng);
    let y: Vec<usize> = (0..batch).map(|i| i % 10).collect();
    let mut run = |n: usize| -> splot::Result<f64> {
        let t = Instant::now();
        for _ in 0..n {
            let step = || -> splot::Result<()> {
                let loss = net
                    .forward(&x, Mode::Train)?
                    .cross_entropy(&y, &Default::default())?;
                opt.step(&loss.backward()?)
            };
            // The whole step on the pool: no thread switch per parallel op.
            splot::run_in_pool(step)?;
        }
        Ok(t.elapsed().as_secs_f64())
    };
    run(5)?;
    let secs = run(steps)?;
    println!(
        "{model} batch {batch}: {:.0} images/s ({:.2} ms/step)",
        (steps * batch) as f64 / secs,
        1e3 * secs / steps as f64
    );
    Ok(())
}
