//! One prediction event's bytes -> its model, time, features and prediction, or None.
//!
//! None means "not sure": the record goes to the Python path, which is the reference and
//! writes every dead letter. So this scanner accepts a strict subset of what
//! `app/contracts/decode.py` accepts, and must never accept what it rejects:
//!
//! * JSON (RFC 8259, as orjson reads it): valid UTF-8, no BOM, JSON whitespace only, no
//!   trailing commas or comments. Any string with a backslash escape is deferred (rare in
//!   events; decoding escapes is orjson's job). Integers beyond i64 (orjson turns them into
//!   floats) and floats that overflow are deferred.
//! * The event rule (`app/contracts/events.py`): `model_id` a string of 1 to 200
//!   characters, `schema_version` absent or the integer 1, `model_version` and `event_id`
//!   absent or strings, `timestamp` RFC 3339 text or a non-negative integer within the
//!   bounds, `features` an object of at most `max_features` scalar values, `prediction` a
//!   number, a string or a non-empty object of numbers. Other top-level keys are allowed
//!   (the rule ignores them) once they are well-formed JSON. A duplicated known key (orjson
//!   keeps the last) is deferred.

use crate::time::rfc3339_ms;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A string's byte span in the record (no escapes, valid UTF-8).
    Str(usize, usize),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prediction {
    Value(Scalar),
    /// Class probabilities: the range of `Parsed::probs` holding them.
    Probs(usize, usize),
}

pub struct Limits {
    pub max_bytes: usize,
    pub max_features: usize,
    pub min_ts: i64,
    pub max_ts: i64,
}

/// The reusable result of a parse: buffers keep their capacity from record to record.
#[derive(Default)]
pub struct Parsed {
    pub model: (usize, usize),
    pub ts: i64,
    pub features: Vec<((usize, usize), Scalar)>,
    pub probs: Vec<((usize, usize), f64)>,
    pub prediction: Option<Prediction>,
}

const MAX_DEPTH: usize = 64;

/// The powers of ten float64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

struct P<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> P<'a> {
    #[inline]
    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// A string without escapes: its content's span.
    #[inline]
    fn string(&mut self) -> Option<(usize, usize)> {
        self.eat(b'"')?;
        let start = self.i;
        let b = self.b;
        while self.i < b.len() {
            let c = b[self.i];
            if c == b'"' {
                self.i += 1;
                return Some((start, self.i - 1));
            }
            if c == b'\\' || c < 0x20 {
                return None;
            }
            self.i += 1;
        }
        None
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.len() - self.i >= word.len() && &self.b[self.i..self.i + word.len()] == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Digits from here on, accumulated into `m` (saturating: the caller checks `n`).
    #[inline]
    fn digits(&mut self, m: &mut u64) -> usize {
        let start = self.i;
        let b = self.b;
        while self.i < b.len() && b[self.i].is_ascii_digit() {
            *m = m.wrapping_mul(10).wrapping_add(u64::from(b[self.i] - b'0'));
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<Scalar> {
        let start = self.i;
        let neg = self.peek() == Some(b'-');
        if neg {
            self.i += 1;
        }
        // The decimal digits as one integer `m` (exact while at most 19 digits were read).
        let mut m: u64 = 0;
        let mut n = match self.peek()? {
            b'0' => {
                self.i += 1;
                1
            }
            b'1'..=b'9' => self.digits(&mut m),
            _ => return None,
        };
        let mut float = false;
        let mut scale: i64 = 0; // value = m * 10^scale
        if self.peek() == Some(b'.') {
            self.i += 1;
            let k = self.digits(&mut m);
            if k == 0 {
                return None;
            }
            n += k;
            scale = -(k as i64);
            float = true;
        }
        let mut exact_exp = true;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            let eneg = match self.peek() {
                Some(b'-') => {
                    self.i += 1;
                    true
                }
                Some(b'+') => {
                    self.i += 1;
                    false
                }
                _ => false,
            };
            let mut e: u64 = 0;
            let k = self.digits(&mut e);
            if k == 0 {
                return None;
            }
            if k > 4 {
                exact_exp = false;
            } else {
                scale += if eneg { -(e as i64) } else { e as i64 };
            }
            float = true;
        }
        if float {
            // Clinger's fast path: a mantissa below 2^53 and a power of ten float64 holds
            // exactly make one correctly rounded multiplication or division, the same
            // float as a full parse. Anything else takes the full parse.
            if exact_exp && n <= 19 && m < (1u64 << 53) && (-22..=22).contains(&scale) {
                let mut v = m as f64;
                if scale < 0 {
                    v /= POW10[(-scale) as usize];
                } else {
                    v *= POW10[scale as usize];
                }
                return Some(Scalar::Float(if neg { -v } else { v }));
            }
            // ASCII by construction.
            let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
            let v: f64 = text.parse().ok()?;
            if v.is_finite() {
                Some(Scalar::Float(v))
            } else {
                None
            }
        } else if n <= 18 {
            // At most 18 digits: below 10^18 < 2^63, exact in `m`.
            let v = m as i64;
            Some(Scalar::Int(if neg { -v } else { v }))
        } else {
            let text = std::str::from_utf8(&self.b[start..self.i]).ok()?;
            text.parse::<i64>().ok().map(Scalar::Int)
        }
    }

    /// A scalar value (objects and arrays: None).
    #[inline]
    fn scalar(&mut self) -> Option<Scalar> {
        match self.peek()? {
            b'"' => {
                let (s, e) = self.string()?;
                Some(Scalar::Str(s, e))
            }
            b't' => self.literal(b"true").map(|_| Scalar::Bool(true)),
            b'f' => self.literal(b"false").map(|_| Scalar::Bool(false)),
            b'n' => self.literal(b"null").map(|_| Scalar::Null),
            _ => self.number(),
        }
    }

    /// Any JSON value, checked and skipped.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.peek()? {
                        b',' => {
                            self.i += 1;
                            self.ws();
                        }
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            _ => self.scalar().map(|_| ()),
        }
    }

    /// `{` key `:` value (`,` ...)* `}`, calling `entry` at each value.
    fn object<F>(&mut self, mut entry: F) -> Option<()>
    where
        F: FnMut(&mut Self, (usize, usize)) -> Option<()>,
    {
        self.eat(b'{')?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.ws();
            self.eat(b':')?;
            self.ws();
            entry(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => {
                    self.i += 1;
                    self.ws();
                }
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }
}

/// One JSON number alone (`raw` holds nothing else): what the scanner reads, for tests.
pub fn number(raw: &[u8]) -> Option<Scalar> {
    let mut p = P { b: raw, i: 0 };
    let v = p.number()?;
    if p.i == raw.len() {
        Some(v)
    } else {
        None
    }
}

fn chars(s: &[u8]) -> usize {
    s.iter().filter(|&&c| c & 0xC0 != 0x80).count()
}

/// Parse and check one record into `out`. None: not sure (the Python path decides).
pub fn parse(raw: &[u8], limits: &Limits, out: &mut Parsed) -> Option<()> {
    if raw.len() > limits.max_bytes || std::str::from_utf8(raw).is_err() {
        return None;
    }
    out.features.clear();
    out.probs.clear();
    out.prediction = None;
    let mut p = P { b: raw, i: 0 };
    let mut model: Option<(usize, usize)> = None;
    let mut ts: Option<Scalar> = None;
    let mut seen_features = false;
    let (mut seen_schema, mut seen_version, mut seen_event) = (false, false, false);
    p.ws();
    p.object(|p, key| {
        match &raw[key.0..key.1] {
            b"model_id" => {
                if model.is_some() {
                    return None;
                }
                let span = p.string()?;
                let n = chars(&raw[span.0..span.1]);
                if n == 0 || n > 200 {
                    return None;
                }
                model = Some(span);
            }
            b"schema_version" => {
                if seen_schema || p.number()? != Scalar::Int(1) {
                    return None;
                }
                seen_schema = true;
            }
            b"model_version" => {
                if seen_version {
                    return None;
                }
                p.string()?;
                seen_version = true;
            }
            b"event_id" => {
                if seen_event {
                    return None;
                }
                p.string()?;
                seen_event = true;
            }
            b"timestamp" => {
                if ts.is_some() {
                    return None;
                }
                ts = Some(p.scalar()?);
            }
            b"features" => {
                if seen_features {
                    return None;
                }
                seen_features = true;
                let features = &mut out.features;
                p.object(|p, name| {
                    if &raw[name.0..name.1] == b"__prediction__" {
                        return None; // reserved for the model output: Python rejects it
                    }
                    let value = p.scalar()?;
                    features.push((name, value));
                    Some(())
                })?;
                if features.len() > limits.max_features {
                    return None;
                }
            }
            b"prediction" => {
                if out.prediction.is_some() {
                    return None;
                }
                if p.peek()? == b'{' {
                    let probs = &mut out.probs;
                    p.object(|p, class| match p.number()? {
                        Scalar::Int(v) if v.unsigned_abs() < (1u64 << 53) => {
                            probs.push((class, v as f64));
                            Some(())
                        }
                        Scalar::Float(v) => {
                            probs.push((class, v));
                            Some(())
                        }
                        _ => None,
                    })?;
                    if probs.is_empty() || probs.len() > 256 {
                        return None;
                    }
                    for (k, (a, _)) in probs.iter().enumerate() {
                        for (b, _) in &probs[k + 1..] {
                            if raw[a.0..a.1] == raw[b.0..b.1] {
                                return None; // orjson keeps the last: not sure
                            }
                        }
                    }
                    out.prediction = Some(Prediction::Probs(0, probs.len()));
                } else {
                    match p.scalar()? {
                        v @ (Scalar::Int(_) | Scalar::Float(_) | Scalar::Str(..)) => {
                            out.prediction = Some(Prediction::Value(v));
                        }
                        _ => return None,
                    }
                }
            }
            _ => p.skip_value(1)?,
        }
        Some(())
    })?;
    p.ws();
    if p.i != raw.len() || !seen_features || out.prediction.is_none() {
        return None;
    }
    out.model = model?;
    let ms = match ts? {
        Scalar::Str(s, e) => rfc3339_ms(&raw[s..e])?,
        Scalar::Int(v) if v >= 0 => v,
        _ => return None, // a float epoch (integral ones are valid): Python decides
    };
    if ms < limits.min_ts || ms > limits.max_ts {
        return None;
    }
    out.ts = ms;
    Some(())
}
