//! Gatys et al.'s style transfer speed: seconds per evaluation of the loss and its gradient
//! (VGG19 forward to conv5_1 and backward to the pixels) inside L-BFGS, and peak memory.
//!
//! `cargo run --release -p splot --example style_speed -- CONTENT.png STYLE.png [--steps 10]
//! [--threads 2]` (pictures used at their own size; bench/style_compare.sh writes 512×512 ones)
use splot::tasks::style::{read_pixels, stylize, StyleConfig, Vgg19Features};
use std::path::Path;
use std::time::Instant;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() -> splot::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let steps: usize = flag("--steps").and_then(|v| v.parse().ok()).unwrap_or(10);
    let threads: usize = flag("--threads").and_then(|v| v.parse().ok()).unwrap_or(2);
    splot::init_threads(Some(threads));
    let (content, _) = read_pixels(Path::new(&args[1]), None)?;
    let (style, _) = read_pixels(Path::new(&args[2]), None)?;
    let net = Vgg19Features::new(true, 0)?;
    let config = StyleConfig {
        steps,
        ..Default::default()
    };
    let mut evals = 0usize;
    let mut last = 0f32;
    let start = Instant::now();
    splot::run_in_pool(|| {
        stylize(&net, &content, &style, &config, &mut |p| {
            evals += 1;
            last = p.losses[3];
            Ok(())
        })
    })?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "seconds_per_eval {:.4} ({evals} evaluations in {steps} L-BFGS iterations, {:.4} s per iteration, {}×{}, {threads} threads, final loss {last:.4e}) peak_rss_mib {:.0}",
        secs / evals as f64,
        secs / steps as f64,
        content.dim(3),
        content.dim(2),
        peak_rss_mib()
    );
    Ok(())
}
