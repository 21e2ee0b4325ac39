//! Driftline's compiled decode-and-bin path (the Python side: `app/native/`).
//!
//! `fold` reads a batch of raw record values in order and folds each valid event of a
//! known model into its open window's counts, with no Python object per event or per
//! feature. It stops at the first record it is not sure about -- anything invalid or
//! unusual, and every record that would change the binner's state beyond "one more event
//! in an open window and a clock that closes nothing": a model without a clock here, a
//! window not open yet, a late or future event, a clock advance that closes a window. The
//! Python path then folds that record (and writes its dead letter) and calls `fold` again
//! after it. So every record's outcome is the Python path's by construction.

use std::cell::Cell;

use pyo3::buffer::PyBuffer;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

mod event;
mod plan;
mod records;
mod time;

use event::{parse, Limits, Parsed, Prediction, Scalar};
use plan::{Categories, Edges, Feature, FnvMap, Kind, Placed, Plan};

type FeatureSpec = (usize, Option<Vec<f64>>, Option<Vec<(String, usize)>>, usize, bool, bool, bool);

fn feature(spec: FeatureSpec) -> PyResult<Feature> {
    let (offset, edges, lookup, other, complete, numbers_native, bools_native) = spec;
    let kind = match (edges, lookup) {
        (Some(edges), None) => {
            if edges.iter().any(|e| !e.is_finite()) {
                return Err(PyValueError::new_err("numeric edges must be finite"));
            }
            Kind::Numeric(Edges::new(edges))
        }
        (None, Some(lookup)) => {
            let float_keys = lookup.iter().any(|(k, _)| k.contains(['.', 'e', 'E']));
            Kind::Categorical(Categories {
                lookup: lookup.into_iter().map(|(k, v)| (k.into_bytes(), v)).collect(),
                other,
                complete,
                numbers_native,
                bools_native,
                float_keys,
            })
        }
        _ => return Err(PyValueError::new_err("a feature has edges or a lookup, not both")),
    };
    Ok(Feature { offset, kind })
}

/// A baseline's binning plan, built once from its `HistogramLayout` (`app/native/plans.py`).
#[pyclass(name = "Plan", frozen, module = "driftline_native")]
struct PyPlan {
    plan: Plan,
}

#[pymethods]
impl PyPlan {
    /// `size`: length of a window's flat counts; `features`: (name, spec) of each feature
    /// (role "feature"); `prediction`: the prediction feature's spec, or None.
    #[new]
    fn new(
        size: usize,
        features: Vec<(String, FeatureSpec)>,
        prediction: Option<FeatureSpec>,
    ) -> PyResult<Self> {
        let mut by_name: FnvMap<Vec<u8>, usize> = FnvMap::default();
        let mut names = Vec::new();
        let mut feats = Vec::new();
        for (name, spec) in features {
            let f = feature(spec)?;
            if f.offset + 3 > size {
                return Err(PyValueError::new_err("feature offset beyond the counts"));
            }
            by_name.insert(name.clone().into_bytes(), feats.len());
            names.push(name.into_bytes());
            feats.push(f);
        }
        let prediction = prediction.map(feature).transpose()?;
        Ok(PyPlan { plan: Plan { size, by_name, names, features: feats, prediction } })
    }
}

/// Where a window's counts go: the caller's int64 array, added to in place, or (a
/// helper thread's share of a split chunk, see `fold`) counts of its own.
trait Counts {
    fn add(&mut self, slot: usize);
}

impl Counts for &[Cell<i64>] {
    #[inline]
    fn add(&mut self, slot: usize) {
        let c = &self[slot];
        c.set(c.get() + 1);
    }
}

impl Counts for Vec<i64> {
    #[inline]
    fn add(&mut self, slot: usize) {
        self[slot] += 1;
    }
}

/// One open window the batch may fold into.
struct Window<'p, C: Counts> {
    model: usize,
    start: i64,
    plan: &'p Plan,
    counts: C,
    /// Numbers of numeric features not binned yet, per feature (the prediction last):
    /// binned column by column (`flush`), so one feature's edges, table and counts stay
    /// in cache while its numbers are placed, instead of all features' per event.
    columns: Vec<Vec<f64>>,
    pending: usize,
    n: u64,
    first: usize,
    last: usize,
}

#[derive(Clone)]
struct Model {
    id: Vec<u8>,
    max_ts: i64,
    closed: Option<i64>,
}

/// Numbers a window holds before it bins them (`flush`), at most.
const MAX_PENDING: usize = 1 << 16;

impl<'p, C: Counts> Window<'p, C> {
    fn new(model: usize, start: i64, plan: &'p Plan, counts: C) -> Self {
        let columns = vec![Vec::new(); plan.features.len() + 1];
        Window { model, start, plan, counts, columns, pending: 0, n: 0, first: 0, last: 0 }
    }

    /// Bin the numbers left by `bin` into the counts, one feature at a time.
    fn flush(&mut self) {
        let plan = self.plan;
        for (c, column) in self.columns.iter_mut().enumerate() {
            if column.is_empty() {
                continue;
            }
            let f = if c < plan.features.len() { &plan.features[c] } else { plan.prediction.as_ref().expect("a prediction column") };
            for &x in column.iter() {
                self.counts.add(f.offset + f.cell(x).expect("numbers only of numeric features"));
            }
            column.clear();
        }
        self.pending = 0;
    }
}

/// Bin one parsed event with `plan`: the flat count slots to add one to, and the numbers
/// of numeric features as (column, number) for `Window::flush`; or None (nothing added).
#[allow(clippy::too_many_arguments)]
fn bin(
    raw: &[u8],
    ev: &Parsed,
    plan: &Plan,
    slots: &mut Vec<usize>,
    numbers: &mut Vec<(usize, f64)>,
    seen: &mut Vec<bool>,
    guess: &mut Vec<usize>,
) -> Option<()> {
    slots.clear();
    numbers.clear();
    seen.clear();
    seen.resize(plan.features.len(), false);
    for (j, &((s, e), value)) in ev.features.iter().enumerate() {
        let name = &raw[s..e];
        // Producers write their keys in the same order event after event: try the index
        // that held this position last time before hashing.
        let k = match guess.get(j) {
            Some(&k) if k < plan.names.len() && plan::same(&plan.names[k], name) => k,
            _ => {
                let k = *plan.by_name.get(name)?; // a feature the baseline lacks: Python
                if j < guess.len() {
                    guess[j] = k;
                } else {
                    guess.push(k);
                }
                k
            }
        };
        if seen[k] {
            return None; // a duplicated key (orjson keeps the last): Python
        }
        seen[k] = true;
        let f = &plan.features[k];
        match f.locate(raw, value)? {
            Placed::Slot(s) => slots.push(f.offset + s),
            Placed::Number(x) => numbers.push((k, x)),
        }
    }
    if let Some(pf) = &plan.prediction {
        let value = match ev.prediction? {
            Prediction::Value(v) => v,
            Prediction::Probs(a, b) => {
                // argmax; ties go to the first class in sorted order (UTF-8 bytes sort
                // as code points do).
                let probs = &ev.probs[a..b];
                let mut best = probs[0];
                for &(span, v) in &probs[1..] {
                    if v > best.1 || (v == best.1 && raw[span.0..span.1] < raw[best.0 .0..best.0 .1]) {
                        best = (span, v);
                    }
                }
                Scalar::Str(best.0 .0, best.0 .1)
            }
        };
        match pf.locate(raw, value)? {
            Placed::Slot(s) => slots.push(pf.offset + s),
            Placed::Number(x) => numbers.push((plan.features.len(), x)),
        }
    }
    Some(())
}

type WindowOut = Option<(u64, usize, usize)>;

/// Where `fold` reads its records: a list of record values, or whole lines in one buffer.
enum Source<'a, 'py> {
    List(&'a Bound<'py, PyList>),
    Lines(&'a [u8]),
    /// A fetch's bytes and its values' spans (`split_records`): 8 bytes per record, the
    /// value's start and end as little-endian u32, both u32::MAX for a null value.
    Spans(&'a [u8], &'a [u8]),
}

const NULL_SPAN: u32 = u32::MAX;

fn span_at(spans: &[u8], i: usize) -> Option<(u32, u32)> {
    let b = spans.get(i * 8..i * 8 + 8)?;
    let start = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let end = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    Some((start, end))
}

/// The end of the line starting at `pos` (after its `\n`, or the buffer's end), a word at
/// a time.
fn line_end(buf: &[u8], pos: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = ONES * b'\n' as u64;
    let mut i = pos;
    while i + 8 <= buf.len() {
        let word = u64::from_le_bytes(buf[i..i + 8].try_into().expect("8 bytes"));
        let x = word ^ NL;
        let found = x.wrapping_sub(ONES) & !x & HIGHS;
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize + 1;
        }
        i += 8;
    }
    while i < buf.len() {
        if buf[i] == b'\n' {
            return i + 1;
        }
        i += 1;
    }
    buf.len()
}

/// Fold `values[begin..]` until the first record the Python path must take.
///
/// `values`: a list of record values (`begin` an index into it), or a `bytes` of whole
/// lines, one record each with its `\n` (`begin` a byte offset at a line's start, and
/// `line0` that line's record index, from which records are numbered).
///
/// `limits`: (max_bytes, max_features, min_ts, max_ts); `spec`: (size_ms, lateness_ms,
/// max_future_ms, now_ms); `models`: (model_id, max_ts_ms, closed_upto_ms) of each model
/// with a clock here; `windows`: (model index, start_ms, plan, counts) of each open window
/// whose baseline the registry still chooses, `counts` a writable C-contiguous int64 array
/// of the plan's size that this adds the window's counts to (flat, per baseline feature
/// `[nulls, unseen, mismatched, *cells]`).
///
/// `only`: when given, a valid event of a model not in it is skipped (replay's and
/// analyze's model filter), before the future bound, as the Python path does.
///
/// `split_from`: lines at least this many bytes long are cut in two at a line, the second
/// half folded on a helper thread at the same time and the GIL released meanwhile
/// (`fold_split`); off by default (stage 1 and replay: the broker and stage 2 have the
/// other core).
///
/// Returns (stop index, each model's max_ts_ms, per window None or (events, first index,
/// last index), (first ts, last ts, min ts, max ts) of folded events or None,
/// (model_id, count) of skipped events, stop position: the index again, or for lines the
/// byte offset of the first line not taken).
#[pyfunction]
#[pyo3(signature = (values, begin, limits, spec, models, windows, only = None, line0 = 0, split_from = usize::MAX))]
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
fn fold<'py>(
    values: &Bound<'py, PyAny>,
    begin: usize,
    limits: (usize, usize, i64, i64),
    spec: (i64, i64, i64, i64),
    models: Vec<(String, i64, Option<i64>)>,
    windows: Vec<(usize, i64, Bound<'py, PyPlan>, Bound<'py, PyAny>)>,
    only: Option<Vec<String>>,
    line0: usize,
    split_from: usize,
) -> PyResult<(usize, Vec<i64>, Vec<WindowOut>, Option<(i64, i64, i64, i64)>, Vec<(String, u64)>, usize)> {
    let spans: (Bound<'py, PyBytes>, Bound<'py, PyBytes>);
    let (source, i) = if let Ok(list) = values.cast::<PyList>() {
        (Source::List(list), begin)
    } else if let Ok(bytes) = values.cast::<PyBytes>() {
        (Source::Lines(bytes.as_bytes()), line0)
    } else {
        spans = values.extract().map_err(|_| {
            PyValueError::new_err("values must be a list of record values, bytes of lines or (fetch bytes, spans)")
        })?;
        (Source::Spans(spans.0.as_bytes(), spans.1.as_bytes()), begin)
    };
    let only: Option<Vec<Vec<u8>>> = only.map(|v| v.into_iter().map(String::into_bytes).collect());
    let limits = Limits { max_bytes: limits.0, max_features: limits.1, min_ts: limits.2, max_ts: limits.3 };
    let (size, lateness, max_future, now) = spec;
    if size <= 0 {
        return Err(PyValueError::new_err("window size must be positive"));
    }
    let rules = Rules { limits, size, lateness, max_future, now, only: only.as_deref() };
    let mut models: Vec<Model> = models
        .into_iter()
        .map(|(id, max_ts, closed)| Model { id: id.into_bytes(), max_ts, closed })
        .collect();
    let py = values.py();
    let mut bufs: Vec<PyBuffer<i64>> = Vec::with_capacity(windows.len());
    for (_, _, _, counts) in &windows {
        bufs.push(PyBuffer::get(counts)?);
    }
    let mut wins: Vec<Window<&[Cell<i64>]>> = Vec::with_capacity(windows.len());
    for ((model, start, plan, _), buf) in windows.iter().zip(&bufs) {
        let plan = &plan.get().plan;
        if *model >= models.len() {
            return Err(PyValueError::new_err("window of an unknown model"));
        }
        let counts = match buf.as_mut_slice(py) {
            Some(c) if c.len() == plan.size => c,
            _ => return Err(PyValueError::new_err("counts must be a writable contiguous int64 array of the plan's size")),
        };
        wins.push(Window::new(*model, *start, plan, counts));
    }
    let mut st = Scanned { i, pos: begin, stats: None, skipped: Vec::new() };
    let split = match source {
        Source::Lines(buf) if buf.len().saturating_sub(begin) >= split_from.max(2) => {
            let mid = line_end(buf, begin + (buf.len() - begin) / 2);
            (mid < buf.len()).then_some((buf, mid))
        }
        _ => None,
    };
    if let Some((buf, mid)) = split {
        let specs: Vec<(usize, i64, &Plan)> = wins.iter().map(|w| (w.model, w.start, w.plan)).collect();
        let (first, second) = py.detach(|| fold_split(&rules, buf, (st.pos, st.i, mid), &specs, &models));
        apply(first, &mut wins, &mut models, &mut st);
        if let Some(second) = second {
            apply(second, &mut wins, &mut models, &mut st);
        }
    } else {
        scan(&rules, &source, usize::MAX, &mut wins, &mut models, &mut st);
    }
    for win in &mut wins {
        win.flush();
    }
    let out = wins
        .into_iter()
        .map(|w| if w.n == 0 { None } else { Some((w.n, w.first, w.last)) })
        .collect();
    let skipped = st
        .skipped
        .into_iter()
        .map(|(id, n)| (String::from_utf8(id).unwrap_or_default(), n))
        .collect();
    Ok((st.i, models.iter().map(|m| m.max_ts).collect(), out, st.stats, skipped, st.pos))
}

/// What decides whether a record is folded: the same for every record of a call.
struct Rules<'a> {
    limits: Limits,
    size: i64,
    lateness: i64,
    max_future: i64,
    now: i64,
    only: Option<&'a [Vec<u8>]>,
}

/// How far a scan got: the next record's index and position, the folded events' (first,
/// last, min, max) timestamps, and the events skipped per model (`only`).
struct Scanned {
    i: usize,
    pos: usize,
    stats: Option<(i64, i64, i64, i64)>,
    skipped: Vec<(Vec<u8>, u64)>,
}

impl Scanned {
    fn skip(&mut self, id: &[u8], n: u64) {
        match self.skipped.iter_mut().find(|(m, _)| m == id) {
            Some(entry) => entry.1 += n,
            None => self.skipped.push((id.to_vec(), n)),
        }
    }
}

/// Fold records from `st` on until one the Python path must take, or until position
/// `end` (lines only); true when it reached `end` without stopping.
fn scan<C: Counts>(
    rules: &Rules,
    source: &Source,
    end: usize,
    wins: &mut [Window<C>],
    models: &mut [Model],
    st: &mut Scanned,
) -> bool {
    let Rules { limits, size, lateness, max_future, now, only } = rules;
    let (size, lateness, max_future, now) = (*size, *lateness, *max_future, *now);
    let mut ev = Parsed::default();
    let (mut slots, mut numbers, mut seen, mut guess) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut last_model, mut last_win) = (usize::MAX, usize::MAX);
    let mut pos = st.pos; // of the next record: its list index or its line's first byte
    let mut i = st.i;
    let mut reached = false;
    loop {
        if pos >= end {
            reached = true;
            break;
        }
        let item;
        let (raw, next): (&[u8], usize) = match source {
            Source::List(list) => {
                if pos >= list.len() {
                    break;
                }
                let Ok(got) = list.get_item(pos) else { break };
                item = got;
                let Ok(bytes) = item.cast::<PyBytes>() else { break };
                (bytes.as_bytes(), pos + 1)
            }
            Source::Spans(buf, spans) => {
                let Some((start, end)) = span_at(spans, pos) else { break };
                if start == NULL_SPAN || start > end || end as usize > buf.len() {
                    break; // a null value (Python dead-letters it), or not a span of buf
                }
                (&buf[start as usize..end as usize], pos + 1)
            }
            Source::Lines(buf) => {
                if pos >= buf.len() {
                    break;
                }
                let end = line_end(buf, pos);
                (&buf[pos..end], end)
            }
        };
        if parse(raw, limits, &mut ev).is_none() {
            break;
        }
        let id = &raw[ev.model.0..ev.model.1];
        if let Some(only) = only {
            if !only.iter().any(|m| m == id) {
                st.skip(id, 1);
                i += 1;
                pos = next;
                continue;
            }
        }
        let m = if last_model < models.len() && plan::same(&models[last_model].id, id) {
            last_model
        } else {
            match models.iter().position(|m| plan::same(&m.id, id)) {
                Some(m) => m,
                None => break, // no clock yet (or not this run's model): Python
            }
        };
        last_model = m;
        let ts = ev.ts;
        if ts - now > max_future {
            break;
        }
        let start = ts - ts.rem_euclid(size);
        let model = &models[m];
        if let Some(closed) = model.closed {
            if start + size <= closed {
                break; // late
            }
        }
        if ts > model.max_ts {
            let wm = ts - lateness;
            let closes = wm - wm.rem_euclid(size);
            match model.closed {
                Some(closed) if closes <= closed => {}
                _ => break, // this event closes windows: Python emits them
            }
        }
        let w = if last_win < wins.len() && wins[last_win].model == m && wins[last_win].start == start {
            last_win
        } else {
            match wins.iter().position(|w| w.model == m && w.start == start) {
                Some(w) => w,
                None => break, // a window to open: Python
            }
        };
        last_win = w;
        let win = &mut wins[w];
        if bin(raw, &ev, win.plan, &mut slots, &mut numbers, &mut seen, &mut guess).is_none() {
            break;
        }
        for &s in &slots {
            win.counts.add(s);
        }
        for &(c, x) in &numbers {
            win.columns[c].push(x);
        }
        win.pending += numbers.len();
        if win.pending >= MAX_PENDING {
            win.flush();
        }
        if win.n == 0 {
            win.first = i;
        }
        win.n += 1;
        win.last = i;
        let model = &mut models[m];
        if ts > model.max_ts {
            model.max_ts = ts;
        }
        st.stats = Some(match st.stats {
            None => (ts, ts, ts, ts),
            Some((first, _, lo, hi)) => (first, ts, lo.min(ts), hi.max(ts)),
        });
        i += 1;
        pos = next;
    }
    st.i = i;
    st.pos = pos;
    reached
}

/// One thread's share of a split chunk of lines: its windows' own counts (and events,
/// first and last index), its clocks, how far it got, and whether it reached its end.
struct Part {
    windows: Vec<(Vec<i64>, u64, usize, usize)>,
    models: Vec<Model>,
    st: Scanned,
    reached: bool,
}

fn scan_part(
    rules: &Rules,
    buf: &[u8],
    (pos, i, end): (usize, usize, usize),
    specs: &[(usize, i64, &Plan)],
    mut models: Vec<Model>,
) -> Part {
    let mut wins: Vec<Window<Vec<i64>>> =
        specs.iter().map(|&(m, start, plan)| Window::new(m, start, plan, vec![0; plan.size])).collect();
    let mut st = Scanned { i, pos, stats: None, skipped: Vec::new() };
    let reached = scan(rules, &Source::Lines(buf), end, &mut wins, &mut models, &mut st);
    for w in &mut wins {
        w.flush();
    }
    let windows = wins.into_iter().map(|w| (w.counts, w.n, w.first, w.last)).collect();
    Part { windows, models, st, reached }
}

/// Lines `[pos, mid)` folded on this thread while a helper thread folds `[mid, ..)`, both
/// from the same starting state; the helper's part is returned only when the first ran to
/// `mid` without stopping. Then it is what one scan would have done: with no stop in the
/// first half, no window opened or closed there and every clock it advanced stayed below
/// the point that closes a window, so each record of the second half meets the same
/// decision. (A clock the first half advanced only spares a second-half event the closing
/// check, which the helper makes anyway: it may stop early, never late.) Runs without the
/// GIL: the lines are an immutable `bytes` the caller holds, the counts are the parts' own.
fn fold_split(
    rules: &Rules,
    buf: &[u8],
    (pos, i, mid): (usize, usize, usize),
    specs: &[(usize, i64, &Plan)],
    models: &[Model],
) -> (Part, Option<Part>) {
    let helper_i = i + buf[pos..mid].iter().filter(|&&b| b == b'\n').count();
    std::thread::scope(|s| {
        let helper = s.spawn(|| scan_part(rules, buf, (mid, helper_i, usize::MAX), specs, models.to_vec()));
        let first = scan_part(rules, buf, (pos, i, mid), specs, models.to_vec());
        let second = helper.join().ok();
        let ran_through = first.reached && first.st.pos == mid && first.st.i == helper_i;
        (first, second.filter(|_| ran_through))
    })
}

/// Add a part's counts, events, clocks and progress to the call's windows and state.
fn apply(part: Part, wins: &mut [Window<&[Cell<i64>]>], models: &mut [Model], st: &mut Scanned) {
    for (win, (counts, n, first, last)) in wins.iter_mut().zip(part.windows) {
        if n == 0 {
            continue;
        }
        for (cell, add) in win.counts.iter().zip(counts) {
            if add != 0 {
                cell.set(cell.get() + add);
            }
        }
        if win.n == 0 {
            win.first = first;
        }
        win.n += n;
        win.last = last;
    }
    for (model, part) in models.iter_mut().zip(part.models) {
        model.max_ts = model.max_ts.max(part.max_ts);
    }
    st.stats = match (st.stats, part.st.stats) {
        (a, None) => a,
        (None, b) => b,
        (Some((first, _, lo, hi)), Some((_, last, plo, phi))) => Some((first, last, lo.min(plo), hi.max(phi))),
    };
    for (id, n) in part.st.skipped {
        st.skip(&id, n);
    }
    st.i = part.st.i;
    st.pos = part.st.pos;
}

/// The native verdict on one record: (model_id, epoch ms) when it is surely a valid
/// event, else None. For tests and the fuzz run.
#[pyfunction]
#[pyo3(signature = (raw, max_bytes = 1 << 20, max_features = 1000, min_ts = 946_684_800_000, max_ts = 4_102_444_800_000))]
fn check(raw: &[u8], max_bytes: usize, max_features: usize, min_ts: i64, max_ts: i64) -> Option<(String, i64)> {
    let limits = Limits { max_bytes, max_features, min_ts, max_ts };
    let mut ev = Parsed::default();
    parse(raw, &limits, &mut ev)?;
    let id = std::str::from_utf8(&raw[ev.model.0..ev.model.1]).ok()?;
    Some((id.to_owned(), ev.ts))
}

/// The scanner's reading of one JSON number: (True, float) or (False, int), None when it
/// defers the text. For tests (against orjson).
#[pyfunction]
fn number(raw: &[u8]) -> Option<(bool, f64, i64)> {
    match event::number(raw)? {
        Scalar::Float(v) => Some((true, v, 0)),
        Scalar::Int(v) => Some((false, 0.0, v)),
        _ => None,
    }
}

/// A fetch's record batches split (`records.rs`): (next offset to fetch, offsets,
/// timestamps, keys, the values' spans packed as in `Source::Spans`), or None when
/// aiokafka must decode the fetch.
#[pyfunction]
#[pyo3(signature = (data, fetch_offset, check_crc = true))]
#[allow(clippy::type_complexity)]
fn split_records<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyBytes>,
    fetch_offset: i64,
    check_crc: bool,
) -> PyResult<Option<(i64, Bound<'py, PyList>, Bound<'py, PyList>, Bound<'py, PyList>, Bound<'py, PyBytes>)>> {
    let b = data.as_bytes();
    let Some(split) = records::split(b, fetch_offset, check_crc) else {
        return Ok(None);
    };
    let span = |s: records::Span| -> Bound<'py, PyAny> {
        match s {
            Some((start, end)) => PyBytes::new(py, &b[start..end]).into_any(),
            None => py.None().into_bound(py),
        }
    };
    let keys = PyList::new(py, split.keys.into_iter().map(span))?;
    if b.len() >= NULL_SPAN as usize {
        return Ok(None); // spans are u32: a fetch this large is aiokafka's to read
    }
    let mut packed = Vec::with_capacity(split.values.len() * 8);
    for v in split.values {
        let (start, end) = v.map_or((NULL_SPAN, NULL_SPAN), |(s, e)| (s as u32, e as u32));
        packed.extend_from_slice(&start.to_le_bytes());
        packed.extend_from_slice(&end.to_le_bytes());
    }
    let values = PyBytes::new(py, &packed);
    Ok(Some((
        split.next_offset,
        PyList::new(py, split.offsets)?,
        PyList::new(py, split.timestamps)?,
        keys,
        values,
    )))
}

/// A KS grid's `[cell, count, ...]` list as read from a partial (JSON, so Python ints):
/// the same pairs as little-endian int64 bytes, or None when the list is not plainly
/// valid -- an odd length, an item that is not exactly an int (bool, float, str), a
/// value beyond int64, cells not increasing from 0 up to below `n_cells`, a count of
/// zero. The Python reader (`app.binning.histogram._read_sparse`) then names the fault.
/// One pass with no Python object made: numpy's type check and conversion of the same
/// list took ~150 us per feature and partial, 6% of a worker on the bench.
#[pyfunction]
fn sparse_cells<'py>(py: Python<'py>, data: &Bound<'py, PyList>, n_cells: i64) -> Option<Bound<'py, PyBytes>> {
    let n = data.len();
    if n % 2 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(n * 8);
    let mut last: i64 = -1;
    for (k, item) in data.iter().enumerate() {
        // Exactly int: a bool is an int subclass, and JSON's true is not a count.
        let v: i64 = item.cast_exact::<pyo3::types::PyInt>().ok()?.extract().ok()?;
        if k % 2 == 0 {
            if v <= last || v >= n_cells {
                return None;
            }
            last = v;
        } else if v <= 0 {
            return None;
        }
        out.extend_from_slice(&v.to_le_bytes());
    }
    Some(PyBytes::new(py, &out))
}

/// CRC-32C of `data` (Kafka's batch checksum). For tests.
#[pyfunction]
fn crc32c(data: &[u8]) -> u32 {
    records::crc32c(data)
}

#[pymodule]
fn driftline_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPlan>()?;
    m.add_function(wrap_pyfunction!(fold, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(number, m)?)?;
    m.add_function(wrap_pyfunction!(split_records, m)?)?;
    m.add_function(wrap_pyfunction!(crc32c, m)?)?;
    m.add_function(wrap_pyfunction!(sparse_cells, m)?)?;
    m.add("ABI", 7)?;
    Ok(())
}
