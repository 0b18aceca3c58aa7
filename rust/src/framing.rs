//! Length-prefixed frames (SPEC §4): encoding for one write, and an incremental decoder.
//!
//! The decoder copies each payload byte once in the common case: complete frames are sliced
//! straight out of the caller's chunk, and only a frame split across chunks is staged.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::error::{FrameError, UnknownFraming};

/// The three header forms a receiver may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// 4-byte unsigned big-endian length.
    U32Be,
    /// 2-byte unsigned big-endian length.
    U16Be,
    /// Four ASCII decimal digits, zero-padded.
    Ascii4,
}

impl Framing {
    pub fn parse(name: &str) -> Result<Self, UnknownFraming> {
        match name {
            "u32be" => Ok(Self::U32Be),
            "u16be" => Ok(Self::U16Be),
            "ascii4" => Ok(Self::Ascii4),
            other => Err(UnknownFraming(other.to_owned())),
        }
    }

    pub const fn header_len(self) -> usize {
        match self {
            Self::U32Be | Self::Ascii4 => 4,
            Self::U16Be => 2,
        }
    }

    /// The largest payload the header form can announce.
    pub const fn max_payload(self) -> usize {
        match self {
            Self::U32Be => u32::MAX as usize,
            Self::U16Be => u16::MAX as usize,
            Self::Ascii4 => 9999,
        }
    }

    /// Checks that a payload of `len` bytes can be framed; returns the framed size.
    pub fn framed_len(self, len: usize) -> Result<usize, FrameError> {
        let max = self.max_payload();
        if len > max {
            return Err(FrameError::PayloadTooLarge { len, max });
        }
        Ok(self.header_len() + len)
    }

    /// Writes the header for `len` (already checked by `framed_len`) into `out`.
    fn write_header(self, len: usize, out: &mut [u8]) {
        match self {
            Self::U32Be => out[..4].copy_from_slice(&(len as u32).to_be_bytes()),
            Self::U16Be => out[..2].copy_from_slice(&(len as u16).to_be_bytes()),
            Self::Ascii4 => {
                let mut rest = len;
                for byte in out[..4].iter_mut().rev() {
                    *byte = b'0' + (rest % 10) as u8;
                    rest /= 10;
                }
            }
        }
    }

    /// Reads the announced payload length from a complete header.
    fn read_header(self, header: &[u8]) -> Result<usize, FrameError> {
        match self {
            Self::U32Be => {
                Ok(u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize)
            }
            Self::U16Be => Ok(u16::from_be_bytes([header[0], header[1]]) as usize),
            Self::Ascii4 => {
                let digits = [header[0], header[1], header[2], header[3]];
                if !digits.iter().all(u8::is_ascii_digit) {
                    return Err(FrameError::BadAsciiHeader(digits));
                }
                Ok(digits
                    .iter()
                    .fold(0, |acc, d| acc * 10 + usize::from(d - b'0')))
            }
        }
    }

    /// Writes header and payload into `out`, which must be exactly `framed_len(payload.len())`.
    pub fn encode_into(self, payload: &[u8], out: &mut [u8]) {
        let header = self.header_len();
        self.write_header(payload.len(), out);
        out[header..].copy_from_slice(payload);
    }

    /// Frames `payload` onto the end of `out`.
    pub fn append(self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        let start = out.len();
        out.resize(start + self.framed_len(payload.len())?, 0);
        self.encode_into(payload, &mut out[start..]);
        Ok(())
    }
}

/// Incremental de-framer: feed it chunks as they arrive, get back every complete payload.
#[derive(Debug)]
pub struct Decoder {
    framing: Framing,
    max_frame_bytes: usize,
    /// Header and payload bytes of the one frame that straddles chunks; never a whole frame.
    partial: Vec<u8>,
    poisoned: bool,
}

impl Decoder {
    pub fn new(framing: Framing, max_frame_bytes: usize) -> Self {
        Self {
            framing,
            max_frame_bytes,
            partial: Vec::new(),
            poisoned: false,
        }
    }

    /// Bytes held back waiting for the rest of a frame.
    pub fn buffered(&self) -> usize {
        self.partial.len()
    }

    /// Passes every payload completed by `data` to `emit`, in order. After an error the
    /// decoder refuses all further input: the stream position can no longer be trusted.
    pub fn feed(&mut self, data: &[u8], emit: impl FnMut(&[u8])) -> Result<(), FrameError> {
        if self.poisoned {
            return Err(FrameError::Poisoned);
        }
        let result = self.feed_unchecked(data, emit);
        if result.is_err() {
            self.poisoned = true;
            self.partial = Vec::new();
        }
        result
    }

    fn announced_len(&self, header: &[u8]) -> Result<usize, FrameError> {
        let announced = self.framing.read_header(header)?;
        if announced > self.max_frame_bytes {
            return Err(FrameError::Oversize {
                announced,
                max: self.max_frame_bytes,
            });
        }
        Ok(announced)
    }

    fn feed_unchecked(
        &mut self,
        data: &[u8],
        mut emit: impl FnMut(&[u8]),
    ) -> Result<(), FrameError> {
        let header = self.framing.header_len();
        let mut rest = data;
        if !self.partial.is_empty() {
            if self.partial.len() < header {
                let take = (header - self.partial.len()).min(rest.len());
                self.partial.extend_from_slice(&rest[..take]);
                rest = &rest[take..];
                if self.partial.len() < header {
                    return Ok(());
                }
            }
            let len = self.announced_len(&self.partial[..header])?;
            let missing = header + len - self.partial.len();
            let take = missing.min(rest.len());
            self.partial.reserve_exact(missing);
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if take < missing {
                return Ok(());
            }
            emit(&self.partial[header..]);
            self.partial.clear();
        }
        while rest.len() >= header {
            let len = self.announced_len(&rest[..header])?;
            let Some(frame) = rest.get(header..header + len) else {
                // Size checked above, so this reservation is bounded by `max_frame_bytes`.
                self.partial.reserve_exact(header + len);
                break;
            };
            emit(frame);
            rest = &rest[header + len..];
        }
        self.partial.extend_from_slice(rest);
        Ok(())
    }
}

/// Frames one payload: header and payload in a single `bytes`.
#[pyfunction]
#[pyo3(signature = (payload, framing = "u32be"))]
pub fn encode_frame<'py>(
    py: Python<'py>,
    payload: &[u8],
    framing: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let framing = Framing::parse(framing)?;
    let total = framing.framed_len(payload.len())?;
    PyBytes::new_with(py, total, |out| {
        framing.encode_into(payload, out);
        Ok(())
    })
}

/// Frames several payloads into one buffer, so a pipelined burst costs one write.
#[pyfunction]
#[pyo3(signature = (payloads, framing = "u32be"))]
pub fn encode_frames<'py>(
    py: Python<'py>,
    payloads: &Bound<'py, PyAny>,
    framing: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let framing = Framing::parse(framing)?;
    let payloads: Vec<Bound<'py, PyBytes>> = payloads
        .try_iter()?
        .map(|item| Ok(item?.cast_into::<PyBytes>()?))
        .collect::<PyResult<_>>()?;
    let mut total = 0usize;
    for payload in &payloads {
        total += framing.framed_len(payload.as_bytes().len())?;
    }
    PyBytes::new_with(py, total, |out| {
        let mut at = 0;
        for payload in &payloads {
            let payload = payload.as_bytes();
            let end = at + framing.header_len() + payload.len();
            framing.encode_into(payload, &mut out[at..end]);
            at = end;
        }
        Ok(())
    })
}

/// Python face of [`Decoder`].
#[pyclass(module = "paywire._wire", name = "FrameDecoder")]
pub struct FrameDecoder {
    inner: Decoder,
}

#[pymethods]
impl FrameDecoder {
    #[new]
    #[pyo3(signature = (framing = "u32be", max_frame_bytes = 1_048_576))]
    fn new(framing: &str, max_frame_bytes: usize) -> PyResult<Self> {
        Ok(Self {
            inner: Decoder::new(Framing::parse(framing)?, max_frame_bytes),
        })
    }

    /// Every frame completed by `data`, in order; `b""` is a heartbeat. On a bad header the
    /// `FramingError` carries, as `frames`, those completed before it: they are real answers.
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let mut frames = Vec::new();
        let fed = self
            .inner
            .feed(data, |payload| frames.push(PyBytes::new(py, payload)));
        let frames = PyList::new(py, frames)?;
        match fed {
            Ok(()) => Ok(frames),
            Err(err) => {
                let err = PyErr::from(err);
                err.value(py).setattr("frames", frames)?;
                Err(err)
            }
        }
    }

    /// Bytes held back waiting for the rest of a frame.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Framing; 3] = [Framing::U32Be, Framing::U16Be, Framing::Ascii4];

    fn encode(framing: Framing, payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for payload in payloads {
            framing.append(payload, &mut out).unwrap();
        }
        out
    }

    fn decode(decoder: &mut Decoder, chunks: &[&[u8]]) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut frames = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk, |frame| frames.push(frame.to_vec()))?;
        }
        Ok(frames)
    }

    #[test]
    fn headers_have_the_documented_shape() {
        assert_eq!(encode(Framing::U32Be, &[b"abc"]), b"\0\0\0\x03abc");
        assert_eq!(encode(Framing::U16Be, &[b"abc"]), b"\0\x03abc");
        assert_eq!(encode(Framing::Ascii4, &[b"abc"]), b"0003abc");
        assert_eq!(encode(Framing::Ascii4, &[b""]), b"0000");
    }

    #[test]
    fn payload_limits_follow_the_header_form() {
        assert!(Framing::U16Be.framed_len(65_535).is_ok());
        assert_eq!(
            Framing::U16Be.framed_len(65_536),
            Err(FrameError::PayloadTooLarge {
                len: 65_536,
                max: 65_535
            })
        );
        assert!(Framing::Ascii4.framed_len(9_999).is_ok());
        assert!(Framing::Ascii4.framed_len(10_000).is_err());
    }

    #[test]
    fn unknown_framing_is_refused() {
        assert_eq!(Framing::parse("u64be"), Err(UnknownFraming("u64be".into())));
    }

    #[test]
    fn every_split_point_yields_the_same_frames() {
        let payloads: [&[u8]; 4] = [b"first", b"", b"third frame", b"x"];
        for framing in ALL {
            let stream = encode(framing, &payloads);
            for cut in 0..=stream.len() {
                let mut decoder = Decoder::new(framing, 1 << 20);
                let frames = decode(&mut decoder, &[&stream[..cut], &stream[cut..]]).unwrap();
                assert_eq!(
                    frames,
                    payloads.map(<[u8]>::to_vec),
                    "{framing:?} cut at {cut}"
                );
                assert_eq!(decoder.buffered(), 0);
            }
        }
    }

    #[test]
    fn byte_at_a_time_keeps_the_partial_frame() {
        let stream = encode(Framing::U32Be, &[b"hello"]);
        let mut decoder = Decoder::new(Framing::U32Be, 1 << 20);
        for (i, byte) in stream[..stream.len() - 1].iter().enumerate() {
            assert!(decode(&mut decoder, &[&[*byte]]).unwrap().is_empty());
            assert_eq!(decoder.buffered(), i + 1);
        }
        assert_eq!(
            decode(&mut decoder, &[&stream[stream.len() - 1..]]).unwrap(),
            vec![b"hello".to_vec()]
        );
    }

    #[test]
    fn oversize_header_poisons_the_decoder() {
        let mut decoder = Decoder::new(Framing::U32Be, 10);
        let stream = encode(Framing::U32Be, &[b"12345678901"]);
        assert_eq!(
            decode(&mut decoder, &[&stream]),
            Err(FrameError::Oversize {
                announced: 11,
                max: 10
            })
        );
        assert_eq!(
            decode(&mut decoder, &[b"\0\0\0\0"]),
            Err(FrameError::Poisoned)
        );
        assert_eq!(decoder.buffered(), 0);
    }

    #[test]
    fn oversize_header_split_across_chunks_is_caught() {
        let mut decoder = Decoder::new(Framing::U16Be, 100);
        assert!(decode(&mut decoder, &[b"\x01"]).unwrap().is_empty());
        assert!(matches!(
            decode(&mut decoder, &[b"\x00"]),
            Err(FrameError::Oversize { .. })
        ));
    }

    #[test]
    fn non_digit_ascii_header_poisons_the_decoder() {
        let mut decoder = Decoder::new(Framing::Ascii4, 1 << 20);
        assert_eq!(
            decode(&mut decoder, &[b"00x1abc"]),
            Err(FrameError::BadAsciiHeader(*b"00x1"))
        );
        assert_eq!(decode(&mut decoder, &[b"0000"]), Err(FrameError::Poisoned));
    }

    #[test]
    fn heartbeats_are_empty_frames() {
        let mut decoder = Decoder::new(Framing::U16Be, 1 << 20);
        let frames = decode(&mut decoder, &[b"\0\0\0\0\0\x01z"]).unwrap();
        assert_eq!(frames, vec![b"".to_vec(), b"".to_vec(), b"z".to_vec()]);
    }
}
