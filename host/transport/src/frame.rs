//! Encrypted frames on the wire after the handshake.
//!
//! ```text
//! frame = len u32 (big-endian, = ciphertext length incl. 16-byte tag) | ciphertext | tag
//! ```
//!
//! ChaCha20-Poly1305 with the direction's session key; the 96-bit nonce is 4 zero bytes then
//! a 64-bit counter, starting at 0 and incremented per frame on each side. The receiver never
//! sees the nonce: it uses its own count, so a replayed, dropped, reordered or spliced frame
//! (or one from another session) fails the tag check. The length prefix is the AAD, so it is
//! authenticated too, and it is checked against the maximum before anything is allocated.

use std::net::SocketAddr;

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::TransportError;
use crate::handshake::SessionKey;

/// Default largest plaintext payload of one frame (16 MiB): room for a large CIB, small
/// enough that a peer cannot make us allocate without bound.
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

const LEN_PREFIX: usize = 4;
const TAG_LEN: usize = 16;
/// What a 32-bit length prefix can describe; a larger configured maximum is clamped to it.
const LIMIT: usize = u32::MAX as usize - TAG_LEN;
/// Keeps reads large for streams of small frames (a full `Vec` would otherwise grow by 64 bytes
/// per read).
const READ_CHUNK: usize = 16 * 1024;
/// A buffer that grew for a big frame is given back once idle, so one large message does not
/// pin its size for the life of the connection.
const IDLE_BUFFER_CAP: usize = 256 * 1024;

/// Counter-nonce AEAD state of one direction.
struct Cipher {
    aead: ChaCha20Poly1305,
    counter: u64,
}

impl Cipher {
    fn new(key: &SessionKey) -> Self {
        Self {
            aead: ChaCha20Poly1305::new(key.as_ref().into()),
            counter: 0,
        }
    }

    /// The nonce for the next frame; the counter never wraps, so a nonce is never reused.
    fn next_nonce(&mut self, peer: SocketAddr) -> Result<Nonce, TransportError> {
        let mut nonce = Nonce::default();
        nonce[4..].copy_from_slice(&self.counter.to_be_bytes());
        self.counter = self
            .counter
            .checked_add(1)
            .ok_or(TransportError::CounterExhausted { peer })?;
        Ok(nonce)
    }
}

/// Encrypts and writes frames.
pub(crate) struct FrameWriter<W> {
    io: W,
    cipher: Cipher,
    max_payload: usize,
    peer: SocketAddr,
    /// Set while a frame is partly written; if the write fails or its future is dropped, the
    /// stream holds half a frame and any further frame would be garbage to the peer.
    broken: bool,
}

impl<W: AsyncWrite + Unpin> FrameWriter<W> {
    pub(crate) fn new(io: W, key: &SessionKey, max_payload: usize, peer: SocketAddr) -> Self {
        Self {
            io,
            cipher: Cipher::new(key),
            max_payload: max_payload.min(LIMIT),
            peer,
            broken: false,
        }
    }

    /// Not cancel-safe: dropping the future mid-write makes later sends fail with
    /// [`TransportError::SendAborted`].
    pub(crate) async fn write_frame(&mut self, payload: &[u8]) -> Result<(), TransportError> {
        let peer = self.peer;
        if self.broken {
            return Err(TransportError::SendAborted { peer });
        }
        if payload.len() > self.max_payload {
            return Err(TransportError::PayloadTooLarge {
                len: payload.len(),
                max: self.max_payload,
            });
        }
        let body_len = payload.len() + TAG_LEN;
        let prefix = u32::try_from(body_len)
            .expect("max_payload is clamped to what the prefix can hold")
            .to_be_bytes();
        let mut frame = Vec::with_capacity(LEN_PREFIX + body_len);
        frame.extend_from_slice(&prefix);
        frame.extend_from_slice(payload);
        let nonce = self.cipher.next_nonce(peer)?;
        let tag = self
            .cipher
            .aead
            .encrypt_in_place_detached(&nonce, &prefix, &mut frame[LEN_PREFIX..])
            .expect("payload length is far below the ChaCha20-Poly1305 limit");
        frame.extend_from_slice(&tag);

        self.broken = true;
        self.io
            .write_all(&frame)
            .await
            .map_err(|source| TransportError::Io { peer, source })?;
        self.broken = false;
        Ok(())
    }
}

/// Reads and decrypts frames.
pub(crate) struct FrameReader<R> {
    io: R,
    cipher: Cipher,
    max_payload: usize,
    peer: SocketAddr,
    /// Bytes read but not yet consumed; keeping them here (not in the future) makes
    /// `read_frame` cancel-safe, so it can sit in a `select!`.
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`. Consumed frames are compacted away only before
    /// the next read, so a burst of small frames is not shifted once per frame.
    start: usize,
}

/// What the buffered bytes hold.
enum Next {
    /// A whole frame with this body length, at `start`.
    Frame(usize),
    /// Not yet a whole frame; this many bytes (from `start`) are needed for one.
    Need(usize),
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub(crate) fn new(io: R, key: &SessionKey, max_payload: usize, peer: SocketAddr) -> Self {
        Self {
            io,
            cipher: Cipher::new(key),
            max_payload: max_payload.min(LIMIT),
            peer,
            buf: Vec::new(),
            start: 0,
        }
    }

    pub(crate) fn get_ref(&self) -> &R {
        &self.io
    }

    /// The next payload. Cancel-safe. Any error other than `Closed` means the stream can no
    /// longer be trusted or parsed; the caller drops the connection.
    pub(crate) async fn read_frame(&mut self) -> Result<Vec<u8>, TransportError> {
        let peer = self.peer;
        loop {
            let need = match self.next()? {
                Next::Frame(body_len) => return self.open(body_len),
                Next::Need(need) => need,
            };
            self.buf.drain(..self.start);
            self.start = 0;
            // `need` is bounded by the maximum frame size, checked in `next`.
            let want = need.max(self.buf.len() + READ_CHUNK);
            self.buf.reserve(want - self.buf.len());
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(|source| TransportError::Io { peer, source })?;
            if n == 0 {
                return Err(if self.buf.is_empty() {
                    TransportError::Closed { peer }
                } else {
                    TransportError::Truncated { peer }
                });
            }
        }
    }

    /// Checks the length prefix as soon as it is in, before any room is made for the body.
    fn next(&self) -> Result<Next, TransportError> {
        let peer = self.peer;
        let pending = &self.buf[self.start..];
        let Some(prefix) = pending.first_chunk::<LEN_PREFIX>() else {
            return Ok(Next::Need(LEN_PREFIX));
        };
        let body_len = u32::from_be_bytes(*prefix) as usize;
        if body_len < TAG_LEN {
            return Err(TransportError::FrameTooShort {
                peer,
                len: body_len,
            });
        }
        if body_len - TAG_LEN > self.max_payload {
            return Err(TransportError::FrameTooLarge {
                peer,
                len: body_len - TAG_LEN,
                max: self.max_payload,
            });
        }
        let frame_len = LEN_PREFIX + body_len;
        Ok(if pending.len() < frame_len {
            Next::Need(frame_len)
        } else {
            Next::Frame(body_len)
        })
    }

    fn open(&mut self, body_len: usize) -> Result<Vec<u8>, TransportError> {
        let peer = self.peer;
        let nonce = self.cipher.next_nonce(peer)?;
        let frame = &mut self.buf[self.start..self.start + LEN_PREFIX + body_len];
        let (prefix, rest) = frame.split_at_mut(LEN_PREFIX);
        let (payload, tag) = rest.split_at_mut(body_len - TAG_LEN);
        let tag = Tag::clone_from_slice(tag);
        self.cipher
            .aead
            .decrypt_in_place_detached(&nonce, prefix, payload, &tag)
            .map_err(|_| TransportError::FrameAuthentication { peer })?;
        let out = payload.to_vec();
        self.start += LEN_PREFIX + body_len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > IDLE_BUFFER_CAP {
                self.buf = Vec::new();
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:1".parse().unwrap()
    }

    fn pair(
        max: usize,
    ) -> (
        FrameWriter<tokio::io::DuplexStream>,
        FrameReader<tokio::io::DuplexStream>,
    ) {
        let key = SessionKey::new([9; 32]);
        let (a, b) = tokio::io::duplex(1 << 20);
        (
            FrameWriter::new(a, &key, max, peer()),
            FrameReader::new(b, &key, max, peer()),
        )
    }

    #[tokio::test]
    async fn frames_round_trip_including_empty_and_max_size() {
        let (mut w, mut r) = pair(1000);
        for payload in [vec![], vec![1], vec![2; 1000]] {
            w.write_frame(&payload).await.unwrap();
            assert_eq!(r.read_frame().await.unwrap(), payload);
        }
    }

    #[tokio::test]
    async fn oversize_payload_is_refused_on_send_without_breaking_the_writer() {
        let (mut w, mut r) = pair(10);
        let err = w.write_frame(&[0; 11]).await.unwrap_err();
        assert!(matches!(
            err,
            TransportError::PayloadTooLarge { len: 11, max: 10 }
        ));
        w.write_frame(b"ok").await.unwrap();
        assert_eq!(r.read_frame().await.unwrap(), b"ok");
    }

    #[tokio::test]
    async fn ciphertext_differs_for_equal_payloads() {
        let key = SessionKey::new([9; 32]);
        let (a, mut b) = tokio::io::duplex(1 << 16);
        let mut w = FrameWriter::new(a, &key, 100, peer());
        w.write_frame(b"same").await.unwrap();
        w.write_frame(b"same").await.unwrap();
        let mut raw = [0u8; 2 * (LEN_PREFIX + 4 + TAG_LEN)];
        b.read_exact(&mut raw).await.unwrap();
        let (first, second) = raw.split_at(raw.len() / 2);
        assert_eq!(first[..LEN_PREFIX], second[..LEN_PREFIX]);
        assert_ne!(first[LEN_PREFIX..], second[LEN_PREFIX..]);
        assert!(!raw.windows(4).any(|w| w == b"same"));
    }

    #[test]
    fn configured_maximum_is_clamped_to_the_length_prefix() {
        let (w, r) = pair(usize::MAX);
        assert_eq!(w.max_payload, LIMIT);
        assert_eq!(r.max_payload, LIMIT);
    }

    #[tokio::test]
    async fn short_length_prefix_is_refused() {
        let key = SessionKey::new([9; 32]);
        let (mut a, b) = tokio::io::duplex(64);
        let mut r = FrameReader::new(b, &key, 100, peer());
        a.write_all(&15u32.to_be_bytes()).await.unwrap();
        let err = r.read_frame().await.unwrap_err();
        assert!(matches!(err, TransportError::FrameTooShort { len: 15, .. }));
    }

    #[tokio::test]
    async fn read_frame_is_cancel_safe() {
        let key = SessionKey::new([9; 32]);
        let (a, mut wire) = tokio::io::duplex(1 << 16);
        let (mut feed, b) = tokio::io::duplex(1 << 16);
        let mut w = FrameWriter::new(a, &key, 100, peer());
        let mut r = FrameReader::new(b, &key, 100, peer());
        w.write_frame(b"split across reads").await.unwrap();
        let mut raw = vec![0u8; LEN_PREFIX + 18 + TAG_LEN];
        wire.read_exact(&mut raw).await.unwrap();

        // Feed half the frame, let a read start and then cancel it, then feed the rest.
        feed.write_all(&raw[..10]).await.unwrap();
        let cancelled =
            tokio::time::timeout(std::time::Duration::from_millis(20), r.read_frame()).await;
        assert!(cancelled.is_err());
        feed.write_all(&raw[10..]).await.unwrap();
        assert_eq!(r.read_frame().await.unwrap(), b"split across reads");
    }
}
