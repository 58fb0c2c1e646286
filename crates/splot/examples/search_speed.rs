//! Exact search speed (queries/s): every query of one safetensors file against a gallery
//! in another, each holding `[n, d]` unit vectors under `features` (an index of `splot
//! index`, or vectors written by bench/search_faiss.py). Prints the best of `rounds`
//! timings and writes the top-k rows to `--topk FILE` (safetensors) for bench/search_compare.sh
//! to compare with faiss.
//!
//! `cargo run --release -p splot --example search_speed -- GALLERY QUERIES [--k 10]
//! [--threads 2] [--rounds 3] [--topk FILE]`
use splot::tasks::retrieve::search;
use splot::Tensor;
use std::path::Path;
use std::time::Instant;

fn features(path: &str) -> splot::Result<Tensor> {
    let (t, _) = splot::io::load(Path::new(path))?;
    t.into_iter()
        .find(|(n, _)| n == "features")
        .map(|(_, t)| t)
        .ok_or_else(|| splot::Error::format(path, "no tensor 'features'"))
}

fn main() -> splot::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let k: usize = flag("--k").and_then(|v| v.parse().ok()).unwrap_or(10);
    let threads: usize = flag("--threads").and_then(|v| v.parse().ok()).unwrap_or(2);
    let rounds: usize = flag("--rounds").and_then(|v| v.parse().ok()).unwrap_or(3);
    splot::init_threads(Some(threads));
    let gallery = features(&args[1])?;
    let queries = features(&args[2])?;
    let d = gallery.dim(1);
    let (g, q) = (gallery.to_vec(), queries.to_vec());
    let mut best = f64::INFINITY;
    let mut hits = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        hits = splot::run_in_pool(|| search(&g, &q, d, k));
        best = best.min(t.elapsed().as_secs_f64());
    }
    let nq = queries.dim(0);
    println!(
        "queries_per_s {:.0} ({nq} queries, {} gallery, d {d}, k {k}, {threads} threads, best of {rounds}: {:.3} s)",
        nq as f64 / best,
        gallery.dim(0),
        best
    );
    if let Some(out) = flag("--topk") {
        let rows: Vec<f32> = hits
            .iter()
            .flat_map(|h| h.iter().map(|&(r, _)| r as f32))
            .collect();
        let t = Tensor::from_vec(rows, &[nq, k])?;
        splot::io::save(Path::new(&out), &[("topk".into(), t)], &Default::default())?;
    }
    Ok(())
}
