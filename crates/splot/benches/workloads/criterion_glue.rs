//! The criterion side of the workload registry: one benchmark per workload of a group,
//! each set up only when criterion's filter selects it. A layer's floating-point operations
//! are its throughput (criterion's "elem/s" are then FLOP/s); networks have none here (they
//! are counted on a forward pass, which a filtered-out workload should not pay for).

use crate::workloads::{all, Group, Workload};
use criterion::{Criterion, Throughput};

/// Registers every workload of `group` with criterion, under the group's name.
pub fn bench_group(c: &mut Criterion, group: Group) {
    crate::workloads::alloc::keep_freed_memory();
    splot::init_threads(None);
    let mut benches = c.benchmark_group(match group {
        Group::Layer => "layers",
        Group::Network => "networks",
    });
    let mut list: Vec<_> = all().into_iter().filter(|w| w.group() == group).collect();
    // A group's throughput, once set, holds for the benchmarks after it: those without
    // one come first.
    let flops = |w: &Workload| match group {
        Group::Layer => w
            .flops()
            .expect("a layer's operations are shape arithmetic"),
        Group::Network => 0.0,
    };
    list.sort_by_key(|w| flops(w) > 0.0);
    for workload in list {
        let operations = flops(&workload);
        if operations > 0.0 {
            benches.throughput(Throughput::Elements(operations as u64));
        }
        // Set up on the first call (criterion calls once per sample, and never for a
        // workload its filter leaves out), dropped after the workload's last sample.
        let mut runner = None;
        benches.bench_function(workload.name.as_str(), |b| {
            let run = runner.get_or_insert_with(|| {
                workload
                    .prepare()
                    .unwrap_or_else(|e| panic!("{}: {e}", workload.name))
            });
            b.iter(|| run().unwrap_or_else(|e| panic!("{}: {e}", workload.name)))
        });
    }
    benches.finish();
}
