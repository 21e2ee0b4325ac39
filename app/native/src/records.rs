//! Kafka record batches (message format v2) split into their records' offsets,
//! timestamps, keys and values, so that stage 1 and replay read a fetch without aiokafka
//! making a `ConsumerRecord` (and a `DefaultRecord`) per record.
//!
//! The rule is aiokafka 0.14's `PartitionRecords._unpack_records` for a fetch whose
//! batches are all plain: magic 2, uncompressed, neither transactional nor control, with
//! a valid CRC-32C when asked. Anything else -- another format, compression, a
//! transaction, a control marker, a bad CRC, a record whose bytes do not add up -- makes
//! `split` answer `None`, and the caller hands the whole fetch to aiokafka, which
//! decodes it (or raises its own error) as it always did.

/// A batch's fixed header is 61 bytes; its length field counts from byte 12.
const HEADER: usize = 61;
const LOG_OVERHEAD: usize = 12;
const CODEC_MASK: i16 = 0x07;
const TIMESTAMP_TYPE_MASK: i16 = 0x08;
const TRANSACTIONAL_MASK: i16 = 0x10;
const CONTROL_MASK: i16 = 0x20;

/// Byte spans into the fetched buffer; `None` is a null key or value.
pub type Span = Option<(usize, usize)>;

#[derive(Default)]
pub struct Split {
    pub next_offset: i64,
    pub offsets: Vec<i64>,
    pub timestamps: Vec<i64>,
    pub keys: Vec<Span>,
    pub values: Vec<Span>,
}

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]))
}

fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap_or([0; 4]))
}

fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().unwrap_or([0; 2]))
}

/// A zigzag varint as aiokafka's `decode_varint` reads it (at most 64 bits).
fn varint(b: &[u8], pos: &mut usize, end: usize) -> Option<i64> {
    let mut result: u64 = 0;
    let mut shift = 0u32;
    loop {
        if *pos >= end {
            return None;
        }
        let byte = b[*pos];
        *pos += 1;
        result |= u64::from(byte & 0x7F) << shift;
        if byte & 0x80 == 0 {
            return Some((result >> 1) as i64 ^ -((result & 1) as i64));
        }
        shift += 7;
        if shift >= 64 {
            return None;
        }
    }
}

/// A nullable byte string: its span, or None for a negative length (aiokafka's rule).
fn bytes(b: &[u8], pos: &mut usize, end: usize) -> Option<Span> {
    let len = varint(b, pos, end)?;
    if len < 0 {
        return Some(None);
    }
    let len = usize::try_from(len).ok()?;
    let start = *pos;
    if len > end - start {
        return None;
    }
    *pos = start + len;
    Some(Some((start, start + len)))
}

/// The fetch's records at or past `fetch_offset`, in order, and the offset to fetch next;
/// None when aiokafka must decode it. A truncated last batch is left for the next fetch,
/// as aiokafka's `MemoryRecords` leaves it.
pub fn split(b: &[u8], fetch_offset: i64, check_crc: bool) -> Option<Split> {
    let mut out = Split { next_offset: fetch_offset, ..Split::default() };
    let mut at = 0usize;
    while b.len() - at >= LOG_OVERHEAD {
        let length = be_i32(b, at + 8);
        let end = at.checked_add(LOG_OVERHEAD)?.checked_add(usize::try_from(length).ok()?)?;
        if end > b.len() {
            break; // a partial batch: the broker cut the fetch at its size limit
        }
        if end - at < HEADER || b[at + 16] != 2 {
            return None;
        }
        let attributes = be_i16(b, at + 21);
        if attributes & (CODEC_MASK | TRANSACTIONAL_MASK | CONTROL_MASK) != 0 {
            return None;
        }
        if check_crc && crc32c(&b[at + 21..end]) != be_u32(b, at + 17) {
            return None;
        }
        let base = be_i64(b, at);
        let last_delta = be_i32(b, at + 23);
        let first_ts = be_i64(b, at + 27);
        let max_ts = be_i64(b, at + 35);
        let count = be_i32(b, at + 57);
        if count < 0 {
            return None;
        }
        let log_append = attributes & TIMESTAMP_TYPE_MASK != 0;
        let mut pos = at + HEADER;
        for _ in 0..count {
            let length = varint(b, &mut pos, end)?;
            let start = pos;
            // The record's attributes (unused): one byte in the protocol, a varint to
            // aiokafka, so a byte that would continue a varint defers.
            if pos >= end || b[pos] & 0x80 != 0 {
                return None;
            }
            pos += 1;
            let ts_delta = varint(b, &mut pos, end)?;
            let offset_delta = varint(b, &mut pos, end)?;
            let key = bytes(b, &mut pos, end)?;
            let value = bytes(b, &mut pos, end)?;
            let headers = varint(b, &mut pos, end)?;
            if headers < 0 {
                return None;
            }
            for _ in 0..headers {
                let name = bytes(b, &mut pos, end)??;
                std::str::from_utf8(&b[name.0..name.1]).ok()?;
                bytes(b, &mut pos, end)?;
            }
            if i64::try_from(pos - start).ok()? != length {
                return None;
            }
            let offset = base.checked_add(offset_delta)?;
            if offset < out.next_offset {
                continue; // before the fetch position: a batch fetched from its middle
            }
            out.offsets.push(offset);
            out.timestamps.push(if log_append { max_ts } else { first_ts.wrapping_add(ts_delta) });
            out.keys.push(key);
            out.values.push(value);
            out.next_offset = offset + 1;
        }
        if pos != end {
            return None;
        }
        // The batch's last offset survives compaction of its last record.
        out.next_offset = base.checked_add(i64::from(last_delta))?.checked_add(1)?;
        at = end;
    }
    Some(out)
}

/// CRC-32C (Castagnoli), Kafka's batch checksum: SSE 4.2 when the CPU has it.
pub fn crc32c(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.2") {
            // SAFETY: the CPU was just seen to support SSE 4.2.
            return unsafe { crc32c_sse42(data) };
        }
    }
    crc32c_table(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
unsafe fn crc32c_sse42(data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut crc = u64::from(!0u32);
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        crc = _mm_crc32_u64(crc, u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])));
    }
    let mut crc = crc as u32;
    for &byte in chunks.remainder() {
        crc = _mm_crc32_u8(crc, byte);
    }
    !crc
}

fn crc32c_table(data: &[u8]) -> u32 {
    const POLY: u32 = 0x82F6_3B78;
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ POLY } else { crc >> 1 };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_paths_agree() {
        // RFC 3720's check value, and the hardware path against the bitwise one.
        assert_eq!(crc32c_table(b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in [0, 1, 7, 8, 9, 63, 64, 999, 1000] {
            assert_eq!(crc32c(&data[..n]), crc32c_table(&data[..n]));
        }
    }
}
