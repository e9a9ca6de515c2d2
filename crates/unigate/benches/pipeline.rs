//! The request pipeline's CPU work without network: query parsing, cursor encode/decode,
//! `normalized` coercion and `truto_exclude_fields` (`cargo bench -p unigate --bench pipeline`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/mod.rs"]
mod support;

fn pipeline(c: &mut Criterion) {
    let registry = unigate::catalog::load_registry(None).expect("the built-in catalog loads");
    let p = support::pipeline(&registry);
    let mut group = c.benchmark_group("pipeline");
    group.bench_function("query_parse", |b| {
        b.iter(|| support::parse_query(black_box(support::QUERY)))
    });
    group.bench_function("cursor_round_trip", |b| {
        b.iter(|| support::cursor_round_trip(black_box(&p)))
    });
    group.bench_function("cursor_decode", |b| b.iter(|| support::cursor_decode(black_box(&p))));
    group.bench_function("format_normalize", |b| b.iter(|| support::normalize(black_box(&p))));
    group.bench_function("format_exclude", |b| b.iter(|| support::exclude(black_box(&p))));
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
