//! Times one benchmark workload (the registry in `benches/workloads/mod.rs`), the splot
//! side of `bench/compare.sh`:
//! `cargo run --release -p splot --example workload -- NAME [--reps N] [--warmup N] [--threads N]`
//! or `... -- --list` for the names.
//!
//! Sets the workload up, runs it `--warmup` times (default 2), then `--reps` times (default
//! 10) and prints one line: `name <name> ms <median ms per run> gflops <GFLOP/s at the
//! median, or 0 where products are not the work>`. Threads: `--threads`, else
//! `SPLOT_NUM_THREADS`, else every core.
use std::time::Instant;

#[path = "../benches/workloads/mod.rs"]
mod workloads;

fn usage() -> ! {
    eprintln!("usage: workload NAME [--reps N] [--warmup N] [--threads N] | workload --list");
    std::process::exit(2)
}

fn main() -> splot::Result<()> {
    workloads::alloc::keep_freed_memory();
    let mut name = None;
    let (mut reps, mut warmup, mut threads) = (10usize, 2usize, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || -> usize {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--list" => {
                workloads::all().iter().for_each(|w| println!("{}", w.name));
                return Ok(());
            }
            "--reps" => reps = number().max(1),
            "--warmup" => warmup = number(),
            "--threads" => threads = Some(number()),
            _ if arg.starts_with('-') || name.is_some() => usage(),
            _ => name = Some(arg),
        }
    }
    let name = name.unwrap_or_else(|| usage());
    let Some(workload) = workloads::find(&name) else {
        eprintln!("unknown workload {name:?}; `workload --list` names them");
        std::process::exit(2)
    };
    splot::init_threads(threads);
    let flops = workload.flops()?;
    let mut run = workload.prepare()?;
    for _ in 0..warmup {
        run()?;
    }
    let mut ms = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        run()?;
        ms.push(1e3 * t.elapsed().as_secs_f64());
    }
    ms.sort_by(f64::total_cmp);
    let median = if reps % 2 == 1 {
        ms[reps / 2]
    } else {
        (ms[reps / 2 - 1] + ms[reps / 2]) / 2.0
    };
    let gflops = flops / (median * 1e6);
    println!("name {name} ms {median:.3} gflops {gflops:.1}");
    Ok(())
}
