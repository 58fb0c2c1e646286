//! Retrieval: exact search and its metrics against numpy and scikit-learn
//! (`scripts/fixtures_retrieval.py`), blocks of the GEMM against brute force, the index
//! file, and features of named layers.

use splot::io::safetensors::load;
use splot::tasks::retrieve::{evaluate, search, Extractor, Index, PIXELS};
use splot::{Rng, Tensor};
use std::path::PathBuf;

fn fixture() -> Vec<(String, Tensor)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/retrieval/search.safetensors");
    load(&path).unwrap().0
}

fn get(t: &[(String, Tensor)], name: &str) -> Tensor {
    t.iter().find(|(n, _)| n == name).unwrap().1.clone()
}

fn extractor(layer: &str) -> Extractor {
    Extractor {
        model: "none".into(),
        weights: "random:0".into(),
        fingerprint: "0123456789abcdef".into(),
        layer: layer.into(),
        input: [1, 1, 24],
    }
}

fn index(features: &Tensor, labels: &Tensor, layer: &str) -> Index {
    let n = features.dim(0);
    Index {
        features: features.to_vec(),
        dim: features.dim(1),
        labels: labels.to_vec().iter().map(|&l| l as usize).collect(),
        entries: (0..n).map(|i| format!("img{i}.png")).collect(),
        classes: (0..5).map(|c| c.to_string()).collect(),
        data: "fixture".into(),
        split: "train".into(),
        extractor: extractor(layer),
    }
}

#[test]
fn search_and_metrics_equal_numpy_and_scikit_learn() {
    let t = fixture();
    let (gallery, queries) = (get(&t, "gallery"), get(&t, "queries"));
    let hits = search(&gallery.to_vec(), &queries.to_vec(), 24, 10);
    let topk = get(&t, "topk").to_vec();
    for (q, h) in hits.iter().enumerate() {
        let rows: Vec<usize> = h.iter().map(|&(r, _)| r).collect();
        let want: Vec<usize> = topk[q * 10..q * 10 + 10]
            .iter()
            .map(|&v| v as usize)
            .collect();
        assert_eq!(rows, want, "query {q}");
        assert!(h.windows(2).all(|w| w[0].1 >= w[1].1), "best first");
    }
    let g = index(&gallery, &get(&t, "gallery_labels"), "f6");
    let q = index(&queries, &get(&t, "query_labels"), "f6");
    let m = evaluate(&g, &q).unwrap();
    let want = get(&t, "metrics").to_vec();
    assert_eq!(m.queries, 60);
    for (got, want, name) in [
        (m.precision_at_1, want[0], "precision@1"),
        (m.precision_at_10, want[1], "precision@10"),
        (m.map, want[2], "mAP (scikit-learn)"),
    ] {
        assert!(
            (got - want as f64).abs() < 1e-6,
            "{name}: {got} against {want}"
        );
    }
}

#[test]
fn blocked_search_equals_brute_force_across_block_edges() {
    // More gallery rows than one GEMM block (8192) and more queries than one (256).
    let (n, q, d, k) = (9000, 300, 7, 5);
    let mut rng = Rng::seed(1);
    let gallery = Tensor::randn(&[n, d], 0.0, 1.0, &mut rng).to_vec();
    let queries = Tensor::randn(&[q, d], 0.0, 1.0, &mut rng).to_vec();
    let hits = search(&gallery, &queries, d, k);
    assert_eq!(hits.len(), q);
    for (i, h) in hits.iter().enumerate().step_by(13) {
        let qv = &queries[i * d..(i + 1) * d];
        let mut all: Vec<(usize, f32)> = (0..n)
            .map(|j| {
                let g = &gallery[j * d..(j + 1) * d];
                (j, qv.iter().zip(g).map(|(a, b)| a * b).sum::<f32>())
            })
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let want: Vec<usize> = all[..k].iter().map(|p| p.0).collect();
        let got: Vec<usize> = h.iter().map(|p| p.0).collect();
        assert_eq!(got, want, "query {i}");
        for (g, w) in h.iter().zip(&all) {
            assert!((g.1 - w.1).abs() < 1e-4);
        }
    }
    // k beyond the gallery: all of it
    assert_eq!(search(&gallery[..3 * d], &queries[..d], d, 10)[0].len(), 3);
}

#[test]
fn an_index_round_trips_and_bad_files_are_clear_errors() {
    let t = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("g.safetensors");
    let g = index(&get(&t, "gallery"), &get(&t, "gallery_labels"), "f6");
    g.save(&path).unwrap();
    let back = Index::load(&path).unwrap();
    assert_eq!(back.features, g.features);
    assert_eq!(back.labels, g.labels);
    assert_eq!(back.entries, g.entries);
    assert_eq!(back.extractor, g.extractor);
    // a file of other tensors
    let other = dir.path().join("other.safetensors");
    splot::io::save(
        &other,
        &[("x".into(), Tensor::ones(&[2]))],
        &Default::default(),
    )
    .unwrap();
    let e = Index::load(&other).unwrap_err().to_string();
    assert!(
        e.contains("other.safetensors") && e.contains("not an index"),
        "{e}"
    );
    // entries that do not match the rows
    let mut short = g.clone();
    short.entries.pop();
    short.save(&path).unwrap();
    let e = Index::load(&path).unwrap_err().to_string();
    assert!(e.contains("299 entries for 300 feature rows"), "{e}");
}

#[test]
fn queries_from_another_model_or_layer_are_refused_naming_both() {
    let t = fixture();
    let g = index(&get(&t, "gallery"), &get(&t, "gallery_labels"), "f6");
    let q = index(&get(&t, "queries"), &get(&t, "query_labels"), "c5");
    let e = evaluate(&g, &q).unwrap_err().to_string();
    assert!(e.contains("at f6") && e.contains("at c5"), "{e}");
    let mut q = index(&get(&t, "queries"), &get(&t, "query_labels"), "f6");
    q.extractor.weights = "checkpoint:other.safetensors".into();
    q.extractor.fingerprint = "fedcba9876543210".into();
    let e = evaluate(&g, &q).unwrap_err().to_string();
    assert!(
        e.contains("other.safetensors") && e.contains("different weights"),
        "{e}"
    );
}

#[test]
fn features_of_named_and_nested_layers() {
    let (net, input) = splot::models::build("lenet5", 0.0, 0).unwrap();
    let e = Extractor::new(&net, "lenet5", "random:0", "f6", input).unwrap();
    let x = Tensor::randn(&[3, 1, 32, 32], 0.0, 1.0, &mut Rng::seed(2));
    let (f, d) = e.features(&net, &x).unwrap();
    assert_eq!(d, 84);
    for row in f.chunks(d) {
        let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }
    let px = Extractor::new(&net, "lenet5", "random:0", PIXELS, input).unwrap();
    assert_eq!(px.features(&net, &x).unwrap().1, 1024);
    let err = Extractor::new(&net, "lenet5", "random:0", "fc7", input).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("no layer 'fc7'") && msg.contains("c5, c5_act"),
        "{msg}"
    );
    // AlexNet's fc7 (after its ReLU) is `classifier.5`, inside a chain.
    let (alex, input) = splot::models::build("alexnet", 0.0, 0).unwrap();
    let e = Extractor::new(&alex, "alexnet", "random:0", "classifier.5", input).unwrap();
    let x = Tensor::randn(&[1, 3, 224, 224], 0.0, 1.0, &mut Rng::seed(3));
    assert_eq!(e.features(&alex, &x).unwrap().1, 4096);
}
