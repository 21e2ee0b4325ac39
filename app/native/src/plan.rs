//! A baseline's binning plan (`app/binning/plans.py`) and `place`, its rule for one value.
//!
//! Counts are one flat vector per window, per baseline feature `[nulls, unseen, mismatched,
//! *cells]` at the feature's offset (the layout of `WindowHistogram.to_dict`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::event::Scalar;

/// FNV-1a: short keys, no hostile input to fear (a plan's keys come from its baseline).
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// `a == b` for the short byte strings of names and ids, without a call to `memcmp`.
#[inline]
pub fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 8 {
        let (mut x, mut y) = ([0u8; 8], [0u8; 8]);
        x[..a.len()].copy_from_slice(a);
        y[..b.len()].copy_from_slice(b);
        return u64::from_ne_bytes(x) == u64::from_ne_bytes(y);
    }
    a == b
}

pub enum Kind {
    /// Edges with the last one nudged up by one ulp (`bisect_right` gives the cell).
    Numeric(Edges),
    Categorical(Categories),
}

pub struct Categories {
    pub lookup: FnvMap<Vec<u8>, usize>,
    pub other: usize,
    pub complete: bool,
    pub numbers_native: bool,
    pub bools_native: bool,
    /// Some key could be the `repr` of a non-integral float ('.' or 'e' in it): such a
    /// float value is not placed here (Python's repr is the rule).
    pub float_keys: bool,
}

pub struct Feature {
    pub offset: usize,
    pub kind: Kind,
}

pub const NULL: usize = 0;
#[allow(dead_code)] // the layout's slot; unseen values go to Python, which keeps their text
pub const UNSEEN: usize = 1;
pub const MISMATCHED: usize = 2;
pub const CELLS: usize = 3;

/// CPython's `bisect_right`, step for step (the same answer for any edges).
#[inline]
fn bisect_right(edges: &[f64], x: f64) -> usize {
    let (mut lo, mut hi) = (0, edges.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        if x < edges[mid] {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Sorted edges with, for many of them (a KS grid's ~2,000), a table that narrows the
/// search: a binary search over thousands of edges is a chain of cache misses per value.
pub struct Edges {
    edges: Vec<f64>,
    lo: f64,
    scale: f64,
    /// `table[b]`: `bisect_right(edges, lo + b / scale)`, for b in 0..=BUCKETS; empty when
    /// the edges are few (or span no usable range).
    table: Vec<u32>,
}

/// Edges from which a feature gets a table, and the table's buckets (16 kB of it).
const TABLE_FROM: usize = 64;
const BUCKETS: usize = 4096;

impl Edges {
    pub fn new(edges: Vec<f64>) -> Self {
        let (lo, hi) = match (edges.first(), edges.last()) {
            (Some(&lo), Some(&hi)) => (lo, hi),
            _ => (0.0, 0.0),
        };
        let scale = BUCKETS as f64 / (hi - lo);
        let mut table = Vec::new();
        if edges.len() >= TABLE_FROM && edges.len() < u32::MAX as usize && scale.is_finite() && scale > 0.0 {
            table = (0..=BUCKETS).map(|b| bisect_right(&edges, lo + b as f64 / scale) as u32).collect();
        }
        Edges { edges, lo, scale, table }
    }

    /// `bisect_right(edges, x)`. The table only proposes a range; the two edges around it
    /// are checked against `x` before the search is narrowed to it, so the answer never
    /// depends on the table's rounding.
    #[inline]
    pub fn cell(&self, x: f64) -> usize {
        let edges = &self.edges;
        if !self.table.is_empty() {
            let f = (x - self.lo) * self.scale;
            if f >= 0.0 && f < BUCKETS as f64 {
                let b = f as usize;
                let (a, z) = (self.table[b] as usize, self.table[b + 1] as usize);
                if a <= z && (a == 0 || edges[a - 1] <= x) && (z == edges.len() || x < edges[z]) {
                    if z - a <= 4 {
                        // The usual few edges: counted without branches (an unpredictable
                        // branch per value cost more than the comparisons).
                        let last = edges.len() - 1;
                        let mut cell = a;
                        for k in 0..4 {
                            let j = a + k;
                            cell += usize::from(j < z && edges[j.min(last)] <= x);
                        }
                        return cell;
                    }
                    return a + bisect_right(&edges[a..z], x);
                }
            }
        }
        bisect_right(edges, x)
    }
}

/// Integers float64 holds exactly: beyond, Python compares an int with an edge exactly
/// and a conversion could round across it.
const EXACT: u64 = 1 << 53;

fn itoa(v: i64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    let neg = v < 0;
    let mut u = v.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (u % 10) as u8;
        u /= 10;
        if u == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Where a value goes: a slot now, or (a number of a numeric feature) a cell found later
/// with the feature's other numbers of the batch (`Feature::cell`).
pub enum Placed {
    Slot(usize),
    Number(f64),
}

impl Feature {
    /// Where `value` goes: a slot relative to `offset`, or a number for `cell`; None when
    /// not sure.
    #[inline]
    pub fn locate(&self, raw: &[u8], value: Scalar) -> Option<Placed> {
        match &self.kind {
            Kind::Numeric(_) => match value {
                Scalar::Float(v) => Some(Placed::Number(v)),
                Scalar::Int(v) if v.unsigned_abs() < EXACT => Some(Placed::Number(v as f64)),
                Scalar::Int(_) => None,
                Scalar::Null => Some(Placed::Slot(NULL)),
                Scalar::Bool(_) | Scalar::Str(..) => Some(Placed::Slot(MISMATCHED)),
            },
            Kind::Categorical(categories) => categories.slot(raw, value).map(Placed::Slot),
        }
    }

    /// The slot (relative to `offset`) of a number `locate` left; None for a feature that
    /// is not numeric.
    #[inline]
    pub fn cell(&self, x: f64) -> Option<usize> {
        match &self.kind {
            Kind::Numeric(edges) => Some(CELLS + edges.cell(x)),
            Kind::Categorical(_) => None,
        }
    }
}

impl Categories {
    /// The slot (relative to the feature's offset) of `value`, or None when not sure.
    #[inline]
    fn slot(&self, raw: &[u8], value: Scalar) -> Option<usize> {
        // An unseen value (complete vocabulary) is not placed here: the window keeps
        // its text (histogram format 2, ``unseen_values``), which Python records.
        let outside = |native: bool| {
            if !native {
                Some(MISMATCHED)
            } else if self.complete {
                None
            } else {
                Some(CELLS + self.other)
            }
        };
        let mut buf = [0u8; 24];
        let (key, native): (&[u8], bool) = match value {
            Scalar::Null => return Some(NULL),
            Scalar::Str(s, e) => {
                let text = &raw[s..e];
                if let Some(&cell) = self.lookup.get(text) {
                    return Some(CELLS + cell);
                }
                if self.bools_native {
                    if !text.is_ascii() {
                        return None; // str.lower() beyond ASCII: Python decides
                    }
                    let lower = text.to_ascii_lowercase();
                    if let Some(&cell) = self.lookup.get(&lower) {
                        return Some(CELLS + cell);
                    }
                }
                return outside(!self.bools_native);
            }
            Scalar::Bool(true) => (b"true", self.bools_native),
            Scalar::Bool(false) => (b"false", self.bools_native),
            Scalar::Int(v) => (itoa(v, &mut buf), self.numbers_native),
            Scalar::Float(v) => {
                if v.fract() == 0.0 {
                    if v.abs() >= 9.0e18 {
                        return None;
                    }
                    (itoa(v as i64, &mut buf), self.numbers_native)
                } else if self.float_keys {
                    return None;
                } else {
                    return outside(self.numbers_native);
                }
            }
        };
        match self.lookup.get(key) {
            Some(&cell) => Some(CELLS + cell),
            None => outside(native),
        }
    }
}

pub struct Plan {
    pub size: usize,
    pub by_name: FnvMap<Vec<u8>, usize>,
    pub names: Vec<Vec<u8>>,
    pub features: Vec<Feature>,
    pub prediction: Option<Feature>,
}
