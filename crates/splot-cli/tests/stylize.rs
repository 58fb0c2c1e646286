//! `splot stylize`: a short run on the repository's photographs, the side-by-side picture,
//! intermediate images, and clear errors.

use std::path::Path;
use std::process::{Command, Output};

fn splot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splot"))
        .args(args)
        .output()
        .expect("run splot")
}

fn photo(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/photos")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn stylize_a_photograph_with_a_grey_texture() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cat.png");
    let o = splot(&[
        "stylize",
        &photo("chelsea.jpg"),
        &photo("brick.png"),
        "--out",
        out.to_str().unwrap(),
        "--steps",
        "12",
        "--size",
        "64",
        "--every",
        "6",
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{stderr}");
    assert!(
        stderr.contains("brick.png: grey") && stderr.contains("resized to the content's 64×42"),
        "{stderr}"
    );
    assert!(stdout.contains("× lower"), "{stdout}");
    // at 42 rows: content 64, the square style 42 (its own shape), result 64, two gaps of 8
    let png = image::open(&out).unwrap();
    assert_eq!((png.width(), png.height()), (64 + 42 + 64 + 16, 42));
    for step in [6, 12] {
        let p = dir.path().join(format!("cat_step{step}.png"));
        assert_eq!(image::open(&p).unwrap().width(), 64, "{}", p.display());
    }
    let plain = dir.path().join("plain.png");
    let o = splot(&[
        "stylize",
        &photo("chelsea.jpg"),
        &photo("coffee.jpg"),
        "--out",
        plain.to_str().unwrap(),
        "--steps",
        "3",
        "--size",
        "32",
        "--plain",
        "--optimizer",
        "adam",
        "--preserve-colour",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&plain).unwrap().width(), 32);
}

#[test]
fn stylize_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    let o = splot(&[
        "stylize",
        &photo("chelsea.jpg"),
        &photo("brick.png"),
        "--out",
        out.to_str().unwrap(),
        "--size",
        "12",
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert!(e.contains("needs at least 16×16"), "{e}");
    let missing = dir.path().join("nope.png");
    let o = splot(&[
        "stylize",
        &photo("chelsea.jpg"),
        missing.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.png"));
    let weights = dir.path().join("w.safetensors");
    let (lenet, _) = splot::models::build("lenet5", 0.0, 0).unwrap();
    splot::io::save_module(&weights, &lenet, &Default::default()).unwrap();
    let o = splot(&[
        "stylize",
        &photo("chelsea.jpg"),
        &photo("brick.png"),
        "--out",
        out.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
    ]);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("w.safetensors") && e.contains("features.0.weight"),
        "{e}"
    );
    assert!(!out.exists(), "nothing written on error");
}

#[test]
fn the_feed_forward_network_learns_and_stylises_in_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let photos = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/photos");
    let o = splot(&[
        "stylize",
        "train",
        "--style",
        &photo("hubble_deep_field.jpg"),
        "--data",
        photos.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--crop",
        "32",
        "--epochs",
        "6",
        "--batch-size",
        "3",
        "--lr",
        "3e-4",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let losses: Vec<f64> = splot::train::read_metrics(&run.join("metrics.csv"))
        .unwrap()
        .iter()
        .map(|m| m.get("test_loss").unwrap())
        .collect();
    assert_eq!(losses.len(), 6);
    assert!(
        losses[5] < losses[0] / 2.0,
        "the perceptual loss on held-out crops: {losses:?}"
    );
    let out = dir.path().join("astronaut.png");
    let o = splot(&[
        "stylize",
        "apply",
        run.join("best.safetensors").to_str().unwrap(),
        &photo("astronaut.jpg"),
        "--out",
        out.to_str().unwrap(),
        "--size",
        "40",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(image::open(&out).unwrap().width(), 40 * 2 + 8);
    // a checkpoint of another kind
    let o = splot(&[
        "stylize",
        "apply",
        run.join("metrics.csv").to_str().unwrap(),
        &photo("astronaut.jpg"),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
}
