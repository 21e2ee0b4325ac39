//! RFC 3339 text -> epoch milliseconds, the rule of `app/contracts/timestamps.py`:
//! `YYYY-MM-DDTHH:MM:SS` (month lengths, Gregorian leap years, no leap second), an
//! optional fraction of any length truncated to milliseconds, then `Z` or `+HH:MM` /
//! `-HH:MM` (hours 00-23). Uppercase `T` and `Z` only. None when the text is not one.

fn two(b: &[u8], i: usize) -> Option<i64> {
    let (a, c) = (b[i], b[i + 1]);
    if a.is_ascii_digit() && c.is_ascii_digit() {
        Some(i64::from(a - b'0') * 10 + i64::from(c - b'0'))
    } else {
        None
    }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days from 1970-01-01 to the civil date (Howard Hinnant's algorithm, exact for any year).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn rfc3339_ms(b: &[u8]) -> Option<i64> {
    if b.len() < 20 {
        return None; // 19 for the head, at least "Z" after it
    }
    let (y1, y2) = (two(b, 0)?, two(b, 2)?);
    let year = y1 * 100 + y2;
    if b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let month = two(b, 5)?;
    let day = two(b, 8)?;
    let hour = two(b, 11)?;
    let minute = two(b, 14)?;
    let second = two(b, 17)?;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return None,
    };
    if day < 1 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut ms = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60_000
        + second * 1000;
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let mut frac = 0;
        for k in 0..3 {
            frac = frac * 10 + if start + k < i { i64::from(b[start + k] - b'0') } else { 0 };
        }
        ms += frac;
    }
    let rest = &b[i..];
    if rest == b"Z" {
        return Some(ms);
    }
    if rest.len() != 6 || rest[3] != b':' || (rest[0] != b'+' && rest[0] != b'-') {
        return None;
    }
    let (oh, om) = (two(rest, 1)?, two(rest, 4)?);
    if oh > 23 || om > 59 {
        return None;
    }
    let offset = (oh * 60 + om) * 60_000;
    Some(if rest[0] == b'+' { ms - offset } else { ms + offset })
}

#[cfg(test)]
mod tests {
    use super::rfc3339_ms;

    #[test]
    fn examples() {
        assert_eq!(rfc3339_ms(b"2026-11-27T07:00:01.250Z"), Some(1_795_762_801_250));
        assert_eq!(rfc3339_ms(b"2026-11-27T08:00:01.2509+01:00"), Some(1_795_762_801_250));
        assert_eq!(rfc3339_ms(b"2000-01-01T00:00:00Z"), Some(946_684_800_000));
        assert_eq!(rfc3339_ms(b"2024-02-29T00:00:00Z").is_some(), true);
        assert_eq!(rfc3339_ms(b"2100-02-29T00:00:00Z"), None);
        assert_eq!(rfc3339_ms(b"2000-02-29T00:00:00Z").is_some(), true);
        assert_eq!(rfc3339_ms(b"2026-11-27T07:00:60Z"), None);
        assert_eq!(rfc3339_ms(b"2026-11-27T07:00:00z"), None);
        assert_eq!(rfc3339_ms(b"2026-11-27T07:00:00.Z"), None);
        assert_eq!(rfc3339_ms(b"2026-11-27T07:00:00+0100"), None);
    }
}
