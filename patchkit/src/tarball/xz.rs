//! xz (`.tar.xz`, `.txz`): the compression of many Debian orig tarballs and
//! of some CPAN uploads, read and written through liblzma (the reference
//! xz implementation).
//!
//! Kept apart from `read.rs` and `write.rs`, which only call [`MAGIC`],
//! [`decoder`] and [`encode`]: the bounds on what a stream may unpack to are
//! the reader's (`tarball::Limits`, applied to whatever [`decoder`] yields),
//! so a hostile xz stream is held to the same limits as a gzip one.

use std::io::{Read, Write};

/// The xz stream header magic: `FD 37 7A 58 5A 00`.
pub(crate) const MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// A reader of the decompressed bytes of every concatenated xz stream in
/// `compressed` (as `xz -d` reads them; `pixz` and `xz -T` write several).
pub(crate) fn decoder(compressed: &[u8]) -> impl Read + '_ {
    liblzma::read::XzDecoder::new_multi_decoder(compressed)
}

/// `tar` compressed as `xz -6` does (preset 6, CRC64 check), one stream;
/// the output depends on nothing but the input and the liblzma version.
pub(crate) fn encode(tar: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = liblzma::write::XzEncoder::new(Vec::with_capacity(tar.len() / 4), 6);
    enc.write_all(tar)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips_and_is_deterministic() {
        let data = b"some tar bytes ".repeat(1000);
        let a = encode(&data).unwrap();
        assert!(a.starts_with(&MAGIC));
        assert_eq!(a, encode(&data).unwrap());
        let mut out = Vec::new();
        decoder(&a).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        // Two streams back to back read as one.
        let mut two = a.clone();
        two.extend_from_slice(&a);
        let mut out = Vec::new();
        decoder(&two).read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), data.len() * 2);
    }
}
