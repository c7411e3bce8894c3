//! COMPRESS (RFC 4978): after its OK both directions of the connection are
//! raw DEFLATE streams; the server wraps the connection in
//! [`crate::compress::DeflateStream`].

use crate::session::reply::Done;
use crate::session::transport::Transport;
use imap_codec::imap_types::extensions::compress::CompressionAlgorithm;

/// COMPRESS: marks compression as active and returns the OK after which
/// the server compresses, or the NO/BAD to answer with.
pub fn start(transport: &mut Transport, algorithm: &CompressionAlgorithm) -> Result<Done, Done> {
    if transport.compressed {
        return Err(Done::no("COMPRESSIONACTIVE", "DEFLATE compression is already active"));
    }
    match algorithm {
        CompressionAlgorithm::Deflate => {
            transport.compressed = true;
            Ok(Done::ok("DEFLATE active"))
        }
        _ => Err(Done::bad("Unsupported compression algorithm")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deflate_starts_once() {
        let mut transport = Transport::default();
        assert_eq!(start(&mut transport, &CompressionAlgorithm::Deflate), Ok(Done::ok("DEFLATE active")));
        assert!(transport.compressed);
        let again = start(&mut transport, &CompressionAlgorithm::Deflate).unwrap_err();
        assert_eq!(again.code.as_deref(), Some("COMPRESSIONACTIVE"));
    }
}
