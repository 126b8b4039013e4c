//! The mutation engine: byte-level mutators for any file, structural ones for JSON and CSV.
//! Every mutant is a pure function of the generator it is given, so a `(seed, index)` pair
//! reproduces it exactly.

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

/// How a file is structured, which picks the structural mutators that apply to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Raw bytes: byte-level mutators only.
    Binary,
    /// JSON text: structural mutators on its value tree, and byte-level ones.
    Json,
    /// CSV text: row and cell mutators, and byte-level ones.
    Csv,
}

/// Byte values that sit on boundaries decoders tend to get wrong.
const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'"', b',', b'\n'];

/// One mutant of `input` of `format`; `donor` is another valid input to splice from.
pub fn mutate(rng: &mut ChaCha8Rng, input: &[u8], format: Format, donor: &[u8]) -> Vec<u8> {
    let structural = match format {
        Format::Binary => None,
        Format::Json if rng.gen_bool(0.6) => json(rng, input),
        Format::Csv if rng.gen_bool(0.6) => csv(rng, input),
        _ => None,
    };
    match structural {
        Some(out) => out,
        None => bytes(rng, input, donor),
    }
}

/// One to four byte-level mutations: bit flips, byte sets, truncation, appends, deletions,
/// splices from `donor` and duplicated ranges.
pub fn bytes(rng: &mut ChaCha8Rng, input: &[u8], donor: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        byte_op(rng, &mut out, donor);
    }
    out
}

fn range(rng: &mut ChaCha8Rng, len: usize) -> (usize, usize) {
    if len == 0 {
        return (0, 0);
    }
    let start = rng.gen_range(0..len);
    let max = (len - start).min(if rng.gen_bool(0.8) { 16 } else { len });
    (start, start + rng.gen_range(1..=max))
}

fn byte_op(rng: &mut ChaCha8Rng, out: &mut Vec<u8>, donor: &[u8]) {
    let len = out.len();
    match rng.gen_range(0..7) {
        0 if len > 0 => {
            let i = rng.gen_range(0..len);
            out[i] ^= 1 << rng.gen_range(0..8);
        }
        1 if len > 0 => {
            let i = rng.gen_range(0..len);
            out[i] = if rng.gen_bool(0.5) {
                *INTERESTING.choose(rng).unwrap_or(&0)
            } else {
                rng.gen()
            };
        }
        2 if len > 0 => out.truncate(rng.gen_range(0..len)),
        3 => {
            let n = if rng.gen_bool(0.5) {
                rng.gen_range(1..=4)
            } else {
                rng.gen_range(1..=64)
            };
            if rng.gen_bool(0.3) {
                out.extend(std::iter::repeat_n(0u8, n));
            } else if rng.gen_bool(0.5) && len > 0 {
                let (a, b) = range(rng, len);
                let copy = out[a..b].to_vec();
                out.extend(copy);
            } else {
                out.extend((0..n).map(|_| rng.gen::<u8>()));
            }
        }
        4 if len > 0 => {
            let (a, b) = range(rng, len);
            out.drain(a..b);
        }
        5 if !donor.is_empty() => {
            let (a, b) = range(rng, donor.len());
            let at = rng.gen_range(0..=len);
            let end = if rng.gen_bool(0.5) {
                (at + (b - a)).min(len)
            } else {
                at
            };
            out.splice(at..end, donor[a..b].iter().copied());
        }
        6 if len > 0 => {
            let (a, b) = range(rng, len);
            let copy = out[a..b].to_vec();
            let at = rng.gen_range(0..=len);
            out.splice(at..at, copy);
        }
        _ => {
            let at = rng.gen_range(0..=len);
            out.insert(at, rng.gen());
        }
    }
}

/// A key no reader of the project knows, inserted by the field-added mutator.
const UNKNOWN_KEY: &str = "zz_unknown";
/// Stands for a key written twice: replaced in the serialised text by the duplicated key.
const DUP_MARK: &str = "\u{1}dup\u{1}";

/// A structural JSON mutant, or `None` when `input` is not JSON.
pub fn json(rng: &mut ChaCha8Rng, input: &[u8]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(input).ok()?;
    let mut dup_key = None;
    let path = pick_path(rng, &value);
    let target = walk(&mut value, &path);
    match rng.gen_range(0..8) {
        0 => {
            if let Value::Object(map) = target {
                if let Some(k) = map.keys().cloned().collect::<Vec<_>>().choose(rng) {
                    map.remove(k);
                }
            } else if let Value::Array(items) = target {
                if !items.is_empty() {
                    items.remove(rng.gen_range(0..items.len()));
                }
            }
        }
        1 => {
            if let Value::Object(map) = target {
                let value = map
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .choose(rng)
                    .cloned();
                map.insert(UNKNOWN_KEY.into(), value.unwrap_or(Value::Null));
            } else if let Value::Array(items) = target {
                if let Some(v) = items.choose(rng).cloned() {
                    let at = rng.gen_range(0..=items.len());
                    items.insert(at, v);
                }
            }
        }
        2 => {
            if let Value::Object(map) = target {
                let keys: Vec<String> = map.keys().cloned().collect();
                if let Some(k) = keys.choose(rng) {
                    let other = map.values().cloned().collect::<Vec<_>>();
                    let v = if rng.gen_bool(0.5) {
                        map[k].clone()
                    } else {
                        other.choose(rng).cloned().unwrap_or(Value::Null)
                    };
                    map.insert(DUP_MARK.into(), v);
                    dup_key = Some(k.clone());
                }
            }
        }
        3 => {
            if let Value::Object(map) = target {
                let keys: Vec<String> = map.keys().cloned().collect();
                if keys.len() >= 2 {
                    let a = keys.choose(rng).cloned().unwrap_or_default();
                    let b = keys.choose(rng).cloned().unwrap_or_default();
                    let va = map[&a].clone();
                    let vb = std::mem::replace(map.get_mut(&b).expect("key listed"), va);
                    map.insert(a, vb);
                }
            } else if let Value::Array(items) = target {
                if items.len() >= 2 {
                    let a = rng.gen_range(0..items.len());
                    let b = rng.gen_range(0..items.len());
                    items.swap(a, b);
                }
            }
        }
        _ => leaf(rng, target),
    }
    let text = if rng.gen_bool(0.5) {
        serde_json::to_string_pretty(&value)
    } else {
        serde_json::to_string(&value)
    }
    .ok()?;
    let text = match dup_key {
        Some(k) => {
            let escaped = serde_json::to_string(DUP_MARK).ok()?;
            let key = serde_json::to_string(&k).ok()?;
            text.replacen(&escaped, &key, 1)
        }
        None => text,
    };
    Some(text.into_bytes())
}

/// A random path from the root: at each container, stop or descend into a random child.
fn pick_path(rng: &mut ChaCha8Rng, value: &Value) -> Vec<PathStep> {
    let mut path = Vec::new();
    let mut node = value;
    loop {
        let next = match node {
            Value::Object(map) if !map.is_empty() && rng.gen_bool(0.75) => {
                let k = map.keys().nth(rng.gen_range(0..map.len())).cloned();
                k.map(|k| {
                    let child = &map[&k];
                    (PathStep::Key(k), child)
                })
            }
            Value::Array(items) if !items.is_empty() && rng.gen_bool(0.75) => {
                let i = rng.gen_range(0..items.len());
                Some((PathStep::Index(i), &items[i]))
            }
            _ => None,
        };
        match next {
            Some((step, child)) => {
                path.push(step);
                node = child;
            }
            None => return path,
        }
    }
}

#[derive(Debug)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn walk<'a>(mut value: &'a mut Value, path: &[PathStep]) -> &'a mut Value {
    for step in path {
        value = match (step, value) {
            (PathStep::Key(k), Value::Object(map)) => map.get_mut(k).expect("path from this value"),
            (PathStep::Index(i), Value::Array(items)) => &mut items[*i],
            _ => unreachable!("paths are picked from this value"),
        };
    }
    value
}

/// Changes a leaf: numbers nudged or replaced by boundary values, strings case-flipped,
/// extended or emptied, any value retyped.
fn leaf(rng: &mut ChaCha8Rng, target: &mut Value) {
    match target {
        Value::Number(n) => {
            let v = n.as_u64().unwrap_or(0);
            *target = match rng.gen_range(0..7) {
                0 => Value::from(v.wrapping_add(1)),
                1 => Value::from(v.wrapping_sub(1)),
                2 => Value::from(0u64),
                3 => Value::from(u64::MAX),
                4 => Value::from(-1i64),
                5 => Value::from(v as f64 + 0.5),
                _ => Value::from(v.to_string()),
            };
        }
        Value::String(s) => {
            *s = match rng.gen_range(0..5) {
                0 => s.to_uppercase(),
                1 => flip_one_case(rng, s),
                2 => format!("{s}0"),
                3 => s.chars().skip(1).collect(),
                _ => String::new(),
            };
        }
        Value::Bool(b) => *b = !*b,
        Value::Null => *target = Value::from(0u64),
        Value::Array(items) => {
            if rng.gen_bool(0.5) {
                items.clear();
            } else {
                items.reverse();
            }
        }
        Value::Object(_) => *target = Value::Object(Map::new()),
    }
}

fn flip_one_case(rng: &mut ChaCha8Rng, s: &str) -> String {
    let letters: Vec<usize> = s
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .map(|(i, _)| i)
        .collect();
    let Some(&at) = letters.choose(rng) else {
        return s.to_string();
    };
    let mut bytes = s.as_bytes().to_vec();
    bytes[at] ^= 0x20;
    String::from_utf8(bytes).unwrap_or_else(|_| s.to_string())
}

/// A structural CSV mutant: rows swapped, cells changed, lines dropped or duplicated.
pub fn csv(rng: &mut ChaCha8Rng, input: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(input).ok()?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return None;
    }
    let n = lines.len();
    match rng.gen_range(0..5) {
        0 if n >= 2 => {
            let a = rng.gen_range(0..n);
            let b = rng.gen_range(0..n);
            lines.swap(a, b);
        }
        1 => {
            lines.remove(rng.gen_range(0..n));
        }
        2 => {
            let i = rng.gen_range(0..n);
            let line = lines[i].clone();
            lines.insert(rng.gen_range(0..=n), line);
        }
        _ => {
            let i = rng.gen_range(0..n);
            let mut cells: Vec<String> = lines[i].split(',').map(str::to_string).collect();
            let c = rng.gen_range(0..cells.len());
            let cell = &cells[c];
            let v: u64 = cell.trim().parse().unwrap_or(0);
            cells[c] = match rng.gen_range(0..9) {
                0 => v.wrapping_add(1).to_string(),
                1 => v.wrapping_sub(1).to_string(),
                2 => String::new(),
                3 => format!(" {cell}"),
                4 => format!("0{cell}"),
                5 => "-1".into(),
                6 => u64::MAX.to_string(),
                7 => format!("\"{cell}\""),
                _ => cell.to_uppercase(),
            };
            if rng.gen_bool(0.1) {
                cells.push(String::new());
            }
            lines[i] = cells.join(",");
        }
    }
    let mut out = lines.join("\n");
    if text.ends_with('\n') {
        out.push('\n');
    }
    Some(out.into_bytes())
}
