//! RFC 9162 Merkle tree maths over the log's leaf hashes: the root of any size, inclusion and
//! consistency proofs, and their verification. Pure; the hashes are SHA-256 with the 0x00 (leaf)
//! and 0x01 (node) prefixes, so proofs interoperate with Certificate Transparency and Go's tlog.

use sha2::{Digest, Sha256};

pub(crate) type Hash = [u8; 32];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not below the tree size {size}")]
    IndexBeyondSize { index: u64, size: u64 },
    #[error("the sizes are not in order or the first is zero ({first} → {second})")]
    BadSizes { first: u64, second: u64 },
    #[error("a hash is not 32 bytes")]
    BadHashLength,
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the root")]
    RootMismatch,
}

/// SHA-256(0x00 ‖ data): the hash of a leaf.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// SHA-256(0x01 ‖ left ‖ right): the hash of an interior node.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of the empty tree: SHA-256 of nothing.
pub(crate) fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// A Merkle tree kept as the hashes of its complete subtrees, level by level (about two hashes
/// a leaf, as Go's tlog stores them), so the root of any size and any proof cost O(log² n).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub(crate) fn new() -> Tree {
        Tree::default()
    }

    pub fn from_leaves(leaves: impl IntoIterator<Item = Hash>) -> Tree {
        let mut tree = Tree::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }

    /// The stored hashes of one level (level 0: the leaves).
    pub(crate) fn level(&self, level: usize) -> &[Hash] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// How many levels have hashes.
    pub(crate) fn height(&self) -> usize {
        self.levels.len()
    }

    pub(crate) fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Adds a leaf hash and the hashes of the subtrees it completes.
    pub(crate) fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let n = self.levels[level].len();
            let parent = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
    }

    /// MTH of the leaves [lo, hi).
    fn range_root(&self, lo: u64, hi: u64) -> Hash {
        let n = hi - lo;
        if n == 0 {
            return empty_root();
        }
        if n.is_power_of_two() && lo.is_multiple_of(n) {
            let level = n.trailing_zeros() as usize;
            return self.levels[level][(lo >> level) as usize];
        }
        let k = split(n as usize) as u64;
        node_hash(&self.range_root(lo, lo + k), &self.range_root(lo + k, hi))
    }

    /// The root of the first `size` leaves.
    pub fn root(&self, size: u64) -> Option<Hash> {
        (size <= self.size()).then(|| self.range_root(0, size))
    }

    /// The inclusion proof of leaf `index` in the tree of the first `size` leaves (§2.1.3.1).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<Vec<Hash>> {
        if index >= size || size > self.size() {
            return None;
        }
        let mut proof = Vec::new();
        let (mut lo, mut hi, mut m) = (0, size, index);
        let mut stack = Vec::new();
        while hi - lo > 1 {
            let k = split((hi - lo) as usize) as u64;
            if m < k {
                stack.push(self.range_root(lo + k, hi));
                hi = lo + k;
            } else {
                stack.push(self.range_root(lo, lo + k));
                lo += k;
                m -= k;
            }
        }
        while let Some(h) = stack.pop() {
            proof.push(h);
        }
        Some(proof)
    }

    /// The consistency proof between the first `first` and the first `size` leaves (§2.1.4.1).
    pub fn consistency_proof(&self, first: u64, size: u64) -> Option<Vec<Hash>> {
        if first == 0 || first > size || size > self.size() {
            return None;
        }
        let mut stack = Vec::new();
        let (mut lo, mut hi, mut m, mut whole) = (0, size, first, true);
        loop {
            let n = hi - lo;
            if m == n {
                if !whole {
                    stack.push(self.range_root(lo, hi));
                }
                break;
            }
            let k = split(n as usize) as u64;
            if m <= k {
                stack.push(self.range_root(lo + k, hi));
                hi = lo + k;
            } else {
                stack.push(self.range_root(lo, lo + k));
                lo += k;
                m -= k;
                whole = false;
            }
        }
        stack.reverse();
        Some(stack)
    }
}

fn to_hash(bytes: &[u8]) -> Result<Hash, ProofError> {
    bytes.try_into().map_err(|_| ProofError::BadHashLength)
}

/// Checks an inclusion proof (§2.1.3.2).
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &[u8],
    proof: &[Vec<u8>],
    root: &[u8],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexBeyondSize { index, size });
    }
    let leaf = to_hash(leaf)?;
    let root = to_hash(root)?;
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = leaf;
    for p in proof {
        let p = to_hash(p)?;
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(&p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, &p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if r != root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// Checks a consistency proof (§2.1.4.2). A first size of zero proves nothing and is refused.
pub fn verify_consistency(
    first: u64,
    second: u64,
    proof: &[Vec<u8>],
    first_root: &[u8],
    second_root: &[u8],
) -> Result<(), ProofError> {
    if first == 0 || second < first {
        return Err(ProofError::BadSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength);
        }
        return if first_root == second_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    let first_root = to_hash(first_root)?;
    let second_root = to_hash(second_root)?;
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = proof.iter().map(|p| to_hash(p)).collect::<Result<_, _>>()?;
    if first.is_power_of_two() {
        path.insert(0, first_root);
    }
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != first_root || sr != second_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
