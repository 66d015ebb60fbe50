//! Spool commit costs with synchronous=FULL on the real disk (under target/, not a tmpfs): one
//! label submitted, a 500-label batch, a duplicate submit, and one document's full way to done.
//! Run: `cargo bench --bench spool`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

use labeld::order::Order;
use labeld::spool::{NewDocument, Spool};

fn reference_order() -> Order {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/orders/my-jnt-cod.json");
    Order::from_json_bytes(&std::fs::read(path).expect("fixture")).expect("valid order")
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A label with a key never used before.
fn fresh(base: &Order) -> NewDocument {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut o = base.clone();
    o.order_id = format!("BENCH-{n}");
    o.shipment.tracking_number = format!("BT{n:012}");
    NewDocument::label("dock-1", o)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir on disk");
    let spool = Spool::open(&dir.path().join("bench.db")).expect("spool");
    let base = reference_order();

    c.bench_function("spool: submit one label (commit, synchronous=FULL)", |b| {
        b.iter_batched(|| vec![fresh(&base)], |docs| spool.submit(black_box(docs)).unwrap(), BatchSize::SmallInput)
    });

    let known = spool.submit(vec![fresh(&base)]).unwrap().documents[0].key.clone();
    let known_doc = {
        let mut o = base.clone();
        o.order_id = "dup".into();
        NewDocument::label("dock-1", o).with_key(known)
    };
    c.bench_function("spool: submit a duplicate (lookup, no insert)", |b| {
        b.iter_batched(|| vec![known_doc.clone()], |docs| spool.submit(black_box(docs)).unwrap(), BatchSize::SmallInput)
    });

    let mut group = c.benchmark_group("spool batch");
    group.sample_size(20);
    group.bench_function("submit 500 labels (one commit)", |b| {
        b.iter_batched(|| (0..500).map(|_| fresh(&base)).collect::<Vec<_>>(), |docs| spool.submit(black_box(docs)).unwrap(), BatchSize::LargeInput)
    });
    group.finish();

    let bytes = vec![0x55u8; 9000]; // about one compressed ZPL label
    c.bench_function("spool: one document queued to done (5 commits)", |b| {
        b.iter_batched(
            || spool.submit(vec![fresh(&base)]).unwrap().documents[0].document,
            |id| {
                spool.claim(id).unwrap();
                spool.mark_ready(id, &bytes, "zpl").unwrap();
                spool.mark_sending(id).unwrap();
                spool.mark_sent(id).unwrap();
                spool.mark_done(id).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
