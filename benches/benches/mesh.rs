//! Criterion bench of the mesh model: `seed-failover` at 1,000 requests/s for 60 simulated
//! seconds (about 59,000 user requests, 8 pods per deployment). `cargo bench -p benches --bench mesh`.

use benches::mesh::{seed_failover_under_load, simulate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn mesh(c: &mut Criterion) {
    let scenario = seed_failover_under_load(1000.0, 60);
    let (requests, _) = simulate(&scenario);
    let mut group = c.benchmark_group("mesh");
    group.throughput(Throughput::Elements(requests));
    group.sample_size(10);
    group.bench_function("seed-failover-1000rps-60s", |b| b.iter(|| simulate(&scenario)));
    group.finish();
}

criterion_group!(benches, mesh);
criterion_main!(benches);
