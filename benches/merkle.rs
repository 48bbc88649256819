//! Proofs over a 1,000,000-event log: every sampled inclusion and consistency proof is generated
//! and verified, and the time per proof is reported as a ratio against a baseline measured in
//! the same run (hashing one leaf).
//!
//! `cargo bench --bench merkle`

use std::time::Instant;

use wexqs::transparency::merkle::{Tree, leaf_hash, verify_consistency, verify_inclusion};

fn main() {
    const N: u64 = 1_000_000;
    let start = Instant::now();
    let leaves: Vec<_> = (0..N).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    let per_leaf = start.elapsed().as_secs_f64() / N as f64;
    let start = Instant::now();
    let tree = Tree::from_leaves(leaves.iter().copied());
    let build = start.elapsed();
    let root = tree.root(N).expect("a root");

    let samples: Vec<u64> = (0..2_000u64).map(|i| (i * 7_919 * 131) % N).collect();
    let start = Instant::now();
    for &index in &samples {
        let proof: Vec<Vec<u8>> = tree
            .inclusion_proof(index, N)
            .expect("a proof")
            .iter()
            .map(|h| h.to_vec())
            .collect();
        verify_inclusion(index, N, &leaves[index as usize], &proof, &root).expect("verifies");
    }
    let per_inclusion = start.elapsed().as_secs_f64() / samples.len() as f64;

    let start = Instant::now();
    for &first in &samples {
        let first = first.max(1);
        let proof: Vec<Vec<u8>> = tree
            .consistency_proof(first, N)
            .expect("a proof")
            .iter()
            .map(|h| h.to_vec())
            .collect();
        let old = tree.root(first).expect("a root");
        verify_consistency(first, N, &proof, &old, &root).expect("verifies");
    }
    let per_consistency = start.elapsed().as_secs_f64() / samples.len() as f64;

    println!(
        "1,000,000 events: tree built in {:.2} s",
        build.as_secs_f64()
    );
    println!(
        "inclusion proof (make + verify): {:.1} µs, {:.0}x hashing one leaf",
        per_inclusion * 1e6,
        per_inclusion / per_leaf
    );
    println!(
        "consistency proof (make + verify, with the old root): {:.1} µs, {:.0}x hashing one leaf",
        per_consistency * 1e6,
        per_consistency / per_leaf
    );
}
