//! The server side of RFB 3.8 (RFC 6143) without I/O: bytes from the client go in through
//! [`RfbServer::feed`], bytes for the client come out. It offers only "VNC Authentication"
//! (security type 2), sends raw-encoded updates, answers incremental update requests only when
//! something changed (as QEMU does), and knows the DesktopSize pseudo-encoding.

use std::time::{Duration, Instant};

use super::des::vnc_auth_response;
use super::screen::ConsoleScreen;

/// Which real backend a session imitates: QEMU's VNC server (VMs) or `vncterm` (containers,
/// libvncserver). They differ in the desktop name, the failure reason and password expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavour {
    Qemu,
    Vncterm,
}

const ENC_DESKTOP_SIZE: i32 = -223;
/// What `sent` holds for a pixel the client does not have; no real pixel has the top byte set.
const UNKNOWN: u32 = u32::MAX;
/// Cut text above this is a protocol error (QEMU's limit).
const MAX_CUT_TEXT: usize = 1 << 20;
/// The echo line keeps at most this many characters.
const MAX_ECHO: usize = 1024;
/// QEMU's VNC password expires 30 s after `qm vncproxy` sets it (`expire_password +30`).
const QEMU_PASSWORD_LIFETIME: Duration = Duration::from_secs(30);

/// A pixel format (RFB §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PixelFormat {
    bpp: u8,
    depth: u8,
    big_endian: bool,
    true_colour: bool,
    max: [u16; 3],
    shift: [u8; 3],
}

impl PixelFormat {
    /// The server's native format: 32 bpp, depth 24, little endian, true colour, 0x00RRGGBB.
    const NATIVE: Self = Self {
        bpp: 32,
        depth: 24,
        big_endian: false,
        true_colour: true,
        max: [255, 255, 255],
        shift: [16, 8, 0],
    };

    fn to_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[0] = self.bpp;
        b[1] = self.depth;
        b[2] = u8::from(self.big_endian);
        b[3] = u8::from(self.true_colour);
        for i in 0..3 {
            b[4 + 2 * i..6 + 2 * i].copy_from_slice(&self.max[i].to_be_bytes());
            b[10 + i] = self.shift[i];
        }
        b
    }

    fn parse(b: &[u8]) -> Self {
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        Self {
            bpp: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            max: [u16_at(4), u16_at(6), u16_at(8)],
            shift: [b[10], b[11], b[12]],
        }
    }

    /// Formats the simulator draws in: true colour at 8, 16 or 32 bits per pixel. Colour maps
    /// (`true-colour-flag` 0) and other depths are refused.
    fn supported(self) -> bool {
        self.true_colour
            && matches!(self.bpp, 8 | 16 | 32)
            && self.max.iter().all(|m| *m > 0)
            && self
                .shift
                .iter()
                .all(|s| u32::from(*s) < u32::from(self.bpp))
    }

    /// Appends one `0x00RRGGBB` pixel: each channel scaled to its maximum with rounding
    /// (`c * max + 127) / 255`), shifted, written in `bpp / 8` bytes of the asked byte order.
    fn encode(self, pixel: u32, out: &mut Vec<u8>) {
        let channels = [(pixel >> 16) & 0xff, (pixel >> 8) & 0xff, pixel & 0xff];
        let mut v: u32 = 0;
        for ((c, max), shift) in channels.iter().zip(self.max).zip(self.shift) {
            v |= ((c * u32::from(max) + 127) / 255) << shift;
        }
        let bytes = v.to_le_bytes();
        let n = usize::from(self.bpp / 8);
        if self.big_endian {
            out.extend(bytes[..n].iter().rev());
        } else {
            out.extend_from_slice(&bytes[..n]);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rect {
    x: u16,
    y: u16,
    w: u16,
    h: u16,
}

impl Rect {
    fn union(self, o: Rect) -> Rect {
        let x = self.x.min(o.x);
        let y = self.y.min(o.y);
        let x2 = (self.x + self.w).max(o.x + o.w);
        let y2 = (self.y + self.h).max(o.y + o.h);
        Rect {
            x,
            y,
            w: x2 - x,
            h: y2 - y,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Version,
    Security,
    Challenge,
    ClientInit,
    Normal,
    Closed,
}

/// Output of one step, and whether the connection must be closed after sending it.
#[derive(Debug, Default)]
pub(crate) struct Step {
    pub out: Vec<u8>,
    pub close: bool,
}

/// How a session starts.
pub(crate) struct RfbConfig {
    pub flavour: Flavour,
    /// The VNC password (only the first 8 bytes count).
    pub password: Vec<u8>,
    pub desktop_name: String,
    pub screen: ConsoleScreen,
    pub challenge: [u8; 16],
    pub now: Instant,
    pub clock: String,
}

/// One client's RFB session.
pub(crate) struct RfbServer {
    flavour: Flavour,
    phase: Phase,
    inbuf: Vec<u8>,
    password: Vec<u8>,
    password_expires: Option<Instant>,
    challenge: [u8; 16],
    minor: u8,
    desktop_name: String,
    screen: ConsoleScreen,
    clock: String,
    fb: Vec<u32>,
    sent: Vec<u32>,
    client_size: (u16, u16),
    format: PixelFormat,
    desktop_size: bool,
    pending: Option<Rect>,
}

impl RfbServer {
    pub fn new(cfg: RfbConfig) -> Self {
        let fb = cfg.screen.render(&cfg.clock);
        let sent = vec![UNKNOWN; fb.len()];
        Self {
            flavour: cfg.flavour,
            phase: Phase::Version,
            inbuf: Vec::new(),
            password: cfg.password,
            password_expires: (cfg.flavour == Flavour::Qemu)
                .then(|| cfg.now + QEMU_PASSWORD_LIFETIME),
            challenge: cfg.challenge,
            minor: 8,
            desktop_name: cfg.desktop_name,
            client_size: (cfg.screen.width, cfg.screen.height),
            screen: cfg.screen,
            clock: cfg.clock,
            fb,
            sent,
            format: PixelFormat::NATIVE,
            desktop_size: false,
            pending: None,
        }
    }

    /// The server's first bytes, `ProtocolVersion`.
    pub fn greeting() -> &'static [u8] {
        b"RFB 003.008\n"
    }

    /// The screen as the session sees it.
    #[cfg(test)]
    pub fn screen(&self) -> &ConsoleScreen {
        &self.screen
    }

    /// Processes client bytes.
    pub fn feed(&mut self, data: &[u8], now: Instant) -> Step {
        let mut step = Step::default();
        if self.phase == Phase::Closed {
            step.close = true;
            return step;
        }
        self.inbuf.extend_from_slice(data);
        let mut changed = false;
        while self.phase != Phase::Closed {
            match self.next_message(now, &mut step.out, &mut changed) {
                Some(true) => {}
                Some(false) => {
                    self.phase = Phase::Closed;
                }
                None => break,
            }
        }
        if self.phase == Phase::Closed {
            step.close = true;
            return step;
        }
        if changed {
            self.fb = self.screen.render(&self.clock);
        }
        self.flush(&mut step.out);
        step
    }

    /// Redraws with a new clock text; returns an update if one is owed and something changed.
    pub fn tick(&mut self, clock: &str) -> Vec<u8> {
        let mut out = Vec::new();
        if self.phase != Phase::Normal || clock == self.clock {
            return out;
        }
        clock.clone_into(&mut self.clock);
        self.fb = self.screen.render(&self.clock);
        self.flush(&mut out);
        out
    }

    /// Changes the framebuffer size (the guest changed resolution); clients that announced
    /// DesktopSize get the pseudo-rectangle at once, as QEMU sends it.
    pub fn resize(&mut self, width: u16, height: u16) -> Vec<u8> {
        let mut out = Vec::new();
        if (width, height) == (self.screen.width, self.screen.height) {
            return out;
        }
        self.screen.width = width;
        self.screen.height = height;
        if let Some((x, y)) = self.screen.pointer {
            self.screen.pointer = Some((x.min(width - 1), y.min(height - 1)));
        }
        self.fb = self.screen.render(&self.clock);
        self.sent = vec![UNKNOWN; self.fb.len()];
        if self.phase != Phase::Normal {
            self.client_size = (width, height);
            return out;
        }
        if self.desktop_size {
            self.client_size = (width, height);
            self.pending = None;
            out.extend_from_slice(&[0, 0, 0, 1]);
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.extend_from_slice(&width.to_be_bytes());
            out.extend_from_slice(&height.to_be_bytes());
            out.extend_from_slice(&ENC_DESKTOP_SIZE.to_be_bytes());
        } else {
            self.flush(&mut out);
        }
        out
    }

    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        (self.inbuf.len() >= n).then(|| self.inbuf.drain(..n).collect())
    }

    fn fail_auth(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&1u32.to_be_bytes());
        if self.minor >= 8 {
            let reason: &[u8] = match self.flavour {
                Flavour::Qemu => b"Authentication failed\0",
                Flavour::Vncterm => b"password check failed!",
            };
            out.extend_from_slice(&(reason.len() as u32).to_be_bytes());
            out.extend_from_slice(reason);
        }
    }

    /// Handles one message if complete: `Some(true)` go on, `Some(false)` close, `None` wait.
    fn next_message(
        &mut self,
        now: Instant,
        out: &mut Vec<u8>,
        changed: &mut bool,
    ) -> Option<bool> {
        match self.phase {
            Phase::Version => {
                let v = self.take(12)?;
                let text = std::str::from_utf8(&v).unwrap_or_default();
                let minor = text
                    .strip_prefix("RFB 003.")
                    .and_then(|r| r.strip_suffix('\n'))
                    .and_then(|m| m.parse::<u8>().ok());
                self.minor = match minor {
                    Some(7 | 8) => minor.unwrap_or(8),
                    Some(3..=5) => 3,
                    _ => return Some(false),
                };
                if self.minor >= 7 {
                    out.extend_from_slice(&[1, 2]);
                    self.phase = Phase::Security;
                } else {
                    out.extend_from_slice(&2u32.to_be_bytes());
                    out.extend_from_slice(&self.challenge);
                    self.phase = Phase::Challenge;
                }
                Some(true)
            }
            Phase::Security => {
                let t = self.take(1)?;
                if t[0] != 2 {
                    self.fail_auth(out);
                    return Some(false);
                }
                out.extend_from_slice(&self.challenge);
                self.phase = Phase::Challenge;
                Some(true)
            }
            Phase::Challenge => {
                let response = self.take(16)?;
                let expected = vnc_auth_response(&self.password, &self.challenge);
                let expired = self.password_expires.is_some_and(|t| now > t);
                if expired || response != expected {
                    self.fail_auth(out);
                    return Some(false);
                }
                out.extend_from_slice(&0u32.to_be_bytes());
                self.phase = Phase::ClientInit;
                Some(true)
            }
            Phase::ClientInit => {
                self.take(1)?;
                out.extend_from_slice(&self.screen.width.to_be_bytes());
                out.extend_from_slice(&self.screen.height.to_be_bytes());
                out.extend_from_slice(&PixelFormat::NATIVE.to_bytes());
                out.extend_from_slice(&(self.desktop_name.len() as u32).to_be_bytes());
                out.extend_from_slice(self.desktop_name.as_bytes());
                self.client_size = (self.screen.width, self.screen.height);
                self.phase = Phase::Normal;
                Some(true)
            }
            Phase::Normal => self.client_message(out, changed),
            Phase::Closed => Some(false),
        }
    }

    fn client_message(&mut self, out: &mut Vec<u8>, changed: &mut bool) -> Option<bool> {
        let kind = *self.inbuf.first()?;
        let u16_at = |b: &[u8], i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |b: &[u8], i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match kind {
            // SetPixelFormat
            0 => {
                let m = self.take(20)?;
                let format = PixelFormat::parse(&m[4..20]);
                if !format.supported() {
                    return Some(false);
                }
                self.format = format;
                self.sent.fill(UNKNOWN);
            }
            // SetEncodings
            2 => {
                let n = usize::from(u16_at(self.inbuf.get(..4)?, 2));
                let m = self.take(4 + 4 * n)?;
                self.desktop_size = m[4..]
                    .chunks_exact(4)
                    .any(|e| i32::from_be_bytes([e[0], e[1], e[2], e[3]]) == ENC_DESKTOP_SIZE);
            }
            // FramebufferUpdateRequest
            3 => {
                let m = self.take(10)?;
                let incremental = m[1] != 0;
                let (cw, ch) = self.client_size;
                let (fw, fh) = (self.screen.width, self.screen.height);
                let (maxw, maxh) = (cw.min(fw), ch.min(fh));
                let (x, y) = (u16_at(&m, 2).min(maxw), u16_at(&m, 4).min(maxh));
                let w = u16_at(&m, 6).min(maxw - x);
                let h = u16_at(&m, 8).min(maxh - y);
                if w > 0 && h > 0 {
                    let r = Rect { x, y, w, h };
                    if !incremental {
                        self.invalidate(r);
                    }
                    self.pending = Some(self.pending.map_or(r, |p| p.union(r)));
                }
            }
            // KeyEvent
            4 => {
                let m = self.take(8)?;
                if m[1] != 0 {
                    *changed |= self.key(u32_at(&m, 4));
                }
            }
            // PointerEvent
            5 => {
                let m = self.take(6)?;
                let x = u16_at(&m, 2).min(self.screen.width - 1);
                let y = u16_at(&m, 4).min(self.screen.height - 1);
                if self.screen.pointer != Some((x, y)) {
                    self.screen.pointer = Some((x, y));
                    *changed = true;
                }
            }
            // ClientCutText: printable ASCII is appended to the echo line
            6 => {
                let len = u32_at(self.inbuf.get(..8)?, 4) as usize;
                if len > MAX_CUT_TEXT {
                    return Some(false);
                }
                let m = self.take(8 + len)?;
                for &b in &m[8..] {
                    if (0x20..0x7f).contains(&b) {
                        self.push_echo(char::from(b));
                        *changed = true;
                    }
                }
            }
            // SetDesktopSize (ExtendedDesktopSize clients): honoured as a resize request
            251 => {
                let screens = usize::from(*self.inbuf.get(6)?);
                let m = self.take(8 + 16 * screens)?;
                let (w, h) = (u16_at(&m, 2), u16_at(&m, 4));
                if (16..=4096).contains(&w) && (16..=2160).contains(&h) {
                    let bytes = self.resize(w, h);
                    out.extend_from_slice(&bytes);
                }
            }
            // QEMU client message; only the extended key event (sub-type 0)
            255 => {
                let sub = *self.inbuf.get(1)?;
                if sub != 0 {
                    return Some(false);
                }
                let m = self.take(12)?;
                if u16_at(&m, 2) != 0 {
                    *changed |= self.key(u32_at(&m, 4));
                }
            }
            _ => return Some(false),
        }
        Some(true)
    }

    fn push_echo(&mut self, c: char) {
        if self.screen.echo.len() >= MAX_ECHO {
            self.screen.echo.remove(0);
        }
        self.screen.echo.push(c);
    }

    /// A key press: printable ASCII is appended, BackSpace removes, Return clears.
    fn key(&mut self, keysym: u32) -> bool {
        match keysym {
            0x20..=0x7e => {
                self.push_echo(char::from(keysym as u8));
                true
            }
            0xff08 => self.screen.echo.pop().is_some(),
            0xff0d | 0xff8d => {
                let had = !self.screen.echo.is_empty();
                self.screen.echo.clear();
                had
            }
            _ => false,
        }
    }

    fn invalidate(&mut self, r: Rect) {
        let w = usize::from(self.screen.width);
        for y in r.y..r.y + r.h {
            let start = usize::from(y) * w + usize::from(r.x);
            self.sent[start..start + usize::from(r.w)].fill(UNKNOWN);
        }
    }

    /// Answers the outstanding update request with what changed inside it, if anything did.
    fn flush(&mut self, out: &mut Vec<u8>) {
        let Some(req) = self.pending else {
            return;
        };
        let rects = self.dirty(req);
        if rects.is_empty() {
            return;
        }
        self.pending = None;
        let w = usize::from(self.screen.width);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(&(rects.len() as u16).to_be_bytes());
        for r in rects {
            for v in [r.x, r.y, r.w, r.h] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.extend_from_slice(&0i32.to_be_bytes());
            for y in r.y..r.y + r.h {
                let start = usize::from(y) * w + usize::from(r.x);
                for i in start..start + usize::from(r.w) {
                    self.format.encode(self.fb[i], out);
                    self.sent[i] = self.fb[i];
                }
            }
        }
    }

    /// Changed areas inside `r`, one rectangle per 16-row band.
    fn dirty(&self, r: Rect) -> Vec<Rect> {
        let w = usize::from(self.screen.width);
        let (x0, x1) = (usize::from(r.x), usize::from(r.x + r.w));
        let mut rects = Vec::new();
        let mut band = r.y;
        while band < r.y + r.h {
            let bh = 16.min(r.y + r.h - band);
            let mut span: Option<(usize, usize)> = None;
            for y in band..band + bh {
                let row = usize::from(y) * w;
                let (fb, sent) = (&self.fb[row + x0..row + x1], &self.sent[row + x0..row + x1]);
                let diff = |i: &usize| fb[*i] != sent[*i];
                if let Some(first) = (0..fb.len()).find(diff) {
                    let last = (0..fb.len()).rev().find(diff).unwrap_or(first);
                    span = Some(span.map_or((first, last), |(a, b)| (a.min(first), b.max(last))));
                }
            }
            if let Some((a, b)) = span {
                rects.push(Rect {
                    x: r.x + a as u16,
                    y: band,
                    w: (b - a + 1) as u16,
                    h: bh,
                });
            }
            band += bh;
        }
        rects
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const CHALLENGE: [u8; 16] = [9; 16];
    const CLOCK: &str = "12:00:00 UTC";

    fn server(flavour: Flavour) -> RfbServer {
        RfbServer::new(RfbConfig {
            flavour,
            password: b"s3cret!!".to_vec(),
            desktop_name: "QEMU (web)".into(),
            screen: ConsoleScreen::new("web"),
            challenge: CHALLENGE,
            now: Instant::now(),
            clock: CLOCK.into(),
        })
    }

    fn feed(s: &mut RfbServer, data: &[u8]) -> Vec<u8> {
        let step = s.feed(data, Instant::now());
        assert!(!step.close, "unexpected close");
        step.out
    }

    /// Runs the handshake; returns the ServerInit bytes.
    fn connect(s: &mut RfbServer) -> Vec<u8> {
        assert_eq!(RfbServer::greeting(), b"RFB 003.008\n");
        assert_eq!(feed(s, b"RFB 003.008\n"), [1, 2]);
        assert_eq!(feed(s, &[2]), CHALLENGE);
        let response = vnc_auth_response(b"s3cret!!", &CHALLENGE);
        assert_eq!(feed(s, &response), [0, 0, 0, 0]);
        feed(s, &[1])
    }

    fn request(incremental: bool, x: u16, y: u16, w: u16, h: u16) -> Vec<u8> {
        let mut m = vec![3, u8::from(incremental)];
        for v in [x, y, w, h] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m
    }

    fn key(keysym: u32) -> Vec<u8> {
        let mut m = vec![4, 1, 0, 0];
        m.extend_from_slice(&keysym.to_be_bytes());
        m
    }

    /// Applies a 32 bpp little-endian raw FramebufferUpdate; returns the rectangles.
    fn apply(update: &[u8], fb: &mut [u32], width: usize) -> Vec<(u16, u16, u16, u16)> {
        assert_eq!(update[0], 0, "FramebufferUpdate");
        let n = u16::from_be_bytes([update[2], update[3]]);
        let mut at = 4;
        let mut rects = Vec::new();
        for _ in 0..n {
            let v = |i: usize| u16::from_be_bytes([update[at + i], update[at + i + 1]]);
            let (x, y, w, h) = (v(0), v(2), v(4), v(6));
            assert_eq!(&update[at + 8..at + 12], &[0, 0, 0, 0], "raw");
            at += 12;
            for row in 0..h {
                for col in 0..w {
                    let p = &update[at..at + 4];
                    fb[(usize::from(y + row)) * width + usize::from(x + col)] =
                        u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                    at += 4;
                }
            }
            rects.push((x, y, w, h));
        }
        assert_eq!(at, update.len(), "no trailing bytes");
        rects
    }

    #[test]
    fn handshake_server_init_and_full_update() {
        let mut s = server(Flavour::Qemu);
        let init = connect(&mut s);
        assert_eq!(&init[..4], &[0x03, 0x20, 0x02, 0x58], "800x600");
        assert_eq!(
            &init[4..20],
            &[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0]
        );
        assert_eq!(&init[20..24], &10u32.to_be_bytes());
        assert_eq!(&init[24..], b"QEMU (web)");
        let mut fb = vec![0u32; 800 * 600];
        let update = feed(&mut s, &request(false, 0, 0, 800, 600));
        let rects = apply(&update, &mut fb, 800);
        assert_eq!(rects.len(), 600 / 16 + 1, "one rectangle per 16-row band");
        assert_eq!(fb, s.screen().render(CLOCK));
        // nothing changed: an incremental request waits
        assert!(feed(&mut s, &request(true, 0, 0, 800, 600)).is_empty());
        // typing answers it with the echo line only
        let update = feed(&mut s, &key(u32::from(b'h')));
        let rects = apply(&update, &mut fb, 800);
        assert!(
            rects.iter().all(|r| r.1 >= 96 && r.1 + r.3 <= 112),
            "{rects:?}"
        );
        assert_eq!(s.screen().echo, "h");
        assert_eq!(fb, s.screen().render(CLOCK));
        // the clock redraw answers the next one
        assert!(feed(&mut s, &request(true, 0, 0, 800, 600)).is_empty());
        let update = s.tick("12:00:01 UTC");
        let rects = apply(&update, &mut fb, 800);
        assert!(
            rects.iter().all(|r| r.1 >= 48 && r.1 + r.3 <= 64),
            "{rects:?}"
        );
    }

    #[test]
    fn keys_backspace_return_and_cut_text() {
        let mut s = server(Flavour::Qemu);
        connect(&mut s);
        for k in b"abc" {
            feed(&mut s, &key(u32::from(*k)));
        }
        feed(&mut s, &key(0xff08));
        assert_eq!(s.screen().echo, "ab");
        feed(&mut s, &[4, 0, 0, 0, 0, 0, 0, b'z']); // key up: nothing
        let mut cut = vec![6, 0, 0, 0, 0, 0, 0, 4];
        cut.extend_from_slice(b"x\ny");
        cut.push(0xe9);
        feed(&mut s, &cut);
        assert_eq!(s.screen().echo, "abxy");
        feed(&mut s, &key(0xff0d));
        assert_eq!(s.screen().echo, "");
        // a key event split over two frames
        let k = key(u32::from(b'q'));
        feed(&mut s, &k[..3]);
        feed(&mut s, &k[3..]);
        assert_eq!(s.screen().echo, "q");
        feed(&mut s, &[5, 0, 0x01, 0x00, 0x00, 0x20]);
        assert_eq!(s.screen().pointer, Some((256, 32)));
    }

    #[test]
    fn wrong_password_fails_with_the_backends_reason() {
        for (flavour, reason) in [
            (Flavour::Qemu, &b"Authentication failed\0"[..]),
            (Flavour::Vncterm, &b"password check failed!"[..]),
        ] {
            let mut s = server(flavour);
            feed(&mut s, b"RFB 003.008\n");
            feed(&mut s, &[2]);
            let step = s.feed(&vnc_auth_response(b"wrong", &CHALLENGE), Instant::now());
            assert!(step.close);
            let mut expected = vec![0, 0, 0, 1];
            expected.extend_from_slice(&(reason.len() as u32).to_be_bytes());
            expected.extend_from_slice(reason);
            assert_eq!(step.out, expected);
        }
    }

    #[test]
    fn qemu_password_expires_after_30_seconds() {
        let mut s = server(Flavour::Qemu);
        feed(&mut s, b"RFB 003.008\n");
        feed(&mut s, &[2]);
        let later = Instant::now() + Duration::from_secs(31);
        let step = s.feed(&vnc_auth_response(b"s3cret!!", &CHALLENGE), later);
        assert!(step.close);
    }

    #[test]
    fn rfb_3_3_and_bad_versions() {
        let mut s = server(Flavour::Qemu);
        let out = feed(&mut s, b"RFB 003.003\n");
        assert_eq!(&out[..4], &[0, 0, 0, 2]);
        assert_eq!(&out[4..], &CHALLENGE);
        let mut s = server(Flavour::Qemu);
        assert!(s.feed(b"RFB 004.000\n", Instant::now()).close);
        let mut s = server(Flavour::Qemu);
        feed(&mut s, b"RFB 003.008\n");
        assert!(
            s.feed(&[1], Instant::now()).close,
            "security type None refused"
        );
    }

    #[test]
    fn sixteen_bit_pixels_and_refused_formats() {
        let mut s = server(Flavour::Qemu);
        connect(&mut s);
        // 16 bpp, depth 16, little endian, true colour, 5-6-5
        let mut m = vec![
            0, 0, 0, 0, 16, 16, 0, 1, 0, 31, 0, 63, 0, 31, 11, 5, 0, 0, 0, 0,
        ];
        assert!(feed(&mut s, &m).is_empty());
        let out = feed(&mut s, &request(false, 0, 0, 1, 1));
        // background 10 18 20 -> r 2, g 6, b 4 -> 0x10c4
        assert_eq!(&out[16..], &[0xc4, 0x10]);
        // big endian
        m[6] = 1;
        feed(&mut s, &m);
        let out = feed(&mut s, &request(false, 0, 0, 1, 1));
        assert_eq!(&out[16..], &[0x10, 0xc4]);
        // colour map refused
        m[7] = 0;
        assert!(s.feed(&m, Instant::now()).close);
    }

    #[test]
    fn desktop_size_on_resize() {
        let mut s = server(Flavour::Qemu);
        connect(&mut s);
        let mut enc = vec![2, 0, 0, 2];
        enc.extend_from_slice(&0i32.to_be_bytes());
        enc.extend_from_slice(&(-223i32).to_be_bytes());
        feed(&mut s, &enc);
        let out = s.resize(1024, 768);
        assert_eq!(
            out,
            [0, 0, 0, 1, 0, 0, 0, 0, 4, 0, 3, 0, 0xff, 0xff, 0xff, 0x21]
        );
        let mut fb = vec![0u32; 1024 * 768];
        let update = feed(&mut s, &request(false, 0, 0, 1024, 768));
        apply(&update, &mut fb, 1024);
        assert_eq!(fb, s.screen().render(CLOCK));
        // asked for by a SetDesktopSize message
        let mut m = vec![251, 0, 0x03, 0x20, 0x02, 0x58, 1, 0];
        m.extend_from_slice(&[0; 16]);
        let out = feed(&mut s, &m);
        assert_eq!(&out[8..12], &[3, 0x20, 2, 0x58]);
        assert_eq!((s.screen().width, s.screen().height), (800, 600));
    }

    #[test]
    fn unknown_messages_close() {
        let mut s = server(Flavour::Qemu);
        connect(&mut s);
        assert!(s.feed(&[99], Instant::now()).close);
    }
}
