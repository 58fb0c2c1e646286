//! The picture subcommands: `filters`, `features`, `saliency`, `plot`, `eval --confusion`,
//! `pad --out`, `summary --out` — each written file decoded and measured, and bad input
//! answered with a clear error.

use std::path::Path;
use std::process::{Command, Output};

fn splot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_splot"))
        .args(args)
        .output()
        .expect("run splot")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn ok(args: &[&str]) {
    let o = splot(args);
    assert!(o.status.success(), "splot {args:?}: {}", stderr(&o));
}

fn fails_with(args: &[&str], needles: &[&str]) {
    let o = splot(args);
    assert!(!o.status.success(), "splot {args:?} should fail");
    let e = stderr(&o);
    for n in needles {
        assert!(e.contains(n), "splot {args:?}: '{n}' missing in: {e}");
    }
}

fn png(path: &Path) -> image::RgbImage {
    image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn pictures_of_a_trained_lenet5() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = d.join("run");
    ok(&[
        "train",
        "--model",
        "lenet5",
        "--epochs",
        "2",
        "--limit-train",
        "600",
        "--limit-test",
        "100",
        "--out",
        s(&run),
    ]);
    let ck = run.join("best.safetensors");
    let ck = s(&ck);
    // a drawn "1": a dark bar on white
    let digit = d.join("one.png");
    image::RgbImage::from_fn(40, 60, |x, _| {
        image::Rgb(if (17..23).contains(&x) {
            [20; 3]
        } else {
            [250; 3]
        })
    })
    .save(&digit)
    .unwrap();
    let digit = s(&digit);
    let out = |name: &str| d.join(name);

    // filters: c1 by default, 6 tiles of 5×5 ×8 in 3 columns, 2-pixel gaps
    ok(&["filters", ck, "--out", s(&out("c1.png"))]);
    assert_eq!(png(&out("c1.png")).dimensions(), (3 * 40 + 4, 2 * 40 + 2));
    // C3: 16 rows of 6 input maps
    ok(&["filters", ck, "--layer", "c3", "--out", s(&out("c3.png"))]);
    assert_eq!(
        png(&out("c3.png")).dimensions(),
        (6 * 40 + 10, 16 * 40 + 30)
    );
    fails_with(
        &["filters", ck, "--layer", "c2", "--out", s(&out("x.png"))],
        &["'c2'", "c1, c3, c5"],
    );

    // features: C1's six 28×28 maps ×4
    ok(&[
        "features",
        ck,
        digit,
        "--layer",
        "c1",
        "--out",
        s(&out("f.png")),
    ]);
    assert_eq!(png(&out("f.png")).dimensions(), (3 * 112 + 4, 2 * 112 + 2));
    ok(&[
        "features",
        ck,
        digit,
        "--layer",
        "all",
        "--out",
        s(&out("all.png")),
    ]);
    for layer in ["c1", "s2_act", "c3", "c5", "flatten", "f6", "output"] {
        let p = out(&format!("all_{layer}.png"));
        assert!(png(&p).width() > 0, "{layer}");
    }
    fails_with(
        &[
            "features",
            ck,
            digit,
            "--layer",
            "c9",
            "--out",
            s(&out("x.png")),
        ],
        &["'c9'", "c1, c1_act, s2"],
    );

    // saliency: 32×32 ×8, with heat colours (red above green somewhere)
    ok(&["saliency", ck, digit, "--out", s(&out("sal.png"))]);
    let sal = png(&out("sal.png"));
    assert_eq!(sal.dimensions(), (256, 256));
    assert!(sal.pixels().any(|p| p.0[0] > p.0[1].saturating_add(40)));

    // training curves: PNG of the size asked for, not blank; SVG by extension
    ok(&[
        "plot",
        s(&run),
        "--out",
        s(&out("curves.png")),
        "--size",
        "640x320",
    ]);
    let curves = png(&out("curves.png"));
    assert_eq!(curves.dimensions(), (640, 320));
    let dark = curves.pixels().filter(|p| p.0[0] < 100).count();
    assert!(dark > 500, "{dark} dark pixels");
    ok(&["plot", s(&run), "--out", s(&out("curves.svg"))]);
    let svg = std::fs::read_to_string(out("curves.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("accuracy"));
    fails_with(&["plot", s(d), "--out", s(&out("x.png"))], &["metrics.csv"]);
    fails_with(
        &["plot", s(&run), "--out", s(&out("x.png")), "--size", "big"],
        &["--size", "WIDTHxHEIGHT"],
    );

    // confusion matrix of 10 classes
    ok(&["eval", ck, "--confusion", s(&out("confusion.png"))]);
    assert_eq!(
        png(&out("confusion.png")).dimensions(),
        (70 + 440 + 20, 70 + 440 + 20)
    );

    // pictures that cannot be decoded, outputs that cannot be written
    let bad = out("bad.png");
    std::fs::write(&bad, b"not a picture").unwrap();
    for cmd in ["features", "saliency"] {
        fails_with(
            &[cmd, ck, s(&bad), "--out", s(&out("x.png"))],
            &["bad.png", "decode"],
        );
    }
    let nowhere = out("no/such/dir/x.png");
    for args in [
        vec!["filters", ck, "--out", s(&nowhere)],
        vec!["saliency", ck, digit, "--out", s(&nowhere)],
        vec!["plot", s(&run), "--out", s(&nowhere)],
        vec!["pad", "--out", s(&nowhere)],
    ] {
        fails_with(&args, &["no/such/dir/x.png", "No such file"]);
    }
    assert!(!out("x.png").exists());
}

#[test]
fn padding_tables_and_layer_diagram_as_pictures() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pad.png");
    ok(&["pad", "--out", s(&p)]);
    // five 8×8 tables of 40-pixel cells, three to a row
    let img = png(&p);
    assert_eq!(
        img.dimensions(),
        (16 + 3 * (320 + 16), 16 + 2 * (320 + 34 + 16))
    );
    ok(&[
        "pad",
        "--mode",
        "reflect",
        "--pad",
        "1",
        "--input",
        "1 2 3; 4 5 6",
        "--out",
        s(&p),
    ]);
    assert_eq!(
        png(&p).dimensions(),
        (16 + 5 * 40 + 16, 16 + 4 * 40 + 34 + 16)
    );
    fails_with(
        &["pad", "--mode", "reflect", "--pad", "4", "--out", s(&p)],
        &["reflect"],
    );

    let svg = dir.path().join("lenet5.svg");
    ok(&["summary", "lenet5", "--out", s(&svg)]);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("c3  (ConnectionTableConv)"));
    assert!(text.contains("total parameters: 60 850"));
    fails_with(
        &["summary", "lenet5", "--out", s(&dir.path().join("x.png"))],
        &["SVG"],
    );
}
