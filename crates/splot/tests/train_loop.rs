//! The generic loop ([`splot::train::fit`]) with a task of the test's own: freezing,
//! parameter groups, gradient clipping, exact resume with all of them on.

use splot::data::{Batch, Loader, Mnist};
use splot::io::safetensors::load;
use splot::nn::{self, Activation, BatchNorm, Conv2d, Flatten, Linear, Mode, Module, Sequential};
use splot::optim::Schedule;
use splot::tasks::classify::mnist_loader;
use splot::train::{
    clip_grad_norm, fit, glob_match, read_checkpoint, Event, Headline, Outcome, ParamGroup,
    RunFiles, StepLoss, Task, TrainConfig,
};
use splot::{Conv2dConfig, Rng, Tensor};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

fn mnist() -> &'static Mnist {
    static DATA: OnceLock<Mnist> = OnceLock::new();
    DATA.get_or_init(|| Mnist::load(&Mnist::default_dir()).expect("the repository's MNIST files"))
}

/// A small network with batch norm, trained on the loss of the mean of its outputs'
/// squared distance to one-hot labels: a task the loop has never seen.
struct Tiny {
    net: Sequential,
}

impl Tiny {
    fn new(seed: u64) -> Tiny {
        let mut rng = Rng::seed(seed);
        let cfg = Conv2dConfig::new().stride(2);
        let net = Sequential::new()
            .push_named("conv", Conv2d::new(1, 4, [3, 3], cfg, &mut rng).unwrap()) // [n, 4, 15, 15]
            .push_named("bn", BatchNorm::new_2d(4).unwrap())
            .push_named("relu", Activation::ReLU)
            .push_named("flatten", Flatten::default()) // [n, 900]
            .push_named("head", Linear::new(900, 10, &mut rng).unwrap()); // [n, 10]
        Tiny { net }
    }
}

impl Task for Tiny {
    fn model(&self) -> &dyn Module {
        &self.net
    }
    fn train_stats(&self) -> Vec<&'static str> {
        vec!["hits"]
    }
    fn loss(&self, batch: &Batch) -> splot::Result<StepLoss> {
        let labels = batch.labels()?;
        let out = self.net.forward(&batch.images, Mode::Train)?;
        let hits = out
            .argmax(1)?
            .iter()
            .zip(labels)
            .filter(|(p, t)| p == t)
            .count();
        let loss = out.cross_entropy(labels, &Default::default())?;
        Ok(StepLoss {
            loss,
            stats: vec![hits as f64],
        })
    }
    fn evaluate(&self, loader: &Loader) -> splot::Result<Vec<(String, f64)>> {
        let _g = splot::NoGradGuard::new();
        let (mut sum, mut n) = (0.0, 0usize);
        for b in loader.epoch(0) {
            let b = b?;
            let out = self.net.forward(&b.images, Mode::Eval)?;
            sum += out
                .cross_entropy(b.labels()?, &Default::default())?
                .item()? as f64
                * b.len() as f64;
            n += b.len();
        }
        Ok(vec![("loss".into(), sum / n as f64)])
    }
    fn headline(&self) -> Headline {
        Headline {
            name: "loss",
            higher_is_better: false,
        }
    }
}

fn config(steps: usize) -> TrainConfig {
    TrainConfig {
        model: "tiny".into(),
        epochs: 1,
        batch_size: 32,
        lr: 0.05,
        momentum: 0.0,
        weight_decay: 0.0,
        schedule: Schedule::Constant,
        limit_train: Some(32 * steps),
        ..TrainConfig::default()
    }
}

fn loaders(c: &TrainConfig) -> (Loader, Loader) {
    let n = c.limit_train.unwrap();
    (
        mnist_loader(mnist().train.subset(0..n), c.batch_size, Some(c)).unwrap(),
        mnist_loader(mnist().test.subset(0..200), 100, None).unwrap(),
    )
}

fn run(task: &Tiny, c: &TrainConfig) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (train, eval) = loaders(c);
    let never = AtomicBool::new(false);
    fit(
        task,
        c,
        &train,
        &eval,
        dir.path(),
        None,
        &never,
        &mut |_| {},
    )
    .unwrap()
}

fn values(m: &dyn Module) -> Vec<(String, Vec<f32>)> {
    nn::named_tensors(m)
        .into_iter()
        .map(|t| (t.name, t.tensor.to_vec()))
        .collect()
}

fn get<'a>(v: &'a [(String, Vec<f32>)], name: &str) -> &'a [f32] {
    &v.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn glob_patterns_match_whole_names() {
    assert!(glob_match("features.*", "features.0.weight"));
    assert!(glob_match("*.bias", "layer1.0.bn1.bias"));
    assert!(glob_match("layer?.0.*", "layer3.0.conv1.weight"));
    assert!(!glob_match("features.*", "classifier.6.weight"));
    assert!(!glob_match("fc", "fc.weight"));
    assert!(glob_match("*", ""));
    let g: ParamGroup = "fc.*:0.01:0".parse().unwrap();
    assert_eq!(
        (g.pattern.as_str(), g.lr, g.weight_decay),
        ("fc.*", 0.01, 0.0)
    );
    assert_eq!(g.to_string().parse::<ParamGroup>().unwrap(), g);
    assert!("fc.*:0.01".parse::<ParamGroup>().is_err());
    assert!("fc.*:-1:0".parse::<ParamGroup>().is_err());
}

#[test]
fn frozen_weights_and_batch_norm_statistics_do_not_change() {
    let task = Tiny::new(3);
    let before = values(&task.net);
    let c = TrainConfig {
        freeze: vec!["conv.*".into(), "bn.*".into()],
        ..config(4)
    };
    run(&task, &c);
    let after = values(&task.net);
    for name in [
        "conv.weight",
        "conv.bias",
        "bn.weight",
        "bn.bias",
        "bn.running_mean",
        "bn.running_var",
    ] {
        let (a, b) = (get(&before, name), get(&after, name));
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{name} changed although frozen"
        );
    }
    assert_ne!(
        get(&before, "head.weight"),
        get(&after, "head.weight"),
        "the head must train"
    );
    // Without freezing, the same run moves the statistics.
    let free = Tiny::new(3);
    run(&free, &config(4));
    assert_ne!(
        get(&before, "bn.running_mean"),
        get(&values(&free.net), "bn.running_mean")
    );
    // A pattern that matches nothing is an error naming it.
    let bad = TrainConfig {
        freeze: vec!["features.*".into()],
        ..config(1)
    };
    let dir = tempfile::tempdir().unwrap();
    let (train, eval) = loaders(&bad);
    let err = fit(
        &Tiny::new(3),
        &bad,
        &train,
        &eval,
        dir.path(),
        None,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("features.*"), "{err}");
}

#[test]
fn each_parameter_group_steps_with_its_own_learning_rate() {
    // One SGD step without momentum: Δw = −lr·g, the same g for both runs.
    let init = values(&Tiny::new(5).net);
    let plain = Tiny::new(5);
    run(&plain, &config(1));
    let grouped = Tiny::new(5);
    let c = TrainConfig {
        groups: vec!["head.*:0.15:0".parse().unwrap()],
        ..config(1)
    };
    run(&grouped, &c);
    let (p, g) = (values(&plain.net), values(&grouped.net));
    let delta = |v: &[(String, Vec<f32>)], n: &str| -> Vec<f32> {
        get(v, n)
            .iter()
            .zip(get(&init, n))
            .map(|(a, b)| a - b)
            .collect()
    };
    for name in ["conv.weight", "bn.weight"] {
        assert_eq!(
            delta(&p, name),
            delta(&g, name),
            "{name}: the default group's rate"
        );
    }
    let (dp, dg) = (delta(&p, "head.weight"), delta(&g, "head.weight"));
    let moved: Vec<(f32, f32)> = dp
        .iter()
        .zip(&dg)
        .filter(|(a, _)| a.abs() > 1e-6)
        .map(|(a, b)| (*a, *b))
        .collect();
    assert!(moved.len() > 100);
    for (a, b) in moved {
        assert!((b / a - 3.0).abs() < 1e-2, "head step {b} is not 3× {a}");
    }
}

#[test]
fn clipping_bounds_the_global_gradient_norm() {
    let task = Tiny::new(1);
    let batch = loaders(&config(1)).0.epoch(0).next().unwrap().unwrap();
    let params = nn::parameters(&task.net);
    let norm = |g: &splot::Gradients| -> f64 {
        params
            .iter()
            .filter_map(|p| g.get(&p.tensor))
            .flat_map(|t| t.to_vec())
            .map(|v| (v as f64).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut grads = task.loss(&batch).unwrap().loss.backward().unwrap();
    let raw = norm(&grads);
    let head = grads
        .get(&params[params.len() - 2].tensor)
        .unwrap()
        .to_vec();
    let before = clip_grad_norm(&params, &mut grads, (raw / 4.0) as f32);
    assert!((before as f64 - raw).abs() < 1e-3 * raw);
    let clipped = norm(&grads);
    assert!(
        (clipped - raw / 4.0).abs() < 1e-3 * raw,
        "{clipped} vs {}",
        raw / 4.0
    );
    // the direction is kept: every entry scaled by the same factor
    let after = grads
        .get(&params[params.len() - 2].tensor)
        .unwrap()
        .to_vec();
    for (a, b) in head.iter().zip(&after).filter(|(a, _)| a.abs() > 1e-4) {
        assert!((b / a - 0.25).abs() < 1e-3);
    }
    // below the bound, nothing changes
    let again = clip_grad_norm(&params, &mut grads, (raw * 10.0) as f32);
    assert!((norm(&grads) - clipped).abs() < 1e-9 && (again as f64 - clipped).abs() < 1e-3);
}

#[test]
fn resume_equals_an_uninterrupted_run_with_groups_freezing_and_clipping() {
    let c = TrainConfig {
        epochs: 2,
        momentum: 0.9,
        weight_decay: 1e-4,
        schedule: "warmup:1+cosine".parse().unwrap(),
        groups: vec!["head.*:0.02:0".parse().unwrap()],
        freeze: vec!["bn.*".into()],
        clip_grad_norm: Some(0.5),
        augment: true,
        seed: 11,
        ..config(6)
    };
    let (train, eval) = loaders(&c);
    let never = AtomicBool::new(false);
    let whole = tempfile::tempdir().unwrap();
    let outcome = fit(
        &Tiny::new(2),
        &c,
        &train,
        &eval,
        whole.path(),
        None,
        &never,
        &mut |_| {},
    )
    .unwrap();
    let Outcome::Finished { best, .. } = outcome else {
        panic!("not finished")
    };
    assert!(best.is_finite());

    let parts = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let mut steps = 0;
    let outcome = fit(
        &Tiny::new(2),
        &c,
        &train,
        &eval,
        parts.path(),
        None,
        &stop,
        &mut |e| {
            if let Event::Step { .. } = e {
                assert!(e.stat("hits").is_some());
                steps += 1;
                if steps == 8 {
                    stop.store(true, Ordering::SeqCst);
                }
            }
        },
    )
    .unwrap();
    assert_eq!(outcome, Outcome::Interrupted { epoch: 1, batch: 2 });
    let ck = read_checkpoint(&RunFiles::new(parts.path()).last).unwrap();
    assert_eq!(ck.config, c);
    assert!(ck.optimizer.iter().any(|(n, _)| n.starts_with("group1.")));
    fit(
        &Tiny::new(2),
        &c,
        &train,
        &eval,
        parts.path(),
        Some(ck),
        &never,
        &mut |_| {},
    )
    .unwrap();

    let (a, _) = load(&RunFiles::new(whole.path()).last).unwrap();
    let (b, _) = load(&RunFiles::new(parts.path()).last).unwrap();
    assert_eq!(a.len(), b.len());
    for ((na, ta), (nb, tb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        let same = ta
            .to_vec()
            .iter()
            .zip(tb.to_vec())
            .all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "{na} differs after resume");
    }
    let read =
        |d: &tempfile::TempDir| std::fs::read_to_string(d.path().join("metrics.csv")).unwrap();
    let strip = |t: String| -> Vec<String> {
        t.lines()
            .map(|l| l.split(',').take(5).collect::<Vec<_>>().join(","))
            .collect()
    };
    let text = read(&whole);
    assert!(
        text.starts_with("epoch,lr,train_loss,train_hits,test_loss,seconds"),
        "{text}"
    );
    assert_eq!(strip(text), strip(read(&parts)));
}

#[test]
fn a_zoo_network_gets_a_head_of_the_asked_size() {
    let (net, input) = splot::models::build_with_classes("resnet20", 0.0, Some(7), 0).unwrap();
    let x = Tensor::zeros(&[2, input[0], input[1], input[2]]);
    let y = splot::no_grad(|| net.forward(&x, Mode::Eval)).unwrap();
    assert_eq!(y.shape(), &[2, 7]);
    // every other layer as the network's own
    let (own, _) = splot::models::build("resnet20", 0.0, 0).unwrap();
    let (a, b) = (values(&own), values(&net));
    for ((na, va), (nb, vb)) in a.iter().zip(&b) {
        assert_eq!(na, nb);
        if !na.starts_with("fc.") {
            assert_eq!(va, vb, "{na}");
        }
    }
    assert_eq!(splot::models::native_classes("resnet20"), 10);
    assert_eq!(splot::models::native_classes("vgg11"), 1000);
}
