//! `splot classify train|eval|predict` on the layouts users have (an ImageFolder built from
//! MNIST digits written as PNGs, UCI digits' IDX files), and `splot train` as its shorthand,
//! unchanged for the README's first command.

use splot::data::image::write_image;
use splot::data::{Image, ImageDataset, Mnist};
use std::path::Path;
use std::process::{Command, Output};

fn splot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splot"))
        .args(args)
        .output()
        .expect("run splot")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes the first `n` digits of `set` as `dir/digit<label>/<i>.png`.
fn write_folder(dir: &Path, set: &ImageDataset, n: usize) {
    for i in 0..n {
        let class = dir.join(format!("digit{}", set.label(i)));
        std::fs::create_dir_all(&class).unwrap();
        let image = Image::new(1, set.rows(), set.cols(), set.image(i).to_vec()).unwrap();
        write_image(&class.join(format!("{i:05}.png")), &image).unwrap();
    }
}

/// Writes the first `n` digits of `set` as `dir/digit<label>/<i>.png`, every other one
/// enlarged to 36×36 (nearest neighbour) and every third one in colour (an orange tint).
fn write_mixed_folder(dir: &Path, set: &ImageDataset, n: usize) {
    let (rows, cols) = (set.rows(), set.cols());
    for i in 0..n {
        let class = dir.join(format!("digit{}", set.label(i)));
        std::fs::create_dir_all(&class).unwrap();
        let side = if i % 2 == 0 { 28 } else { 36 };
        let grey: Vec<u8> = (0..side * side)
            .map(|k| set.image(i)[(k / side) * rows / side * cols + (k % side) * cols / side])
            .collect();
        let image = if i % 3 == 0 {
            let tint = |f: f32| grey.iter().map(move |&v| (v as f32 * f) as u8);
            let data = tint(1.0).chain(tint(0.7)).chain(tint(0.3)).collect();
            Image::new(3, side, side, data).unwrap()
        } else {
            Image::new(1, side, side, grey).unwrap()
        };
        write_image(&class.join(format!("{i:05}.png")), &image).unwrap();
    }
}

/// The `test_accuracy` of the last row of a run's metrics.csv.
fn test_accuracy(run: &Path) -> f64 {
    let rows = splot::train::read_metrics(&run.join("metrics.csv")).unwrap();
    rows.last().unwrap().get("test_accuracy").unwrap()
}

#[test]
fn classify_train_on_an_image_folder_learns_and_eval_names_its_classes() {
    let mnist = Mnist::load(&Mnist::default_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("digits");
    write_folder(&data.join("train"), &mnist.train, 1500);
    write_folder(&data.join("val"), &mnist.test, 300);
    let run = dir.path().join("run");
    let o = splot(&[
        "--threads",
        "2",
        "classify",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "lenet5-relu",
        "--optimizer",
        "adam",
        "--lr",
        "0.002",
        "--epochs",
        "2",
        "--label-smoothing",
        "0.05",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("ImageFolder"),
        "{}",
        text(&o.stderr)
    );
    let accuracy = test_accuracy(&run);
    eprintln!("ImageFolder of 1 500 MNIST PNGs, 2 epochs: test accuracy {accuracy}");
    assert!(accuracy > 0.7, "test accuracy {accuracy} (chance 0.1)");
    let best = run.join("best.safetensors");
    let o = splot(&[
        "classify",
        "eval",
        best.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("top-5") && out.contains("digit7:") && out.contains("on 300 images"),
        "{out}"
    );
    // predict prints the folder's class names
    let png = data.join("val/digit7");
    let first = std::fs::read_dir(&png)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let o = splot(&[
        "classify",
        "predict",
        best.to_str().unwrap(),
        first.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("digit"), "{}", text(&o.stdout));
    // a folder with no val/ or test/ is a clear error
    std::fs::rename(data.join("val"), data.join("elsewhere")).unwrap();
    let o = splot(&[
        "classify",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--out",
        dir.path().join("r2").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("val/"), "{}", text(&o.stderr));
}

#[test]
fn classify_train_reads_an_image_folder_of_mixed_sizes_and_colours() {
    let mnist = Mnist::load(&Mnist::default_dir()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("mixed");
    write_mixed_folder(&data.join("train"), &mnist.train, 1500);
    write_mixed_folder(&data.join("val"), &mnist.test, 300);
    let sizes: std::collections::BTreeSet<(u32, u32, bool)> = ["00000", "00001", "00003"]
        .iter()
        .map(|stem| {
            let path = std::fs::read_dir(data.join("train"))
                .unwrap()
                .map(|d| d.unwrap().path().join(format!("{stem}.png")))
                .find(|p| p.exists())
                .unwrap();
            let image = splot::data::image::read_image(&path).unwrap();
            (image.width as u32, image.height as u32, image.channels == 3)
        })
        .collect();
    assert_eq!(
        sizes,
        [(28, 28, true), (36, 36, false), (36, 36, true)].into(),
        "the folder mixes sizes and colours"
    );
    let run = dir.path().join("run");
    let o = splot(&[
        "--threads",
        "2",
        "classify",
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        "lenet5-relu",
        "--optimizer",
        "adam",
        "--lr",
        "0.002",
        "--epochs",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let accuracy = test_accuracy(&run);
    eprintln!("ImageFolder of 1 500 MNIST PNGs at 28×28 and 36×36, grey and RGB, 2 epochs: test accuracy {accuracy}");
    assert!(accuracy > 0.7, "test accuracy {accuracy} (chance 0.1)");
    let o = splot(&[
        "classify",
        "eval",
        run.join("best.safetensors").to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("on 300 images"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn classify_train_reads_uci_digits_and_a_zoo_network_takes_num_classes() {
    let uci = splot::data::UciDigits::locate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("uci");
    let o = splot(&[
        "--threads",
        "2",
        "classify",
        "train",
        "--data",
        uci.to_str().unwrap(),
        "--optimizer",
        "adam",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--clip-grad-norm",
        "5",
        "--group",
        "output.*:0.003:0",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let accuracy = test_accuracy(&run);
    eprintln!("UCI digits, LeNet-5, 3 epochs: test accuracy {accuracy}");
    assert!(
        accuracy > 0.5,
        "UCI digits test accuracy {accuracy} (chance 0.1)"
    );
    // a zoo network with its head replaced, frozen stem, a few MNIST steps
    let run = dir.path().join("zoo");
    let o = splot(&[
        "--threads",
        "2",
        "classify",
        "train",
        "--model",
        "resnet20",
        "--num-classes",
        "12",
        "--freeze",
        "conv1.*",
        "--epochs",
        "1",
        "--limit-train",
        "64",
        "--limit-test",
        "32",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("12 classes"),
        "{}",
        text(&o.stderr)
    );
    let o = splot(&[
        "classify",
        "train",
        "--num-classes",
        "3",
        "--out",
        dir.path().join("few").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("below the data's 10 classes"),
        "{}",
        text(&o.stderr)
    );
}

/// The README's first command, shortened: the same numbers as the MNIST-only loop gave
/// (recorded at commit 5334a79 with 2 threads).
#[test]
fn splot_train_is_unchanged_as_the_classification_shorthand() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("lenet5");
    let o = splot(&[
        "--threads",
        "2",
        "train",
        "--model",
        "lenet5",
        "--epochs",
        "1",
        "--limit-train",
        "2000",
        "--limit-test",
        "500",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("epoch 1/1: lr 0.03000 | train loss 0.9871 acc 68.30 % | test loss 0.5308 acc 82.80 % (error 17.20 %)"),
        "{out}"
    );
    assert!(out.contains("done: best test accuracy 82.80 %"), "{out}");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    assert!(
        csv.contains("\n1,0.03,0.987125,0.683000,0.530837,0.828000,"),
        "{csv}"
    );
}

#[test]
fn skip_bad_counts_names_and_skips_an_undecodable_image() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("digits");
    let mnist = Mnist::load(&Mnist::locate().unwrap()).unwrap();
    write_folder(&data.join("train"), &mnist.train, 200);
    write_folder(&data.join("val"), &mnist.test, 300);
    let bad = data.join("train/digit3/broken.png");
    std::fs::write(&bad, b"\x89PNG\r\n\x1a\nnot an image").unwrap();
    let run = dir.path().join("run");
    let args = |skip: bool| {
        let mut a = vec![
            "classify",
            "train",
            "--data",
            data.to_str().unwrap(),
            "--model",
            "lenet5-relu",
            "--epochs",
            "1",
            "--threads",
            "2",
            "--out",
            run.to_str().unwrap(),
        ];
        if skip {
            a.push("--skip-bad");
        }
        a
    };
    // Without --skip-bad: a clear error naming the file, and no half-written run.
    let out = splot(&args(false));
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("broken.png"), "{err}");
    assert!(!run.join("best.safetensors").exists());
    // With it: the epoch trains on the 200 others, naming and counting the bad one.
    let out = splot(&args(true));
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("skipped") && err.contains("broken.png"),
        "{err}"
    );
    assert!(
        err.contains("skipped 1 unreadable training image(s) this epoch"),
        "{err}"
    );
    assert!(run.join("best.safetensors").exists());
}
