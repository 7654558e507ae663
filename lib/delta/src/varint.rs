//! The size varints of a delta header: little-endian base-128, seven bits per
//! byte, high bit set on every byte but the last.

use crate::DeltaError;

/// Appends `value` as a header varint.
pub(crate) fn write(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads one header varint from `input` starting at `*pos`, advancing `*pos`
/// past it. `field` names the size in errors.
pub(crate) fn read(input: &[u8], pos: &mut usize, field: &'static str) -> Result<u64, DeltaError> {
    let mut value = 0u64;
    let mut shift = 0u32;
    loop {
        let Some(&byte) = input.get(*pos) else {
            return Err(DeltaError::HeaderTruncated { field });
        };
        *pos += 1;
        let bits = u64::from(byte & 0x7f);
        if shift >= 64 || (shift > 0 && bits >> (64 - shift) != 0) {
            return Err(DeltaError::HeaderOverflow { field });
        }
        value |= bits << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, &[0x00])]
    #[case(1, &[0x01])]
    #[case(127, &[0x7f])]
    #[case(128, &[0x80, 0x01])]
    #[case(300, &[0xac, 0x02])]
    #[case(0x10000, &[0x80, 0x80, 0x04])]
    #[case(u64::MAX, &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])]
    fn encodes_and_decodes(#[case] value: u64, #[case] bytes: &[u8]) {
        let mut out = Vec::new();
        write(&mut out, value);
        assert_eq!(out, bytes);
        let mut pos = 0;
        assert_eq!(read(bytes, &mut pos, "source"), Ok(value));
        assert_eq!(pos, bytes.len());
    }

    #[rstest]
    #[case(&[], DeltaError::HeaderTruncated { field: "source" })]
    #[case(&[0x80], DeltaError::HeaderTruncated { field: "source" })]
    #[case(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], DeltaError::HeaderOverflow { field: "source" })]
    #[case(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], DeltaError::HeaderOverflow { field: "source" })]
    fn rejects_bad_varints(#[case] bytes: &[u8], #[case] err: DeltaError) {
        let mut pos = 0;
        assert_eq!(read(bytes, &mut pos, "source"), Err(err));
    }
}
