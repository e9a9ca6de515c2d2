//! The projected parse's fast path: a provider's answer read for the members a mapping
//! reads, every other byte only checked.
//!
//! Through serde_json, a GitHub organization (1.8 KB, of which the mapping reads a few
//! members) cost 27,000 instructions, a sixth of a unified `get`, mostly serde's visitor
//! calls per member (bench/ANALYSIS.md, twenty-first pass). [`projected`] checks the text
//! itself and builds only the members read: 23,000 reading strings eight bytes at a time,
//! 14,300 at sixteen with the string scan inlined (twenty-seventh pass).
//! Written here because no crate does this as needed: sonic-rs and simd-json skip fast, but
//! neither promises to refuse everything serde_json refuses, and a text serde_json refuses
//! must stay an error (`remote_data` splices the bytes).
//!
//! So the rule is one-sided: [`projected`] accepts only texts serde_json accepts, and gives
//! the same value for them; on anything else, or anything it is unsure of, it gives `None`
//! and the caller runs serde_json's parse, which gives its value or its error. The tests
//! compare both on generated texts and on mutations of them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};
use wide::u8x16;

use super::reads::Reads;

/// Deeper nesting than this is left to serde_json (which refuses more than 128 levels).
const MAX_DEPTH: u32 = 100;

/// `text` (already checked as UTF-8, with no surrogate escape) projected on `reads`, as
/// `reads::parse_projected`'s serde_json path builds it; `None` when that path must decide.
pub(super) fn projected(text: &str, reads: &Reads) -> Option<Value> {
    let mut scan = Scan { text, i: 0, depth: 0 };
    scan.ws();
    let value = scan.value(reads)?;
    scan.ws();
    (scan.i == scan.text.len()).then_some(value)
}

/// A string of the text (a value or a member's name): where it is, quotes included, and
/// whether it has escapes.
struct Str {
    quoted: std::ops::Range<usize>,
    escaped: bool,
}

struct Scan<'t> {
    text: &'t str,
    i: usize,
    depth: u32,
}

/// A name's bit in a set of names (a 64-bit mask), from its length and first byte.
fn name_bit(name: &[u8]) -> u64 {
    let first = u32::from(name.first().copied().unwrap_or(0));
    // Truncation intended: only the low bits pick the bit.
    1 << ((name.len() as u32).wrapping_mul(7).wrapping_add(first) % 64)
}

/// A bit for each of the sixteen bytes at `i` that is a quote, a backslash or a control
/// character (below 0x20), the lowest bit for the first; `None` when fewer than sixteen are
/// left. With SSE2, nine instructions; eight bytes as a `u64` took about thirty.
fn specials(b: &[u8], i: usize) -> Option<u32> {
    let chunk: [u8; 16] = b.get(i..i.checked_add(16)?)?.try_into().ok()?;
    let v = u8x16::new(chunk);
    // A byte is at most 0x1f when the smaller of it and 0x1f is itself.
    let control = v.min(u8x16::splat(0x1f)).simd_eq(v);
    Some((v.simd_eq(u8x16::splat(b'"')) | v.simd_eq(u8x16::splat(b'\\')) | control).to_bitmask())
}

impl<'t> Scan<'t> {
    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// The bytes between `s`'s quotes, escapes as they are written.
    fn inner(&self, s: &Str) -> &'t [u8] {
        self.bytes()
            .get(s.quoted.start + 1..s.quoted.end - 1)
            .unwrap_or_default()
    }

    /// The text `s` spells: borrowed when it has no escapes, else decoded by serde_json.
    /// (Always inlined: as a call, once per member name, it cost 2,600 instructions a `get`.)
    #[inline(always)]
    fn unquoted(&self, s: &Str) -> Option<Cow<'t, str>> {
        if s.escaped {
            serde_json::from_str(self.text.get(s.quoted.clone())?)
                .ok()
                .map(Cow::Owned)
        } else {
            self.text.get(s.quoted.start + 1..s.quoted.end - 1).map(Cow::Borrowed)
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.i += 1;
        }
    }

    /// Past `byte` (after white space), or `None`.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek()? == byte).then(|| self.i += 1)
    }

    /// The value at the cursor, projected on `reads`.
    fn value(&mut self, reads: &Reads) -> Option<Value> {
        self.ws();
        match (self.peek()?, reads) {
            (b'{', Reads::Fields(fields)) => self.object(fields),
            (b'[', Reads::Fields(_)) => self.array(reads),
            (b'"', _) => {
                let s = self.string()?;
                Some(Value::String(self.unquoted(&s)?.into_owned()))
            }
            (b't', _) => self.literal(b"true").map(|()| Value::Bool(true)),
            (b'f', _) => self.literal(b"false").map(|()| Value::Bool(false)),
            (b'n', _) => self.literal(b"null").map(|()| Value::Null),
            (b'0'..=b'9', _) => {
                let start = self.i;
                let plain = self.number()?;
                let digits = &self.text[start..self.i];
                if plain && digits.len() <= 19 {
                    // At most 19 digits always fit a u64, as serde_json reads them.
                    digits.parse::<u64>().ok().map(Value::from)
                } else {
                    serde_json::from_str(digits).ok()
                }
            }
            _ => {
                // A whole object or array, a negative number: checked here, built by
                // serde_json (which may still refuse it: a number out of range).
                let start = self.i;
                self.skip()?;
                serde_json::from_str(&self.text[start..self.i]).ok()
            }
        }
    }

    /// The object at the cursor with only the members in `fields`.
    fn object(&mut self, fields: &BTreeMap<String, Reads>) -> Option<Value> {
        // One bit per name read, from its length and first byte: most members are not
        // read, and most of those are told apart by that alone, without a lookup.
        let bits = fields.keys().fold(0u64, |m, k| m | name_bit(k.as_bytes()));
        let mut out = Map::with_capacity(fields.len());
        self.members(|scan, name| {
            // A name without escapes is its bytes: its bit is taken from them, and only a
            // name whose bit is set is made a `str` and looked up.
            let read = if name.escaped || bits & name_bit(scan.inner(&name)) != 0 {
                fields.get_key_value(&*scan.unquoted(&name)?)
            } else {
                None
            };
            match read {
                Some((name, r)) => {
                    let v = scan.value(r)?;
                    out.insert(name.clone(), v);
                }
                None => scan.skip()?,
            }
            Some(())
        })?;
        Some(Value::Object(out))
    }

    /// The array at the cursor, each item projected on `reads`.
    fn array(&mut self, reads: &Reads) -> Option<Value> {
        let mut out = Vec::new();
        self.items(|scan| {
            out.push(scan.value(reads)?);
            Some(())
        })?;
        Some(Value::Array(out))
    }

    /// Past the object at the cursor, handing each member to `member` with the cursor at
    /// its value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, Str) -> Option<()>) -> Option<()> {
        self.sequence(b'}', |scan| {
            if scan.peek()? != b'"' {
                return None;
            }
            let name = scan.string()?;
            scan.eat(b':')?;
            scan.ws();
            member(scan, name)
        })
    }

    /// Past the array at the cursor, handing each item to `item` with the cursor at it.
    fn items(&mut self, item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.sequence(b']', item)
    }

    /// Past the object or array at the cursor (its opening bracket), whose entries, comma
    /// separated, `entry` reads, up to `close`.
    fn sequence(&mut self, close: u8, mut entry: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
        } else {
            loop {
                self.ws();
                entry(self)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    c if c == close => {
                        self.i += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Past the value at the cursor (no white space before it), checked, nothing built.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.members(|scan, _| scan.skip()),
            b'[' => self.items(Self::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.bytes().get(self.i..end)? == word).then(|| self.i = end)
    }

    /// Past the string at the cursor (its opening quote), and where it was. Refuses a
    /// control character, an unknown escape and a surrogate escape (those go to
    /// serde_json, which checks pairs).
    /// (Always inlined: as a call, twice per member, its result went back through memory,
    /// and a `get` cost 3,100 instructions more; bench/ANALYSIS.md, twenty-seventh pass.)
    #[inline(always)]
    fn string(&mut self) -> Option<Str> {
        let b = self.bytes();
        let start = self.i;
        let mut i = start + 1;
        let mut escaped = false;
        loop {
            // Sixteen bytes at a time while they last: the first quote, backslash or control
            // character among them, if any. (memchr's vector search measured slower: most
            // strings here are short, and it looks for at most three bytes, not a range.)
            while let Some(special) = specials(b, i) {
                if special != 0 {
                    i += special.trailing_zeros() as usize;
                    break;
                }
                i += 16;
            }
            match *b.get(i)? {
                b'"' => {
                    self.i = i + 1;
                    return Some(Str {
                        quoted: start..self.i,
                        escaped,
                    });
                }
                b'\\' => {
                    escaped = true;
                    match *b.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let hex = b.get(i + 2..i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit)
                                || (matches!(hex[0], b'd' | b'D') && !matches!(hex[1], b'0'..=b'7'))
                            {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => i += 1,
            }
        }
    }

    /// Past the number at the cursor, by JSON's grammar; whether it is a plain non-negative
    /// integer (digits only).
    fn number(&mut self) -> Option<bool> {
        let b = self.bytes();
        let mut i = self.i;
        let mut plain = true;
        if b.get(i) == Some(&b'-') {
            plain = false;
            i += 1;
        }
        match *b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => i = digits_end(b, i),
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            plain = false;
            i = some_digits(b, i + 1)?;
        }
        if let Some(b'e' | b'E') = b.get(i) {
            plain = false;
            i += 1;
            if let Some(b'+' | b'-') = b.get(i) {
                i += 1;
            }
            i = some_digits(b, i)?;
        }
        self.i = i;
        Some(plain)
    }
}

/// The end of the run of digits at `i` (`i` itself when there is none).
fn digits_end(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

/// The end of the run of at least one digit at `i`.
fn some_digits(b: &[u8], i: usize) -> Option<usize> {
    let end = digits_end(b, i);
    (end > i).then_some(end)
}
