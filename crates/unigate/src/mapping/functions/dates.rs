//! `$dtFromIso` and `$dtFromFormat`: Truto's date parsing (Luxon), as a plain object of the
//! date's parts in its time zone (`year`, `month`, `weekday`, `offset`, `zoneName`, ...).
//!
//! Truto's objects also carry Luxon's methods (`.toFormat()`, `.plus()`, ...) and serialise
//! as ISO text; a host function can only return data, so Unigate's are the properties alone
//! (docs/jsonata-functions.md). The default zone is UTC, the zone Truto's workers run in.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::{OffsetComponents, OffsetName, Tz};
use indexmap::IndexMap;
use jsonata_core::evaluator::EvaluatorError;
use jsonata_core::value::JValue;
use regex::Regex;
use serde_json::Value;

use super::{arg, js_string};

/// A zone as Luxon names it.
#[derive(Clone)]
enum Zone {
    /// The process's zone (UTC), when none is asked for.
    System,
    Fixed(i32),
    Iana(Tz),
}

impl Zone {
    fn parse(name: &str) -> Option<Zone> {
        let lower = name.to_ascii_lowercase();
        if lower == "utc" || lower == "gmt" || lower == "z" || lower == "etc/utc" {
            return Some(Zone::Fixed(0));
        }
        if lower == "local" || lower == "system" {
            return Some(Zone::System);
        }
        if let Some(rest) = lower.strip_prefix("utc").or_else(|| lower.strip_prefix("gmt")) {
            return parse_offset(rest).map(|m| Zone::Fixed(m / 60));
        }
        name.parse::<Tz>().ok().map(Zone::Iana)
    }

    fn name(&self) -> String {
        match self {
            Zone::System | Zone::Fixed(0) => "UTC".into(),
            Zone::Fixed(m) => format!("UTC{}", offset_short(*m)),
            Zone::Iana(tz) => tz.name().into(),
        }
    }

    /// The offset in minutes east of UTC at this instant.
    fn offset_at(&self, utc: &NaiveDateTime) -> i32 {
        match self {
            Zone::System => 0,
            Zone::Fixed(m) => *m,
            Zone::Iana(tz) => tz.offset_from_utc_datetime(utc).fix().local_minus_utc() / 60,
        }
    }

    /// The offset of a wall-clock time in this zone, found as Luxon's `fixOffset` finds it:
    /// from a first guess (the zone's offset now), so an ambiguous or skipped time resolves
    /// as it does in Truto's library on the same day.
    fn offset_of_local(&self, local: &NaiveDateTime) -> i32 {
        let Zone::Iana(_) = self else {
            return self.offset_at(local);
        };
        let minutes = |m: i32| chrono::Duration::minutes(i64::from(m));
        let o = self.offset_at(&Utc::now().naive_utc());
        let mut guess = *local - minutes(o);
        let o2 = self.offset_at(&guess);
        if o == o2 {
            return o;
        }
        guess -= minutes(o2 - o);
        let o3 = self.offset_at(&guess);
        if o2 == o3 {
            return o2;
        }
        // A skipped time: Luxon reads it with the earlier offset, which moves it past the gap.
        o2.min(o3)
    }
}

/// `+05:30`, `+5:30`, `+0530`, `+05`, `-8` to signed seconds.
fn parse_offset(s: &str) -> Option<i32> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m) * 60)
}

/// Luxon's short offset text: `+5:30`, `-8`, `+1`.
fn offset_short(minutes: i32) -> String {
    let sign = if minutes < 0 { '-' } else { '+' };
    let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
    if m == 0 {
        format!("{sign}{h}")
    } else {
        format!("{sign}{h}:{m:02}")
    }
}

/// A valid date: the instant and the zone it is seen in.
struct Dt {
    utc: NaiveDateTime,
    zone: Zone,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn num(n: impl Into<f64>) -> JValue {
    JValue::Number(n.into())
}

fn text(s: impl Into<String>) -> JValue {
    JValue::string(s.into())
}

impl Dt {
    fn object(&self) -> JValue {
        let offset = self.zone.offset_at(&self.utc);
        let local = self.utc + chrono::Duration::minutes(i64::from(offset));
        let (date, time) = (local.date(), local.time());
        let leap = NaiveDate::from_ymd_opt(date.year(), 2, 29).is_some();
        let days_in_month = {
            let (y, m) = if date.month() == 12 {
                (date.year() + 1, 1)
            } else {
                (date.year(), date.month() + 1)
            };
            NaiveDate::from_ymd_opt(y, m, 1)
                .and_then(|d| d.pred_opt())
                .map_or(31, |d| d.day())
        };
        let iso = date.iso_week();
        let weeks_in_week_year = NaiveDate::from_ymd_opt(iso.year(), 12, 28).map_or(52, |d| d.iso_week().week());
        let (short_name, long_name, in_dst, fixed) = match &self.zone {
            Zone::System => (
                "UTC".to_string(),
                "Coordinated Universal Time".to_string(),
                false,
                false,
            ),
            Zone::Fixed(0) => ("UTC".into(), "UTC".into(), false, true),
            Zone::Fixed(m) => (
                format!("UTC{}", offset_short(*m)),
                format!("UTC{}", offset_short(*m)),
                false,
                true,
            ),
            Zone::Iana(tz) => {
                let o = tz.offset_from_utc_datetime(&self.utc);
                let abbr = o.abbreviation().unwrap_or_default().to_string();
                let dst = !o.dst_offset().is_zero();
                let (short, long) = us_zone_names(tz.name(), &abbr).unwrap_or_else(|| gmt_names(offset));
                (short, long, dst, false)
            }
        };
        let mut m = IndexMap::new();
        let mut put = |k: &str, v: JValue| {
            m.insert(k.to_string(), v);
        };
        put("year", num(date.year()));
        put("quarter", num((date.month() - 1) / 3 + 1));
        put("month", num(date.month()));
        put("day", num(date.day()));
        put("hour", num(time.hour()));
        put("minute", num(time.minute()));
        put("second", num(time.second()));
        put("millisecond", num(time.nanosecond() / 1_000_000));
        put("weekYear", num(iso.year()));
        put("weekNumber", num(iso.week()));
        put("weekday", num(date.weekday().number_from_monday()));
        put("ordinal", num(date.ordinal()));
        let month = MONTHS[date.month0() as usize];
        let weekday = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
        put("monthShort", text(&month[..3]));
        put("monthLong", text(month));
        put("weekdayShort", text(&weekday[..3]));
        put("weekdayLong", text(weekday));
        put("offset", num(offset));
        put("offsetNameShort", text(short_name));
        put("offsetNameLong", text(long_name));
        put("zoneName", text(self.zone.name()));
        put("daysInMonth", num(days_in_month));
        put("daysInYear", num(if leap { 366 } else { 365 }));
        put("weeksInWeekYear", num(weeks_in_week_year));
        put("isInLeapYear", JValue::Bool(leap));
        put("isInDST", JValue::Bool(in_dst));
        put("isOffsetFixed", JValue::Bool(fixed));
        put("isValid", JValue::Bool(true));
        put("invalidReason", JValue::Null);
        put("invalidExplanation", JValue::Null);
        put("locale", text("en-US"));
        put("numberingSystem", JValue::Null);
        put("outputCalendar", JValue::Null);
        put("zone", text(self.zone.name()));
        JValue::object(m)
    }
}

/// en-US names of the United States' zones (what `Intl` prints for them).
fn us_zone_names(zone: &str, abbr: &str) -> Option<(String, String)> {
    if !(zone.starts_with("America/") || zone.starts_with("US/") || zone == "Pacific/Honolulu") {
        return None;
    }
    let long = match abbr {
        "EST" => "Eastern Standard Time",
        "EDT" => "Eastern Daylight Time",
        "CST" => "Central Standard Time",
        "CDT" => "Central Daylight Time",
        "MST" => "Mountain Standard Time",
        "MDT" => "Mountain Daylight Time",
        "PST" => "Pacific Standard Time",
        "PDT" => "Pacific Daylight Time",
        "AKST" => "Alaska Standard Time",
        "AKDT" => "Alaska Daylight Time",
        "HST" => "Hawaii-Aleutian Standard Time",
        _ => return None,
    };
    Some((abbr.to_string(), long.to_string()))
}

/// `GMT+5:30` / `GMT+05:30`: `Intl`'s names for a zone it has no en-US name for.
fn gmt_names(offset: i32) -> (String, String) {
    if offset == 0 {
        return ("GMT".into(), "GMT".into());
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let (h, m) = (offset.abs() / 60, offset.abs() % 60);
    (
        format!("GMT{}", offset_short(offset)),
        format!("GMT{sign}{h:02}:{m:02}"),
    )
}

/// Luxon's invalid `DateTime`, as Truto's object shows it.
fn invalid(reason: &str, explanation: String) -> JValue {
    let mut m = IndexMap::new();
    for k in [
        "year",
        "quarter",
        "month",
        "day",
        "hour",
        "minute",
        "second",
        "millisecond",
        "weekYear",
        "weekNumber",
        "weekday",
        "ordinal",
        "monthShort",
        "monthLong",
        "weekdayShort",
        "weekdayLong",
        "offset",
        "offsetNameShort",
        "offsetNameLong",
        "zoneName",
    ] {
        m.insert(k.to_string(), JValue::Null);
    }
    m.insert("daysInYear".into(), JValue::Null);
    m.insert("weeksInWeekYear".into(), JValue::Null);
    m.insert("isInLeapYear".into(), JValue::Bool(false));
    m.insert("isInDST".into(), JValue::Bool(false));
    m.insert("isOffsetFixed".into(), JValue::Null);
    m.insert("isValid".into(), JValue::Bool(false));
    m.insert("invalidReason".into(), text(reason));
    m.insert("invalidExplanation".into(), text(explanation));
    for k in ["locale", "numberingSystem", "outputCalendar", "zone"] {
        m.insert(k.to_string(), JValue::Null);
    }
    JValue::object(m)
}

fn unsupported_zone(name: &str) -> JValue {
    invalid("unsupported zone", format!("the zone \"{name}\" is not supported"))
}

/// Parts read from the text: a wall-clock time and, if the text had one, its offset.
struct Parsed {
    local: NaiveDateTime,
    offset_secs: Option<i32>,
}

fn iso_regex() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // A constant pattern.
    RE.get_or_init(|| {
        Regex::new(concat!(
            r"^([+-]\d{6}|\d{4})(?:-(\d{2})(?:-(\d{2}))?|(\d{2})(\d{2}))?",
            r"(?:T(\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,30}))?)?)?",
            r"(Z|[+-]\d{2}(?::?\d{2})?)?)?$"
        ))
        .unwrap()
    })
}

/// Luxon's `fromISO` for the calendar forms (`2024-11-05`, `2024-11-05T12:00:00.5+05:30`,
/// `20241105T120000Z`, `2024-11`, `2024`), week dates (`2024-W45-2`) and ordinal dates
/// (`2024-310`); bare times are not read (docs/jsonata-functions.md).
fn parse_iso(s: &str) -> Result<Parsed, (String, String)> {
    if let Some(calendar) = calendar_of_week_or_ordinal(s)? {
        return parse_iso(&calendar);
    }
    let unparsable = || {
        (
            "unparsable".to_string(),
            format!("the input \"{s}\" can't be parsed as ISO 8601"),
        )
    };
    let c = iso_regex().captures(s).ok_or_else(unparsable)?;
    let n = |i: usize| c.get(i).map(|m| m.as_str().parse::<i64>().unwrap_or(0));
    let year = n(1).unwrap_or(0);
    let month = n(2).or(n(4)).unwrap_or(1);
    let day = n(3).or(n(5)).unwrap_or(1);
    let (hour, minute, second) = (n(6).unwrap_or(0), n(7).unwrap_or(0), n(8).unwrap_or(0));
    let millis = c.get(9).map_or(0, |f| {
        let digits: String = f.as_str().chars().chain("000".chars()).take(3).collect();
        digits.parse::<i64>().unwrap_or(0)
    });
    let offset_secs = match c.get(10).map(|m| m.as_str()) {
        None => None,
        Some("Z") => Some(0),
        Some(o) => Some(parse_offset(o).ok_or_else(unparsable)?),
    };
    let local = build(year, month, day, hour, minute, second, millis)?;
    Ok(Parsed { local, offset_secs })
}

/// A week date (`2024-W45-2`, `2024W452`) or an ordinal date (`2024-310`, `2024310`),
/// with what follows it, rewritten as a calendar date; `None` for any other text.
fn calendar_of_week_or_ordinal(s: &str) -> Result<Option<String>, (String, String)> {
    static RE: std::sync::OnceLock<(Regex, Regex)> = std::sync::OnceLock::new();
    #[allow(clippy::unwrap_used)] // Constant patterns.
    let (week, ordinal) = RE.get_or_init(|| {
        (
            Regex::new(r"^(\d{4})-?W(\d{2})-?(\d)(T.*)?$").unwrap(),
            Regex::new(r"^(\d{4})-?(\d{3})(T.*)?$").unwrap(),
        )
    });
    let int = |m: Option<regex::Match<'_>>| m.map_or(0, |m| m.as_str().parse::<i64>().unwrap_or(0));
    let (date, rest) = if let Some(c) = week.captures(s) {
        let (y, w, d) = (int(c.get(1)), int(c.get(2)), int(c.get(3)));
        if !(1..=7).contains(&d) {
            return Err(out_of_range(d, "weekday"));
        }
        let weekday = chrono::Weekday::try_from((d - 1) as u8).map_err(|_| out_of_range(d, "weekday"))?;
        let date = NaiveDate::from_isoywd_opt(y as i32, w as u32, weekday).ok_or_else(|| out_of_range(w, "week"))?;
        (date, c.get(4))
    } else if let Some(c) = ordinal.captures(s) {
        let (y, o) = (int(c.get(1)), int(c.get(2)));
        let date = NaiveDate::from_yo_opt(y as i32, o as u32).ok_or_else(|| out_of_range(o, "ordinal"))?;
        (date, c.get(3))
    } else {
        return Ok(None);
    };
    Ok(Some(format!(
        "{}{}",
        date.format("%Y-%m-%d"),
        rest.map_or("", |m| m.as_str())
    )))
}

fn out_of_range(value: i64, unit: &str) -> (String, String) {
    (
        "unit out of range".to_string(),
        format!("you specified {value} (of type number) as a {unit}, which is invalid"),
    )
}

fn build(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millis: i64,
) -> Result<NaiveDateTime, (String, String)> {
    if !(1..=12).contains(&month) {
        return Err(out_of_range(month, "month"));
    }
    let y = i32::try_from(year).map_err(|_| out_of_range(year, "year"))?;
    let date = NaiveDate::from_ymd_opt(y, month as u32, 1).ok_or_else(|| out_of_range(year, "year"))?;
    let date = NaiveDate::from_ymd_opt(y, month as u32, day.clamp(0, 31) as u32)
        .filter(|_| day >= 1)
        .ok_or_else(|| out_of_range(day, "day"))
        .map(|d| d.max(date))?;
    // Luxon takes 24:00 as the next day's midnight.
    let (hour, date) = if hour == 24 && minute == 0 && second == 0 && millis == 0 {
        (0, date.succ_opt().ok_or_else(|| out_of_range(hour, "hour"))?)
    } else {
        (hour, date)
    };
    if !(0..=23).contains(&hour) {
        return Err(out_of_range(hour, "hour"));
    }
    if !(0..=59).contains(&minute) {
        return Err(out_of_range(minute, "minute"));
    }
    if !(0..=59).contains(&second) {
        return Err(out_of_range(second, "second"));
    }
    date.and_hms_milli_opt(hour as u32, minute as u32, second as u32, millis as u32)
        .ok_or_else(|| out_of_range(millis, "millisecond"))
}

/// Years a date may have: within chrono's range with a day to spare, so moving a time by
/// any offset cannot overflow (Luxon's own limit is ±275760).
const YEARS: std::ops::RangeInclusive<i32> = -200_000..=200_000;

/// Parts within `YEARS`, or Luxon's "unit out of range".
fn in_range(p: Parsed) -> Result<Parsed, (String, String)> {
    if YEARS.contains(&p.local.year()) {
        Ok(p)
    } else {
        Err(out_of_range(i64::from(p.local.year()), "year"))
    }
}

/// The instant of parsed parts: their own offset, else a wall-clock time in `zone`.
fn instant(p: &Parsed, zone: &Zone) -> NaiveDateTime {
    match p.offset_secs {
        Some(o) => p.local - chrono::Duration::seconds(i64::from(o)),
        None => p.local - chrono::Duration::minutes(i64::from(zone.offset_of_local(&p.local))),
    }
}

/// `$dtFromIso(text[, zone])`.
pub(super) fn dt_from_iso(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let s = match arg(args, 0) {
        Some(Value::String(s)) => s,
        Some(v) => js_string(&v),
        None => "undefined".to_string(),
    };
    let parsed = match parse_iso(&s).and_then(in_range) {
        Ok(p) => p,
        Err((r, e)) => return Ok(invalid(&r, e)),
    };
    let utc = instant(&parsed, &Zone::System);
    let zone = match arg(args, 1).filter(super::truthy) {
        None => Zone::System,
        Some(z) => {
            let name = js_string(&z);
            match Zone::parse(&name) {
                Some(z) => z,
                None => return Ok(unsupported_zone(&name)),
            }
        }
    };
    Ok(Dt { utc, zone }.object())
}

/// `$dtFromFormat(text, format[, options])`: Luxon's format tokens, or `"ISO"`,
/// `"RFC2822"`, `"fromSeconds"`; `options.zone` is the zone of a text without an offset
/// (and of the result), `options.setZone` keeps the text's own offset.
pub(super) fn dt_from_format(args: &[JValue]) -> Result<JValue, EvaluatorError> {
    let text_arg = arg(args, 0);
    let s = match &text_arg {
        Some(Value::String(s)) => s.clone(),
        Some(v) => js_string(v),
        None => "undefined".to_string(),
    };
    let (format, options) = match (arg(args, 1), arg(args, 2)) {
        (None | Some(Value::Null), _) => {
            return Err(EvaluatorError::EvaluationError(
                "$dtFromFormat: fromFormat requires an input string and a format".into(),
            ))
        }
        (_, Some(Value::Null)) => {
            return Err(EvaluatorError::EvaluationError(
                "$dtFromFormat: the options must not be null".into(),
            ))
        }
        (Some(f), options) => (js_string(&f), options),
    };
    if text_arg.is_none() {
        return Err(EvaluatorError::EvaluationError(
            "$dtFromFormat: fromFormat requires an input string and a format".into(),
        ));
    }
    let zone = match options
        .as_ref()
        .and_then(|o| o.get("zone"))
        .filter(|z| super::truthy(z))
    {
        None => Zone::System,
        Some(z) => {
            let name = js_string(z);
            match Zone::parse(&name) {
                Some(z) => z,
                None => return Ok(unsupported_zone(&name)),
            }
        }
    };
    let set_zone = options
        .as_ref()
        .and_then(|o| o.get("setZone"))
        .is_some_and(super::truthy);
    let parsed = match format.as_str() {
        "ISO" => parse_iso(&s),
        "RFC2822" => DateTime::parse_from_rfc2822(&s)
            .map(|d| Parsed {
                local: d.naive_local(),
                offset_secs: Some(d.offset().local_minus_utc()),
            })
            .map_err(|_| {
                (
                    "unparsable".into(),
                    format!("the input \"{s}\" can't be parsed as RFC 2822"),
                )
            }),
        "fromSeconds" => {
            // `parseInt(text)`, then Luxon's `fromSeconds`.
            let digits: String = s
                .trim_start()
                .chars()
                .enumerate()
                .take_while(|(i, c)| c.is_ascii_digit() || (*i == 0 && (*c == '-' || *c == '+')))
                .map(|(_, c)| c)
                .collect();
            match digits
                .parse::<i64>()
                .ok()
                .and_then(|secs| DateTime::<Utc>::from_timestamp(secs, 0))
            {
                Some(d) => Ok(Parsed {
                    local: d.naive_utc(),
                    offset_secs: Some(0),
                }),
                None => {
                    return Err(EvaluatorError::EvaluationError(format!(
                        "fromSeconds requires a numerical input, but received a string with value {s}"
                    )))
                }
            }
        }
        f => parse_format(&s, f),
    };
    let parsed = match parsed.and_then(in_range) {
        Ok(p) => p,
        Err((r, e)) => return Ok(invalid(&r, e)),
    };
    let utc = instant(&parsed, &zone);
    let zone = match (set_zone, parsed.offset_secs) {
        (true, Some(o)) if o % 60 == 0 => Zone::Fixed(o / 60),
        _ => zone,
    };
    Ok(Dt { utc, zone }.object())
}

/// What one token of a Luxon format reads.
enum Tok {
    Lit(String),
    Year,
    Year2,
    Month,
    MonthShort,
    MonthLong,
    Day,
    Ordinal,
    Hour24,
    Hour12,
    Minute,
    Second,
    Millis,
    Meridiem,
    WeekdayNum,
    WeekdayShort,
    WeekdayLong,
    OffsetShort,
    OffsetTechie,
    Zone,
}

fn tokens(format: &str) -> Result<Vec<(Tok, String)>, String> {
    let chars: Vec<char> = format.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            let mut lit = String::new();
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                lit.push(chars[i]);
                i += 1;
            }
            i += 1;
            out.push((Tok::Lit(lit), String::new()));
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let run: String = chars[i..j].iter().collect();
        let n = j - i;
        let tok = match (c, n) {
            ('y', 2) => Tok::Year2,
            ('y', _) => Tok::Year,
            ('M' | 'L', 1 | 2) => Tok::Month,
            ('M' | 'L', 3) => Tok::MonthShort,
            ('M' | 'L', 4) => Tok::MonthLong,
            ('d', 1 | 2) => Tok::Day,
            ('o', 1..=3) => Tok::Ordinal,
            ('H', 1 | 2) => Tok::Hour24,
            ('h', 1 | 2) => Tok::Hour12,
            ('m', 1 | 2) => Tok::Minute,
            ('s', 1 | 2) => Tok::Second,
            ('S', 1..=3) => Tok::Millis,
            ('a', 1) => Tok::Meridiem,
            ('E' | 'c', 1) => Tok::WeekdayNum,
            ('E' | 'c', 3) => Tok::WeekdayShort,
            ('E' | 'c', 4) => Tok::WeekdayLong,
            ('Z', 1 | 2) => Tok::OffsetShort,
            ('Z', 3) => Tok::OffsetTechie,
            ('z', 1) => Tok::Zone,
            (c, _) if c.is_ascii_alphabetic() => return Err(run),
            _ => Tok::Lit(run.clone()),
        };
        out.push((tok, run));
        i = j;
    }
    Ok(out)
}

/// Luxon's `fromFormat` for the tokens of `tokens` (the locale macro tokens `D`, `t`, ...
/// and week years are not read).
fn parse_format(s: &str, format: &str) -> Result<Parsed, (String, String)> {
    let unparsable = || {
        (
            "unparsable".to_string(),
            format!("the input \"{s}\" can't be parsed as format {format}"),
        )
    };
    let toks = tokens(format).map_err(|_| unparsable())?;
    let mut pattern = String::from("(?i)^");
    for (t, _) in &toks {
        pattern.push_str(&match t {
            Tok::Lit(l) => regex::escape(l),
            Tok::Year => r"([+-]?\d{1,6})".into(),
            Tok::Year2 => r"(\d{2})".into(),
            Tok::Month | Tok::Day | Tok::Hour24 | Tok::Hour12 | Tok::Minute | Tok::Second => r"(\d{1,2})".into(),
            Tok::Ordinal => r"(\d{1,3})".into(),
            Tok::Millis => r"(\d{1,3})".into(),
            Tok::MonthShort => format!("({})", MONTHS.map(|m| &m[..3]).join("|")),
            Tok::MonthLong => format!("({})", MONTHS.join("|")),
            Tok::Meridiem => "(AM|PM)".into(),
            Tok::WeekdayNum => r"([1-7])".into(),
            Tok::WeekdayShort => format!("({})", WEEKDAYS.map(|d| &d[..3]).join("|")),
            Tok::WeekdayLong => format!("({})", WEEKDAYS.join("|")),
            Tok::OffsetShort => r"(Z|[+-]\d{1,2}(?::\d{2})?)".into(),
            Tok::OffsetTechie => r"(Z|[+-]\d{4})".into(),
            Tok::Zone => r"([A-Za-z_]+(?:/[A-Za-z0-9_+\-]+)*)".into(),
        });
    }
    pattern.push('$');
    let re = Regex::new(&pattern).map_err(|_| unparsable())?;
    let caps = re.captures(s).ok_or_else(unparsable)?;
    let (mut year, mut month, mut day, mut hour, mut minute, mut second, mut millis) = (None, None, None, 0, 0, 0, 0);
    let mut pm = None;
    let mut ordinal = None;
    let mut offset = None;
    let mut zone_local: Option<Zone> = None;
    let mut g = 0;
    for (t, _) in &toks {
        if matches!(t, Tok::Lit(_)) {
            continue;
        }
        g += 1;
        let v = caps.get(g).map_or("", |m| m.as_str());
        let int = || v.parse::<i64>().unwrap_or(0);
        match t {
            Tok::Year => year = Some(int()),
            Tok::Year2 => {
                let y = int();
                year = Some(if y > 60 { 1900 + y } else { 2000 + y });
            }
            Tok::Month => month = Some(int()),
            Tok::MonthShort | Tok::MonthLong => {
                let lower = v.to_ascii_lowercase();
                month = MONTHS
                    .iter()
                    .position(|m| m.to_ascii_lowercase().starts_with(&lower[..3.min(lower.len())]))
                    .map(|i| i as i64 + 1);
            }
            Tok::Day => day = Some(int()),
            Tok::Ordinal => ordinal = Some(int()),
            Tok::Hour24 | Tok::Hour12 => hour = int(),
            Tok::Minute => minute = int(),
            Tok::Second => second = int(),
            Tok::Millis => {
                // Luxon reads `S` and `SSS` as a whole number of milliseconds.
                millis = int();
            }
            Tok::Meridiem => pm = Some(v.eq_ignore_ascii_case("PM")),
            Tok::OffsetShort | Tok::OffsetTechie => {
                offset = Some(if v.eq_ignore_ascii_case("Z") {
                    0
                } else {
                    parse_offset(v).ok_or_else(unparsable)?
                })
            }
            Tok::Zone => zone_local = Some(Zone::parse(v).ok_or_else(unparsable)?),
            Tok::Lit(_) | Tok::WeekdayNum | Tok::WeekdayShort | Tok::WeekdayLong => {}
        }
    }
    if let Some(pm) = pm {
        if hour == 12 {
            hour = 0;
        }
        if pm {
            hour += 12;
        }
    }
    let now = Utc::now().date_naive();
    let year = year.unwrap_or_else(|| i64::from(now.year()));
    let (month, day) = match ordinal {
        Some(o) => {
            let d = NaiveDate::from_yo_opt(year as i32, o as u32).ok_or_else(|| out_of_range(o, "ordinal"))?;
            (i64::from(d.month()), i64::from(d.day()))
        }
        None => (month.unwrap_or(1), day.unwrap_or(1)),
    };
    let local = build(year, month, day, hour, minute, second, millis)?;
    if let (Some(zone), None) = (&zone_local, offset) {
        offset = Some(zone.offset_of_local(&local) * 60);
    }
    Ok(Parsed {
        local,
        offset_secs: offset,
    })
}

/// Luxon's `DateTime.fromISO(text).toFormat(format)` (or `.toISO()` without a format) in
/// the default zone, for `$convertQueryToSql`'s date types: `Invalid DateTime` (or `null`)
/// when the text is not a date.
pub(super) fn format_iso(text: &str, format: Option<&str>) -> String {
    let Ok(parsed) = parse_iso(text).and_then(in_range) else {
        return if format.is_some() {
            "Invalid DateTime".into()
        } else {
            "null".into()
        };
    };
    let local = instant(&parsed, &Zone::System);
    let Some(format) = format else {
        return local.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string();
    };
    let chars: Vec<char> = format.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j] == c {
            j += 1;
        }
        let n = j - i;
        let (date, time) = (local.date(), local.time());
        let month = MONTHS[date.month0() as usize];
        let weekday = WEEKDAYS[date.weekday().num_days_from_monday() as usize];
        let hour12 = match time.hour() % 12 {
            0 => 12,
            h => h,
        };
        let pad = |v: u32, w: usize| format!("{v:0w$}");
        out.push_str(&match (c, n) {
            ('y', 2) => pad(date.year().rem_euclid(100) as u32, 2),
            ('y', 1) => date.year().to_string(),
            ('y', n) => format!("{:0n$}", date.year()),
            ('M' | 'L', 1) => date.month().to_string(),
            ('M' | 'L', 2) => pad(date.month(), 2),
            ('M' | 'L', 3) => month[..3].to_string(),
            ('M' | 'L', 4) => month.to_string(),
            ('d', 1) => date.day().to_string(),
            ('d', 2) => pad(date.day(), 2),
            ('o', 1) => date.ordinal().to_string(),
            ('o', 3) => pad(date.ordinal(), 3),
            ('H', 1) => time.hour().to_string(),
            ('H', 2) => pad(time.hour(), 2),
            ('h', 1) => hour12.to_string(),
            ('h', 2) => pad(hour12, 2),
            ('m', 1) => time.minute().to_string(),
            ('m', 2) => pad(time.minute(), 2),
            ('s', 1) => time.second().to_string(),
            ('s', 2) => pad(time.second(), 2),
            ('S', 1) => (time.nanosecond() / 1_000_000).to_string(),
            ('S', 3) => pad(time.nanosecond() / 1_000_000, 3),
            ('a', 1) => if time.hour() < 12 { "AM" } else { "PM" }.to_string(),
            ('E' | 'c', 1) => date.weekday().number_from_monday().to_string(),
            ('E' | 'c', 3) => weekday[..3].to_string(),
            ('E' | 'c', 4) => weekday.to_string(),
            ('Z', 1) => "+0".to_string(),
            ('Z', 2) => "+00:00".to_string(),
            ('Z', 3) => "+0000".to_string(),
            ('z', 1) => "UTC".to_string(),
            (c, n) => c.to_string().repeat(n),
        });
        i = j;
    }
    out
}
