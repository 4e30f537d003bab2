//! Criterion bench of the hold model: the `sim` engine against a bare `BinaryHeap` loop, at
//! 1,000 and 100,000 pending events. `cargo bench -p benches --bench hold`.

use benches::hold::{run_binary_heap, run_engine};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const EVENTS: u64 = 1_000_000;

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    for pending in [1_000, 100_000] {
        group.bench_with_input(BenchmarkId::new("sim-engine", pending), &pending, |b, &n| {
            b.iter(|| run_engine(n, EVENTS, 1))
        });
        group.bench_with_input(BenchmarkId::new("binary-heap", pending), &pending, |b, &n| {
            b.iter(|| run_binary_heap(n, EVENTS, 1))
        });
    }
    group.finish();
}

criterion_group!(benches, hold);
criterion_main!(benches);
