//! Criterion benchmarks of single layers (convolutions forward and forward+backward,
//! pooling, normalisation) and of the GEMM, at the sizes of `bench/compare.sh`:
//! `cargo bench -p splot --bench layers [-- FILTER]`. The workloads are listed in
//! `workloads/mod.rs`.
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "workloads/criterion_glue.rs"]
mod criterion_glue;
mod workloads;

fn layers(c: &mut Criterion) {
    criterion_glue::bench_group(c, workloads::Group::Layer);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = layers
}
criterion_main!(benches);
