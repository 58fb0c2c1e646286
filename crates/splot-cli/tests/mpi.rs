//! Data-parallel training over MPI (issue 21): `mpirun -n N splot train …` on 1, 2 and 4
//! ranks gives the same losses and metrics as one process with the same global batch, with
//! and without synchronised batch norm; a rank killed mid-run ends the job with an error
//! instead of a hang.
//!
//! Only with the `mpi` feature and Open MPI's `mpirun` on the path:
//! `cargo test --release -p splot-cli --features mpi --test mpi`.
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `mpirun -n ranks splot args…`, one thread per rank, oversubscribed (CI has 2 cores).
fn mpirun(ranks: usize, args: &[&str]) -> Command {
    let mut c = Command::new("mpirun");
    c.args([
        "--oversubscribe",
        "--bind-to",
        "none",
        "-n",
        &ranks.to_string(),
    ])
    .args(["-x", "SPLOT_NUM_THREADS=1"])
    .arg(env!("CARGO_BIN_EXE_splot"))
    .args(args)
    // Open MPI refuses root unless told twice (CI containers run as root)
    .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
    .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    .env("OMPI_MCA_btl_vader_single_copy_mechanism", "none");
    c
}

/// Every epoch's `metrics.csv` row without its timings, as numbers.
fn metrics(dir: &Path) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(dir.join("metrics.csv")).expect("metrics.csv");
    text.lines()
        .skip(1)
        .map(|l| {
            let v: Vec<f64> = l.split(',').map(|x| x.parse().unwrap()).collect();
            v[..v.len() - 2].to_vec()
        })
        .collect()
}

fn train(ranks: usize, model: &str, extra: &[&str], dir: &Path) -> Vec<Vec<f64>> {
    let out = dir.join(format!("{model}-{ranks}-{}", extra.join("")));
    let mut args = vec![
        "train",
        "--model",
        model,
        "--epochs",
        "2",
        "--limit-test",
        "256",
        "--batch-size",
        "32",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    let o = mpirun(ranks, &args).output().expect("run mpirun");
    assert!(
        o.status.success(),
        "{ranks} ranks: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    metrics(&out)
}

fn assert_same(reference: &[Vec<f64>], other: &[Vec<f64>], what: &str) {
    assert_eq!(reference.len(), other.len(), "{what}: epochs");
    for (a, b) in reference.iter().zip(other) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 2e-4 * x.abs().max(1.0),
                "{what}: {a:?}\nagainst one rank's\n{b:?}"
            );
        }
    }
}

#[test]
fn lenet5_on_1_2_4_ranks_learns_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let one = train(1, "lenet5-relu", &["--limit-train", "1024"], dir.path());
    assert!(one[1][2] < one[0][2], "the training loss falls: {one:?}");
    for ranks in [2, 4] {
        let many = train(ranks, "lenet5-relu", &["--limit-train", "1024"], dir.path());
        assert_same(&many, &one, &format!("lenet5-relu on {ranks} ranks"));
    }
}

/// Batch norm's statistics over the global batch: 2 ranks with `--sync-bn` follow one
/// rank's run (ResNet-20, 2 epochs of 4 steps) to float rounding, which grows a little
/// with each step of a batch-norm network (5·10⁻⁶ after 4 steps, 1.3·10⁻⁴ after 8, of the
/// training loss); per-rank statistics, the default, move it 10 to 100 times further.
#[test]
fn sync_batch_norm_on_2_ranks_follows_one_rank() {
    let dir = tempfile::tempdir().unwrap();
    let short = ["--limit-train", "128", "--sync-bn"];
    let one = train(1, "resnet20", &short, dir.path());
    let synced = train(2, "resnet20", &short, dir.path());
    let apart = train(2, "resnet20", &short[..2], dir.path());
    // column 2: the training loss of the epoch
    let gap = |run: &[Vec<f64>]| {
        run.iter()
            .zip(&one)
            .map(|(a, b)| ((a[2] - b[2]) / b[2]).abs())
            .fold(0.0f64, f64::max)
    };
    let (g_sync, g_apart) = (gap(&synced), gap(&apart));
    assert!(
        g_sync < 5e-4,
        "--sync-bn on 2 ranks: {synced:?}\nagainst one rank's\n{one:?}"
    );
    assert!(
        g_apart > 10.0 * g_sync,
        "per-rank statistics ({g_apart:.2e}) should differ more than synchronised ({g_sync:.2e})"
    );
}

#[test]
fn a_killed_rank_ends_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("killed");
    let mut child = mpirun(
        2,
        &[
            "train",
            "--model",
            "lenet5-relu",
            "--epochs",
            "50",
            "--limit-train",
            "4096",
            "--dist-timeout",
            "10",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("run mpirun");
    // wait for the first epoch, then kill one rank (a child of mpirun)
    let start = Instant::now();
    while !out.join("metrics.csv").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no epoch in 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // the ranks are mpirun's children: /proc/PID/stat's fourth field is the parent
    let parent = child.id().to_string();
    let victim = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| {
            let pid = e.ok()?.file_name().into_string().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let after_name = &stat[stat.rfind(')')? + 2..];
            (after_name.split(' ').nth(1)? == parent).then_some(pid)
        })
        .max()
        .expect("a rank");
    let killed_at = Instant::now();
    // the shell's kill builtin: no procps needed
    Command::new("sh")
        .args(["-c", &format!("kill -KILL {victim}")])
        .status()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(60),
            "the job still runs 60 s after a rank was killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
    // what the last epoch saved is whole: it reads back
    assert!(out.join("last.safetensors").exists());
}

#[test]
fn ranks_with_different_configurations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("differ");
    let args = |seed: &'static str| {
        vec![
            env!("CARGO_BIN_EXE_splot").to_string(),
            "train".into(),
            "--model".into(),
            "lenet5-relu".into(),
            "--epochs".into(),
            "1".into(),
            "--limit-train".into(),
            "256".into(),
            "--seed".into(),
            seed.into(),
            "--out".into(),
            out.to_str().unwrap().to_string(),
        ]
    };
    // MPMD: rank 0 and rank 1 with different seeds
    let mut full: Vec<String> = ["--oversubscribe", "--bind-to", "none", "-n", "1"]
        .map(String::from)
        .to_vec();
    full.extend(args("1"));
    full.extend([":", "-n", "1"].map(String::from));
    full.extend(args("2"));
    let mut c = Command::new("mpirun");
    c.args(&full)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1");
    let o = c.output().expect("run mpirun");
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("different configurations") && e.contains("rank(s) [1]"),
        "{e}"
    );
}
