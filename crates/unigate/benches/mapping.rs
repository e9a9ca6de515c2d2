//! Mapping engine: each provider's organizations `get` response mapping on the first record
//! of its emulator, one evaluation per iteration (`cargo bench -p unigate --bench mapping`).
//! The suite (`bench/run.sh`) compares the same evaluations with the JavaScript reference.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/mod.rs"]
mod support;

fn mapping(c: &mut Criterion) {
    let registry = unigate::catalog::load_registry(None).expect("the built-in catalog loads");
    let cases = support::mapping_cases(&registry).expect("mapping cases");
    let mut group = c.benchmark_group("organizations_get_response_mapping");
    for case in &cases {
        group.bench_function(case.provider.as_str(), |b| {
            b.iter(|| support::eval_mapping(black_box(case)))
        });
    }
    group.finish();
}

criterion_group!(benches, mapping);
criterion_main!(benches);
