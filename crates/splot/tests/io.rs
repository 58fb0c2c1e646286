//! Files: safetensors round trips, dtypes written by other tools, corrupt and truncated
//! files, loading into a module with every mismatch in one error, atomic writes.

use safetensors::tensor::{Dtype, TensorView};
use splot::nn::{self, Activation, BatchNorm, Conv2d, Flatten, Linear, Sequential};
use splot::{io, Conv2dConfig, Error, Mode, Module, Rng, Tensor};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("splot-io-test-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    /// Names of the entries in the directory, sorted.
    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// Asserts that `err` is a format error naming `path`, and returns its message.
fn assert_format_error(err: Error, path: &Path) -> String {
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()),
        "error does not name the file: {text}"
    );
    match err {
        Error::Format { path: p, .. } => assert_eq!(p, path),
        other => panic!("expected a format error, got {other:?}"),
    }
    text
}

fn net(seed: u64) -> Sequential {
    let mut rng = Rng::seed(seed);
    Sequential::new()
        .push(Conv2d::new(2, 3, [3, 3], Conv2dConfig::new().padding(1), &mut rng).unwrap())
        .push(BatchNorm::new_2d(3).unwrap())
        .push(Activation::ReLU)
        .push(Flatten::default())
        .push(Linear::new(3 * 4 * 4, 5, &mut rng).unwrap())
}

/// Writes a safetensors file with the `safetensors` crate itself, as another tool would.
fn write_foreign(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn save_load_round_trip_is_bit_identical() {
    let dir = TempDir::new("round-trip");
    let path = dir.file("w.safetensors");
    let mut rng = Rng::seed(1);
    let special = [
        0.0,
        -0.0,
        f32::MIN_POSITIVE / 4.0,
        f32::MAX,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        -1.5,
    ];
    let tensors = vec![
        (
            "features.0.weight".to_string(),
            Tensor::randn(&[4, 2, 3, 3], 0.0, 1.0, &mut rng),
        ),
        (
            "features.0.bias".to_string(),
            Tensor::from_vec(special.to_vec(), &[8]).unwrap(),
        ),
        ("bn.num_batches_tracked".to_string(), Tensor::scalar(7.0)),
        ("empty".to_string(), Tensor::zeros(&[0, 3])),
    ];
    let metadata = meta(&[("format", "pt"), ("epoch", "12"), ("note", "ünïcode ✓")]);
    io::save(&path, &tensors, &metadata).unwrap();

    let (loaded, loaded_meta) = io::load(&path).unwrap();
    assert_eq!(loaded_meta, metadata);
    assert_eq!(loaded.len(), tensors.len());
    let loaded: BTreeMap<String, Tensor> = loaded.into_iter().collect();
    for (name, t) in &tensors {
        let l = &loaded[name];
        assert_eq!(l.shape(), t.shape(), "{name}");
        assert_eq!(bits(l), bits(t), "{name}");
    }
    assert_eq!(dir.entries(), ["w.safetensors"]);

    // No metadata is an empty map.
    io::save(&path, &tensors[..1], &BTreeMap::new()).unwrap();
    assert!(io::load(&path).unwrap().1.is_empty());
}

#[test]
fn save_rejects_duplicate_and_reserved_names() {
    let dir = TempDir::new("names");
    let path = dir.file("w.safetensors");
    let t = Tensor::ones(&[2]);
    let dup = vec![("a".to_string(), t.clone()), ("a".to_string(), t.clone())];
    let msg = assert_format_error(io::save(&path, &dup, &BTreeMap::new()).unwrap_err(), &path);
    assert!(msg.contains("'a'"), "{msg}");
    let reserved = vec![("__metadata__".to_string(), t)];
    assert!(io::save(&path, &reserved, &BTreeMap::new()).is_err());
    assert!(dir.entries().is_empty());
}

#[test]
fn half_float_and_integer_files_convert_to_f32() {
    let dir = TempDir::new("dtypes");
    let path = dir.file("foreign.safetensors");
    let f16: Vec<u8> = [1.5f32, -2.0, 2f32.powi(-14)]
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect();
    let bf16: Vec<u8> = [1.5f32, -3.0e38, 0.15625]
        .iter()
        .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
        .collect();
    let f64: Vec<u8> = [0.1f64, -1e300]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let i32: Vec<u8> = [-7i32, 1 << 20]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_foreign(
        &path,
        &[
            ("h", Dtype::F16, vec![3], f16),
            ("b", Dtype::BF16, vec![1, 3], bf16),
            ("d", Dtype::F64, vec![2], f64),
            (
                "num_batches_tracked",
                Dtype::I64,
                vec![],
                3i64.to_le_bytes().to_vec(),
            ),
            ("i", Dtype::I32, vec![2], i32),
            ("u", Dtype::U8, vec![2], vec![0, 255]),
            ("flag", Dtype::BOOL, vec![2], vec![1, 0]),
        ],
    );
    let (loaded, metadata) = io::load(&path).unwrap();
    assert!(metadata.is_empty());
    let loaded: BTreeMap<String, Tensor> = loaded.into_iter().collect();
    assert_eq!(loaded["h"].to_vec(), [1.5, -2.0, 2f32.powi(-14)]);
    assert_eq!(loaded["b"].shape(), &[1, 3]);
    assert_eq!(
        loaded["b"].to_vec(),
        [1.5, half::bf16::from_f32(-3.0e38).to_f32(), 0.15625]
    );
    assert_eq!(loaded["d"].to_vec(), [0.1f32, f32::NEG_INFINITY]);
    let nbt = &loaded["num_batches_tracked"];
    assert_eq!(nbt.shape(), &[] as &[usize]);
    assert_eq!(nbt.item().unwrap(), 3.0);
    assert_eq!(loaded["i"].to_vec(), [-7.0, 1048576.0]);
    assert_eq!(loaded["u"].to_vec(), [0.0, 255.0]);
    assert_eq!(loaded["flag"].to_vec(), [1.0, 0.0]);
}

#[test]
fn unsupported_dtype_names_tensor_and_dtype() {
    let dir = TempDir::new("bad-dtype");
    let path = dir.file("fp8.safetensors");
    write_foreign(&path, &[("w8", Dtype::F8_E4M3, vec![4], vec![0x38; 4])]);
    let msg = assert_format_error(io::load(&path).unwrap_err(), &path);
    assert!(msg.contains("w8") && msg.contains("F8_E4M3"), "{msg}");
}

#[test]
fn corrupt_and_truncated_files_are_errors_naming_the_file() {
    let dir = TempDir::new("corrupt");
    // Random bytes.
    let random = dir.file("random.safetensors");
    let mut rng = Rng::seed(9);
    let bytes: Vec<u8> = (0..1000).map(|_| rng.next_u64() as u8).collect();
    fs::write(&random, &bytes).unwrap();
    assert_format_error(io::load(&random).unwrap_err(), &random);

    // A plausible header length followed by text that is not JSON.
    let garbage = dir.file("garbage.safetensors");
    let mut bytes = 16u64.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"this is not json");
    fs::write(&garbage, &bytes).unwrap();
    assert_format_error(io::load(&garbage).unwrap_err(), &garbage);

    // A valid file cut short: in the data, in the header, in the length prefix.
    let good = dir.file("good.safetensors");
    let t = vec![("w".to_string(), Tensor::ones(&[10, 10]))];
    io::save(&good, &t, &meta(&[("k", "v")])).unwrap();
    let full = fs::read(&good).unwrap();
    for keep in [full.len() - 5, 20, 5, 0] {
        let cut = dir.file(&format!("cut-{keep}.safetensors"));
        fs::write(&cut, &full[..keep]).unwrap();
        assert_format_error(io::load(&cut).unwrap_err(), &cut);
    }

    // A file that does not exist is an I/O error naming it.
    let absent = dir.file("absent.safetensors");
    let err = io::load(&absent).unwrap_err();
    assert!(matches!(&err, Error::Io { path, .. } if *path == absent));
    assert!(err.to_string().contains("absent.safetensors"), "{err}");
}

#[test]
fn load_module_reports_every_mismatch_and_changes_nothing() {
    let dir = TempDir::new("mismatch");
    let path = dir.file("w.safetensors");
    let mut rng = Rng::seed(3);
    let model = Sequential::new()
        .push(Linear::new(4, 3, &mut rng).unwrap())
        .push(Linear::new(3, 2, &mut rng).unwrap());
    // `0.bias` missing, `1.weight` mis-shaped, `2.weight` unexpected, the rest fine.
    let file = vec![
        ("0.weight".to_string(), Tensor::ones(&[3, 4])),
        ("1.weight".to_string(), Tensor::ones(&[2, 5])),
        ("1.bias".to_string(), Tensor::ones(&[2])),
        ("2.weight".to_string(), Tensor::ones(&[1, 2])),
    ];
    io::save(&path, &file, &BTreeMap::new()).unwrap();
    let before: Vec<Vec<u32>> = io::state_dict(&model)
        .iter()
        .map(|(_, t)| bits(t))
        .collect();

    let msg = assert_format_error(io::load_module(&path, &model).unwrap_err(), &path);
    for needle in [
        "0.bias",
        "2.weight",
        "1.weight",
        "[2, 5]",
        "[2, 3]",
        "3 problems",
    ] {
        assert!(msg.contains(needle), "'{needle}' not in: {msg}");
    }
    assert!(!msg.contains("0.weight"), "{msg}");
    let after: Vec<Vec<u32>> = io::state_dict(&model)
        .iter()
        .map(|(_, t)| bits(t))
        .collect();
    assert_eq!(before, after, "the module was changed by a failed load");
}

#[test]
fn load_module_makes_a_second_module_compute_the_same() {
    let dir = TempDir::new("module");
    let path = dir.file("net.safetensors");
    let a = net(1);
    let b = net(2);
    let mut rng = Rng::seed(5);
    // A training step moves batch norm's running statistics away from their defaults.
    for _ in 0..2 {
        a.forward(
            &Tensor::randn(&[4, 2, 4, 4], 0.5, 2.0, &mut rng),
            Mode::Train,
        )
        .unwrap();
    }
    let x = Tensor::randn(&[3, 2, 4, 4], 0.0, 1.0, &mut rng);
    let ya = a.forward(&x, Mode::Eval).unwrap();
    assert_ne!(bits(&ya), bits(&b.forward(&x, Mode::Eval).unwrap()));

    let metadata = meta(&[("model", "tiny"), ("step", "2")]);
    io::save_module(&path, &a, &metadata).unwrap();
    assert_eq!(io::load_module(&path, &b).unwrap(), metadata);

    assert_eq!(bits(&ya), bits(&b.forward(&x, Mode::Eval).unwrap()));
    let names_a: Vec<String> = nn::named_tensors(&a).into_iter().map(|t| t.name).collect();
    let (loaded, _) = io::load(&path).unwrap();
    let mut names_file: Vec<String> = loaded.into_iter().map(|(n, _)| n).collect();
    let mut sorted_a = names_a.clone();
    sorted_a.sort();
    names_file.sort();
    assert_eq!(names_file, sorted_a);
    assert!(names_a.contains(&"1.running_var".to_string()));
    let nbt = |m: &Sequential| {
        io::state_dict(m)
            .into_iter()
            .find(|(n, _)| n == "1.num_batches_tracked")
            .unwrap()
            .1
            .item()
            .unwrap()
    };
    assert_eq!(nbt(&b), 2.0);
}

#[test]
fn pytorch_style_batch_norm_file_loads_with_scalar_shapes_either_way() {
    let dir = TempDir::new("bn");
    let bn = BatchNorm::new_2d(2).unwrap();
    let f32s = |v: [f32; 2]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    for (i, nbt_shape) in [vec![], vec![1]].into_iter().enumerate() {
        let path = dir.file(&format!("bn{i}.safetensors"));
        write_foreign(
            &path,
            &[
                ("weight", Dtype::F32, vec![2], f32s([2.0, 3.0])),
                ("bias", Dtype::F32, vec![2], f32s([0.5, -0.5])),
                ("running_mean", Dtype::F32, vec![2], f32s([0.1, 0.2])),
                ("running_var", Dtype::F32, vec![2], f32s([4.0, 9.0])),
                (
                    "num_batches_tracked",
                    Dtype::I64,
                    nbt_shape,
                    (10 + i as i64).to_le_bytes().to_vec(),
                ),
            ],
        );
        io::load_module(&path, &bn).unwrap();
        assert_eq!(bn.running_var.to_vec(), [4.0, 9.0]);
        assert_eq!(bn.weight.as_ref().unwrap().to_vec(), [2.0, 3.0]);
        assert_eq!(bn.num_batches_tracked.item().unwrap(), 10.0 + i as f32);
        assert_eq!(bn.num_batches_tracked.shape(), &[] as &[usize]);
    }
}

/// A file whose names are `prefix` + those of `a`.
fn save_with_prefix(path: &Path, a: &Sequential, prefix: &str) {
    let renamed: Vec<(String, Tensor)> = io::state_dict(a)
        .into_iter()
        .map(|(n, t)| (format!("{prefix}{n}"), t))
        .collect();
    io::save(path, &renamed, &BTreeMap::new()).unwrap();
}

#[test]
fn missing_batch_counters_are_filled_with_zero_as_pytorch_does() {
    let dir = TempDir::new("nbt");
    let path = dir.file("w.safetensors");
    let a = net(1);
    let without: Vec<(String, Tensor)> = io::state_dict(&a)
        .into_iter()
        .filter(|(n, _)| !n.ends_with("num_batches_tracked"))
        .collect();
    io::save(&path, &without, &BTreeMap::new()).unwrap();
    let b = net(2);
    // the counter of `b` is not 0 before loading
    b.forward(&Tensor::ones(&[2, 2, 4, 4]), Mode::Train)
        .unwrap();
    let (_, report) = io::load_module_with(&path, &b, &io::LoadOptions::default()).unwrap();
    assert_eq!(report.filled, ["1.num_batches_tracked"]);
    assert!(report.missing.is_empty() && report.unexpected.is_empty());
    assert_eq!(report.loaded.len(), without.len());
    let nbt = io::state_dict(&b)
        .into_iter()
        .find(|(n, _)| n == "1.num_batches_tracked")
        .unwrap()
        .1;
    assert_eq!(nbt.item().unwrap(), 0.0);
    let x = Tensor::randn(&[2, 2, 4, 4], 0.0, 1.0, &mut Rng::seed(9));
    assert_eq!(
        bits(&a.forward(&x, Mode::Eval).unwrap()),
        bits(&b.forward(&x, Mode::Eval).unwrap())
    );
    // The plain `load_module` accepts the file too.
    io::load_module(&path, &net(3)).unwrap();
    // A parameter missing is still an error, and names only what is missing.
    let no_bias: Vec<(String, Tensor)> = without
        .iter()
        .filter(|(n, _)| n != "1.bias")
        .cloned()
        .collect();
    io::save(&path, &no_bias, &BTreeMap::new()).unwrap();
    let msg = assert_format_error(io::load_module(&path, &net(3)).unwrap_err(), &path);
    assert!(msg.contains("missing from the file: 1.bias;") || msg.ends_with("1.bias"));
    assert!(!msg.contains("num_batches_tracked"), "{msg}");
}

#[test]
fn non_strict_loading_loads_what_fits_and_reports_the_rest() {
    let dir = TempDir::new("non-strict");
    let path = dir.file("w.safetensors");
    let mut rng = Rng::seed(3);
    let source = Sequential::new()
        .push(Linear::new(4, 3, &mut rng).unwrap())
        .push(Linear::new(3, 2, &mut rng).unwrap());
    io::save_module(&path, &source, &BTreeMap::new()).unwrap();
    // A new head (index 2) the file lacks; the file's `1.*` has no place in the module.
    let target = Sequential::new()
        .push(Linear::new(4, 3, &mut rng).unwrap())
        .push(Activation::ReLU)
        .push(Linear::new(3, 5, &mut rng).unwrap());
    let head_before = bits(&io::state_dict(&target)[2].1);
    let strict = io::load_module(&path, &target).unwrap_err();
    assert!(strict.to_string().contains("2.weight"), "{strict}");
    let options = io::LoadOptions::default().non_strict();
    let (_, report) = io::load_module_with(&path, &target, &options).unwrap();
    assert_eq!(report.loaded, ["0.weight", "0.bias"]);
    assert_eq!(report.missing, ["2.weight", "2.bias"]);
    assert_eq!(report.unexpected, ["1.bias", "1.weight"]);
    let sd = io::state_dict(&target);
    assert_eq!(bits(&sd[0].1), bits(&io::state_dict(&source)[0].1));
    assert_eq!(
        bits(&sd[2].1),
        head_before,
        "a missing tensor is left as it was"
    );
    // A shape that differs is an error even when not strict, as in PyTorch.
    let wrong = Sequential::new().push(Linear::new(4, 7, &mut rng).unwrap());
    let before = bits(&io::state_dict(&wrong)[0].1);
    let err = io::load_module_with(&path, &wrong, &options).unwrap_err();
    let msg = assert_format_error(err, &path);
    assert!(
        msg.contains("0.weight is [3, 4] in the file but [7, 4]"),
        "{msg}"
    );
    assert_eq!(bits(&io::state_dict(&wrong)[0].1), before);
}

#[test]
fn prefixes_are_stripped_or_added() {
    let dir = TempDir::new("prefix");
    let path = dir.file("w.safetensors");
    let x = Tensor::randn(&[2, 2, 4, 4], 0.0, 1.0, &mut Rng::seed(4));
    let a = net(1);
    let ya = bits(&a.forward(&x, Mode::Eval).unwrap());
    // DataParallel's `module.`
    save_with_prefix(&path, &a, "module.");
    let b = net(2);
    let err = io::load_module(&path, &b).unwrap_err();
    assert!(err.to_string().contains("module.0.weight"), "{err}");
    io::load_module_with(&path, &b, &io::LoadOptions::strip("module.")).unwrap();
    assert_eq!(bits(&b.forward(&x, Mode::Eval).unwrap()), ya);
    // A detector's backbone: strip `backbone.body.`, ignore the rest (not strict).
    let mut with_head = io::state_dict(&a)
        .into_iter()
        .map(|(n, t)| (format!("backbone.body.{n}"), t))
        .collect::<Vec<_>>();
    with_head.push(("rpn.head.conv.weight".into(), Tensor::ones(&[2, 2])));
    io::save(&path, &with_head, &BTreeMap::new()).unwrap();
    let c = net(3);
    let options = io::LoadOptions::strip("backbone.body.").non_strict();
    let (_, report) = io::load_module_with(&path, &c, &options).unwrap();
    assert_eq!(report.unexpected, ["rpn.head.conv.weight"]);
    assert!(report.missing.is_empty());
    assert_eq!(bits(&c.forward(&x, Mode::Eval).unwrap()), ya);
    // Adding a prefix: the bare file into a network that holds `net` as its child `0`.
    save_with_prefix(&path, &a, "");
    let d = Sequential::new().push(net(4));
    let options = io::LoadOptions {
        add_prefix: Some("0.".into()),
        ..Default::default()
    };
    io::load_module_with(&path, &d, &options).unwrap();
    assert_eq!(bits(&d.forward(&x, Mode::Eval).unwrap()), ya);
    // Two file names that become one are an error naming it.
    let clash = vec![
        ("module.0.bias".to_string(), Tensor::ones(&[2])),
        ("0.bias".to_string(), Tensor::ones(&[2])),
    ];
    io::save(&path, &clash, &BTreeMap::new()).unwrap();
    let err = io::load_module_with(&path, &d, &io::LoadOptions::strip("module.")).unwrap_err();
    assert!(err.to_string().contains("given twice: 0.bias"), "{err}");
}

#[test]
fn a_torchvision_resnet18_without_batch_counters_loads_and_computes_torchvisions_output() {
    // From scripts/fixtures_weights.py: torchvision's resnet18 state_dict, saved by
    // safetensors.torch as f16 without its 20 `num_batches_tracked` buffers.
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights");
    let (net, _) = splot::models::build("resnet18", 0.0, 0).unwrap();
    let weights = fixtures.join("resnet18-no-nbt.safetensors");
    let (_, report) = io::load_module_with(&weights, &net, &Default::default()).unwrap();
    assert_eq!(report.filled.len(), 20, "{:?}", report.filled);
    assert!(report
        .filled
        .contains(&"layer4.1.bn2.num_batches_tracked".to_string()));
    assert_eq!(report.loaded.len(), 102);
    let (io_tensors, _) = io::load(&fixtures.join("resnet18-no-nbt-io.safetensors")).unwrap();
    let get = |name: &str| {
        io_tensors
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .clone()
    };
    let y = net.forward(&get("input"), Mode::Eval).unwrap();
    let want = get("output");
    assert_eq!(y.shape(), want.shape());
    let scale = want.data().iter().fold(0f32, |m, v| m.max(v.abs()));
    let worst = y
        .data()
        .iter()
        .zip(want.data().iter())
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    assert!(
        worst <= 1e-4 * scale,
        "max |Δ| {worst} against max |y| {scale}"
    );
}

#[test]
fn write_atomic_replaces_the_file_whole() {
    let dir = TempDir::new("atomic-ok");
    let path = dir.file("out.txt");
    fs::write(&path, b"old contents").unwrap();
    io::write_atomic(&path, |w| {
        w.write_all(b"new").map_err(|e| Error::io(&path, e))?;
        w.write_all(b" contents").map_err(|e| Error::io(&path, e))
    })
    .unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"new contents");
    assert_eq!(dir.entries(), ["out.txt"]);
}

#[test]
fn write_atomic_that_fails_midway_keeps_the_old_file() {
    let dir = TempDir::new("atomic-fail");
    let path = dir.file("checkpoint.safetensors");
    fs::write(&path, b"previous checkpoint").unwrap();
    let err = io::write_atomic(&path, |w| {
        w.write_all(&[7u8; 100_000])
            .map_err(|e| Error::io(&path, e))?;
        Err(Error::config(
            "test writer",
            "failed after writing some bytes",
        ))
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Config {
                op: "test writer",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(fs::read(&path).unwrap(), b"previous checkpoint");
    assert_eq!(dir.entries(), ["checkpoint.safetensors"]);

    // A panic inside the writer leaves no temporary file either.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        io::write_atomic(&path, |w| {
            w.write_all(b"partial").unwrap();
            panic!("writer panicked on purpose");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(fs::read(&path).unwrap(), b"previous checkpoint");
    assert_eq!(dir.entries(), ["checkpoint.safetensors"]);
}

#[test]
fn unwritable_destination_is_an_error_naming_the_path() {
    let dir = TempDir::new("unwritable");
    let path = dir.file("no/such/dir/w.safetensors");
    let err = io::write_atomic(&path, |_| Ok(())).unwrap_err();
    assert!(
        matches!(&err, Error::Io { path: p, .. } if *p == path),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let t = vec![("w".to_string(), Tensor::ones(&[2]))];
    let err = io::save(&path, &t, &BTreeMap::new()).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    assert!(dir.entries().is_empty());
}

/// Found by fuzzing (`scripts/fuzz.sh image`): 676 bytes of JPEG claiming 3 399 × 35 152
/// pixels took over 20 s to decode. The header's size is refused before decoding.
#[test]
fn a_decompression_bomb_is_refused_before_decoding() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz/jpeg-bomb-3399x35152.jpg");
    let err = splot::data::image::read_grey(&path).unwrap_err();
    let msg = assert_format_error(err, &path);
    assert!(
        msg.contains("3399×35152") && msg.contains("89478485"),
        "{msg}"
    );
}
