//! Criterion benchmarks of whole networks (LeNet-5 and resnet18 training steps; resnet18,
//! vgg16 and googlenet inference), at the sizes of `bench/compare.sh`:
//! `cargo bench -p splot --bench networks [-- FILTER]`. The workloads are listed in
//! `workloads/mod.rs`.
use criterion::{criterion_group, criterion_main, Criterion};

#[path = "workloads/criterion_glue.rs"]
mod criterion_glue;
mod workloads;

fn networks(c: &mut Criterion) {
    criterion_glue::bench_group(c, workloads::Group::Network);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = networks
}
criterion_main!(benches);
