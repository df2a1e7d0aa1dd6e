//! WebSocket framing as pveproxy does it for `vncwebsocket` (`PVE::APIServer::AnyEvent`,
//! `websocket_proxy`): the server sends unmasked binary frames of at most 128 KiB each, answers
//! pings, and never sends a close frame (it just closes the connection); client frames must be
//! masked, unfragmented and without RSV bits, text and binary payloads both go to the VNC server,
//! a close frame ends the session.

/// Largest frame payload either way.
pub(crate) const MAX_PAYLOAD: usize = 128 * 1024;

/// A client frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Frame {
    /// Text or binary payload, passed to the VNC server as bytes.
    Data(Vec<u8>),
    Ping(Vec<u8>),
    Pong,
    Close,
}

/// Takes one complete frame off the front of `buf`; `Ok(None)` while incomplete, `Err` for what
/// pveproxy disconnects on.
pub(crate) fn parse_frame(buf: &mut Vec<u8>) -> Result<Option<Frame>, &'static str> {
    let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
        return Ok(None);
    };
    if b0 & 0x80 == 0 {
        return Err("received fragmented websocket frame");
    }
    if b0 & 0x70 != 0 {
        return Err("received websocket frame with RSV flags");
    }
    if b1 & 0x80 == 0 {
        return Err("received unmasked websocket frame from client");
    }
    let (len, offset) = match b1 & 0x7f {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                (u64::from_be_bytes(a), 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let len = match usize::try_from(len) {
        Ok(l) if l <= MAX_PAYLOAD => l,
        _ => return Err("received too large websocket frame"),
    };
    let end = offset + 4 + len;
    if buf.len() < end {
        return Ok(None);
    }
    let mask = [
        buf[offset],
        buf[offset + 1],
        buf[offset + 2],
        buf[offset + 3],
    ];
    let payload: Vec<u8> = buf[offset + 4..end]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    buf.drain(..end);
    match b0 & 0x0f {
        1 | 2 => Ok(Some(Frame::Data(payload))),
        8 => Ok(Some(Frame::Close)),
        9 => Ok(Some(Frame::Ping(payload))),
        10 => Ok(Some(Frame::Pong)),
        _ => Err("received unhandled websocket opcode"),
    }
}

/// One unmasked server frame (`opcode` 2 binary, 10 pong).
pub(crate) fn encode_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(0x80 | opcode);
    match payload.len() {
        n @ 0..=125 => out.push(n as u8),
        n @ 126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    out
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &str) -> String {
    use base64::Engine;
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut f = encode_frame(opcode, payload);
        let header = f.len() - payload.len();
        f[1] |= 0x80;
        let body: Vec<u8> = payload
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4])
            .collect();
        f.truncate(header);
        f.extend_from_slice(&mask);
        f.extend_from_slice(&body);
        f
    }

    #[test]
    fn rfc_6455_accept_key() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_round_trip_and_split() {
        let big = vec![7u8; 70_000];
        let mut buf = masked(2, b"hi");
        buf.extend(masked(9, b"p"));
        buf.extend(masked(2, &big));
        let partial = buf.split_off(buf.len() - 10);
        assert_eq!(parse_frame(&mut buf), Ok(Some(Frame::Data(b"hi".to_vec()))));
        assert_eq!(parse_frame(&mut buf), Ok(Some(Frame::Ping(b"p".to_vec()))));
        assert_eq!(parse_frame(&mut buf), Ok(None));
        buf.extend(partial);
        assert_eq!(parse_frame(&mut buf), Ok(Some(Frame::Data(big))));
        assert!(buf.is_empty());
        assert_eq!(encode_frame(2, &[0; 126])[1], 126);
    }

    #[test]
    fn refuses_what_pveproxy_refuses() {
        let mut unmasked = encode_frame(2, b"x");
        assert!(parse_frame(&mut unmasked).is_err());
        let mut fragment = masked(2, b"x");
        fragment[0] &= 0x7f;
        assert!(parse_frame(&mut fragment).is_err());
        let mut continuation = masked(0, b"x");
        assert!(parse_frame(&mut continuation).is_err());
    }
}
