// SPDX-License-Identifier: GPL-2.0
//! A small JSON reader and writer: enough for fio's `--output-format=json`
//! and for the results file, without a dependency.

use std::collections::BTreeMap;
use std::fmt::{self, Write};

/// Why a text is not a JSON document. `at` is a byte offset from the
/// start of the document (after the text [`parse`] skips).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// The text holds no `{` or `[`.
    NoDocument,
    /// Byte `want` was expected.
    Expected { want: char, at: usize },
    /// After an array element or object member, ',' or `close` was
    /// expected.
    ExpectedSeparator { close: char, at: usize },
    /// The document ends inside a value.
    UnexpectedEnd { at: usize },
    /// A word starting with t, f or n is not true, false or null.
    BadLiteral { at: usize },
    /// The characters of a number do not parse as one.
    BadNumber { at: usize },
    /// An object key is not a string.
    ExpectedString { at: usize },
    /// A string is not UTF-8.
    BadUtf8 { at: usize },
    /// A string has no closing quote.
    UnterminatedString { at: usize },
    /// A `\u` escape at `at` has fewer than four characters after it.
    ShortEscape { at: usize },
    /// A `\u` escape at `at` is not four hex digits.
    BadEscape { at: usize },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match *self {
            JsonError::NoDocument => return f.write_str("no JSON document"),
            // These two have always been reported without the offset.
            JsonError::ShortEscape { .. } => return f.write_str("JSON: short \\u"),
            JsonError::BadEscape { .. } => return f.write_str("JSON: bad \\u"),
            JsonError::Expected { want, at } => {
                write!(f, "JSON: expected '{want}'")?;
                at
            }
            JsonError::ExpectedSeparator { close, at } => {
                write!(f, "JSON: expected ',' or '{close}'")?;
                at
            }
            JsonError::UnexpectedEnd { at } => {
                f.write_str("JSON: unexpected end")?;
                at
            }
            JsonError::BadLiteral { at } => {
                f.write_str("JSON: bad literal")?;
                at
            }
            JsonError::BadNumber { at } => {
                f.write_str("JSON: bad number")?;
                at
            }
            JsonError::ExpectedString { at } => {
                f.write_str("JSON: expected a string")?;
                at
            }
            JsonError::BadUtf8 { at } => {
                f.write_str("JSON: bad UTF-8")?;
                at
            }
            JsonError::UnterminatedString { at } => {
                f.write_str("JSON: unterminated string")?;
                at
            }
        };
        write!(f, " at byte {at}")
    }
}

impl std::error::Error for JsonError {}

/// A parsed JSON value. Objects keep their keys sorted.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Value>),
    Obj(BTreeMap<String, Value>),
}

impl Value {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Obj(m) => m.get(key),
            _ => None,
        }
    }

    /// Follows a path of object keys ("a.b.c" split by the caller).
    pub fn path(&self, keys: &[&str]) -> Option<&Value> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    pub fn num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            _ => None,
        }
    }

    pub fn arr(&self) -> Option<&[Value]> {
        match self {
            Value::Arr(a) => Some(a),
            _ => None,
        }
    }

    /// Serialises the value, indented by `indent` levels of two spaces.
    pub fn write(&self, out: &mut String, indent: usize) {
        let pad = |out: &mut String, n: usize| out.push_str(&"  ".repeat(n));
        match self {
            Value::Null => out.push_str("null"),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Num(n) if n.is_finite() => {
                let _ = write!(out, "{n}");
            }
            Value::Num(_) => out.push_str("null"),
            Value::Str(s) => quote(out, s),
            Value::Arr(a) if a.is_empty() => out.push_str("[]"),
            Value::Arr(a) => {
                out.push_str("[\n");
                for (i, v) in a.iter().enumerate() {
                    pad(out, indent + 1);
                    v.write(out, indent + 1);
                    out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push(']');
            }
            Value::Obj(m) if m.is_empty() => out.push_str("{}"),
            Value::Obj(m) => {
                out.push_str("{\n");
                for (i, (k, v)) in m.iter().enumerate() {
                    pad(out, indent + 1);
                    quote(out, k);
                    out.push_str(": ");
                    v.write(out, indent + 1);
                    out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
                }
                pad(out, indent);
                out.push('}');
            }
        }
    }
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses one JSON document; text before the first `{` or `[` (fio prints
/// warnings there) is skipped.
pub fn parse(text: &str) -> Result<Value, JsonError> {
    let start = text.find(['{', '[']).ok_or(JsonError::NoDocument)?;
    let mut p = Parser {
        s: &text.as_bytes()[start..],
        i: 0,
    };
    p.value()
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    /// `make(at)` as the error, at the current position.
    fn err<T>(&self, make: impl FnOnce(usize) -> JsonError) -> Result<T, JsonError> {
        Err(make(self.i))
    }

    fn eat(&mut self, c: u8) -> Result<(), JsonError> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(|at| JsonError::Expected {
                want: c as char,
                at,
            })
        }
    }

    fn value(&mut self) -> Result<Value, JsonError> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Obj(m));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value()?;
                    m.insert(k, v);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Obj(m));
                        }
                        _ => return self.err(|at| JsonError::ExpectedSeparator { close: '}', at }),
                    }
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Arr(a));
                }
                loop {
                    a.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Arr(a));
                        }
                        _ => return self.err(|at| JsonError::ExpectedSeparator { close: ']', at }),
                    }
                }
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b't') => self.word("true", Value::Bool(true)),
            Some(b'f') => self.word("false", Value::Bool(false)),
            Some(b'n') => self.word("null", Value::Null),
            Some(_) => self.number(),
            None => self.err(|at| JsonError::UnexpectedEnd { at }),
        }
    }

    fn word(&mut self, w: &str, v: Value) -> Result<Value, JsonError> {
        if self.s[self.i..].starts_with(w.as_bytes()) {
            self.i += w.len();
            Ok(v)
        } else {
            self.err(|at| JsonError::BadLiteral { at })
        }
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.i;
        while self.i < self.s.len()
            && matches!(
                self.s[self.i],
                b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
            )
        {
            self.i += 1;
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()
            .and_then(|t| t.parse().ok())
            .map(Value::Num)
            .map_or_else(|| self.err(|at| JsonError::BadNumber { at }), Ok)
    }

    fn string(&mut self) -> Result<String, JsonError> {
        if self.s.get(self.i) != Some(&b'"') {
            return self.err(|at| JsonError::ExpectedString { at });
        }
        self.i += 1;
        let mut out = Vec::new();
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            match c {
                b'"' => {
                    return String::from_utf8(out)
                        .or_else(|_| self.err(|at| JsonError::BadUtf8 { at }))
                }
                b'\\' => {
                    let e = self.s.get(self.i).copied();
                    self.i += 1;
                    match e {
                        Some(b'n') => out.push(b'\n'),
                        Some(b't') => out.push(b'\t'),
                        Some(b'r') => out.push(b'\r'),
                        Some(b'b') => out.push(8),
                        Some(b'f') => out.push(12),
                        Some(b'u') => {
                            let at = self.i;
                            let hex = self
                                .s
                                .get(at..at + 4)
                                .ok_or(JsonError::ShortEscape { at })?;
                            self.i += 4;
                            let cp = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .ok_or(JsonError::BadEscape { at })?;
                            let ch = char::from_u32(cp).unwrap_or('\u{fffd}');
                            let mut b = [0; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                        }
                        Some(c) => out.push(c),
                        None => return self.err(|at| JsonError::UnexpectedEnd { at }),
                    }
                }
                c => out.push(c),
            }
        }
        self.err(|at| JsonError::UnterminatedString { at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = "warning: x\n{\"a\": [1, 2.5e3, -3], \"b\": {\"c\": \"d\\\"e\\u0041\"}, \"n\": null, \"t\": true}";
        let v = parse(t).unwrap();
        assert_eq!(v.path(&["b", "c"]), Some(&Value::Str("d\"eA".into())));
        assert_eq!(
            v.get("a").and_then(Value::arr).map(|a| a[1].num()),
            Some(Some(2500.0))
        );
        let mut s = String::new();
        v.write(&mut s, 0);
        assert_eq!(parse(&s).unwrap(), v);
    }

    #[test]
    fn errors_print_as_before() {
        let cases = [
            (JsonError::NoDocument, "no JSON document"),
            (
                JsonError::Expected { want: ':', at: 4 },
                "JSON: expected ':' at byte 4",
            ),
            (
                JsonError::ExpectedSeparator { close: ']', at: 3 },
                "JSON: expected ',' or ']' at byte 3",
            ),
            (
                JsonError::UnexpectedEnd { at: 9 },
                "JSON: unexpected end at byte 9",
            ),
            (
                JsonError::BadLiteral { at: 1 },
                "JSON: bad literal at byte 1",
            ),
            (JsonError::BadNumber { at: 2 }, "JSON: bad number at byte 2"),
            (
                JsonError::ExpectedString { at: 1 },
                "JSON: expected a string at byte 1",
            ),
            (JsonError::BadUtf8 { at: 5 }, "JSON: bad UTF-8 at byte 5"),
            (
                JsonError::UnterminatedString { at: 6 },
                "JSON: unterminated string at byte 6",
            ),
            (JsonError::ShortEscape { at: 3 }, "JSON: short \\u"),
            (JsonError::BadEscape { at: 3 }, "JSON: bad \\u"),
        ];
        for (e, text) in cases {
            assert_eq!(e.to_string(), text);
        }
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse("{\"a\": }"), Err(JsonError::BadNumber { at: 6 }));
        let e = parse("x {\"a\": 1").unwrap_err();
        assert_eq!(e, JsonError::ExpectedSeparator { close: '}', at: 7 });
        assert_eq!(e.to_string(), "JSON: expected ',' or '}' at byte 7");
        assert_eq!(parse("nothing"), Err(JsonError::NoDocument));
        assert_eq!(
            parse("nothing").unwrap_err().to_string(),
            "no JSON document"
        );
        assert_eq!(
            parse("[\"\\u12\"]").unwrap_err().to_string(),
            "JSON: bad \\u"
        );
    }
}
