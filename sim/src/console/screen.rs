//! What a simulated console shows. The picture is a pure function of the guest's name, the clock
//! text, the echo line and the pointer position, so tests can predict every pixel: see the
//! constants below and `sim/README.md` ("VNC console").

use super::font::glyph;

/// Framebuffer width when nothing else is asked for (LXC `width`, [`crate::SimHandle::set_console_size`]).
pub const DEFAULT_WIDTH: u16 = 800;
/// Framebuffer height when nothing else is asked for.
pub const DEFAULT_HEIGHT: u16 = 600;
/// Every pixel not covered by text or the pointer (RGB).
pub const BACKGROUND: [u8; 3] = [0x10, 0x18, 0x20];
/// Text is the 8×8 font ([`super::glyph`]) scaled by this factor: each glyph cell is 16×16 pixels,
/// characters follow each other every 16 pixels.
pub const TEXT_SCALE: u16 = 2;
/// Top-left corner of the guest's name.
pub const NAME_ORIGIN: (u16, u16) = (16, 16);
/// Colour of the guest's name.
pub const NAME_COLOUR: [u8; 3] = [0xff, 0xff, 0xff];
/// Top-left corner of the clock, `HH:MM:SS UTC`, redrawn every second.
pub const CLOCK_ORIGIN: (u16, u16) = (16, 48);
/// Colour of the clock.
pub const CLOCK_COLOUR: [u8; 3] = [0xa0, 0xa0, 0xa0];
/// Top-left corner of the echo line ([`ECHO_PROMPT`] followed by what was typed).
pub const ECHO_ORIGIN: (u16, u16) = (16, 96);
/// Colour of the echo line.
pub const ECHO_COLOUR: [u8; 3] = [0x40, 0xff, 0x40];
/// Drawn before the typed text.
pub const ECHO_PROMPT: &str = "> ";
/// The pointer, drawn with its tip (row 0, column 0) at the last PointerEvent position, after
/// everything else: `X` is [`POINTER_OUTLINE`], `#` is [`POINTER_FILL`], a space leaves the
/// pixel below. Not drawn before the first PointerEvent.
pub const POINTER: [&str; 12] = [
    "X       ", "XX      ", "X#X     ", "X##X    ", "X###X   ", "X####X  ", "X#####X ", "X######X",
    "X###XXXX", "X#X#X   ", "XX X#X  ", "X   XX  ",
];
/// Pointer outline colour.
pub const POINTER_OUTLINE: [u8; 3] = [0x00, 0x00, 0x00];
/// Pointer fill colour.
pub const POINTER_FILL: [u8; 3] = [0xff, 0xff, 0xff];

/// `0x00RRGGBB` of an RGB triple.
pub(crate) const fn rgb(c: [u8; 3]) -> u32 {
    ((c[0] as u32) << 16) | ((c[1] as u32) << 8) | c[2] as u32
}

/// The clock text for a Unix time: `HH:MM:SS UTC`.
pub fn clock_text(unix_secs: i64) -> String {
    let s = unix_secs.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02} UTC", s / 3600, s / 60 % 60, s % 60)
}

/// The state a console picture is drawn from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleScreen {
    /// Framebuffer width in pixels.
    pub width: u16,
    /// Framebuffer height in pixels.
    pub height: u16,
    /// The guest's name (QEMU `name`, LXC `hostname`, `VM<id>`/`CT<id>` without one).
    pub name: String,
    /// What was typed since the last Return.
    pub echo: String,
    /// The last pointer position, if the client sent one.
    pub pointer: Option<(u16, u16)>,
}

impl ConsoleScreen {
    /// A screen of the default size showing `name`.
    pub fn new(name: &str) -> Self {
        Self {
            width: DEFAULT_WIDTH,
            height: DEFAULT_HEIGHT,
            name: name.to_owned(),
            echo: String::new(),
            pointer: None,
        }
    }

    /// The echo line as drawn: the prompt and the tail of the typed text that fits the width
    /// (16 pixels of margin on both sides).
    pub fn echo_line(&self) -> String {
        let cell = usize::from(8 * TEXT_SCALE);
        let fits = usize::from(self.width).saturating_sub(32) / cell;
        let room = fits.saturating_sub(ECHO_PROMPT.len());
        let chars: Vec<char> = self.echo.chars().collect();
        let tail: String = chars[chars.len().saturating_sub(room)..].iter().collect();
        format!("{ECHO_PROMPT}{tail}")
    }

    /// Draws the picture: `width × height` pixels, row by row, each `0x00RRGGBB`.
    pub fn render(&self, clock: &str) -> Vec<u32> {
        let mut canvas = Canvas {
            w: usize::from(self.width),
            h: usize::from(self.height),
            px: vec![rgb(BACKGROUND); usize::from(self.width) * usize::from(self.height)],
        };
        canvas.text(NAME_ORIGIN, &self.name, rgb(NAME_COLOUR));
        canvas.text(CLOCK_ORIGIN, clock, rgb(CLOCK_COLOUR));
        canvas.text(ECHO_ORIGIN, &self.echo_line(), rgb(ECHO_COLOUR));
        if let Some((x, y)) = self.pointer {
            for (dy, row) in POINTER.iter().enumerate() {
                for (dx, cell) in row.bytes().enumerate() {
                    let colour = match cell {
                        b'X' => rgb(POINTER_OUTLINE),
                        b'#' => rgb(POINTER_FILL),
                        _ => continue,
                    };
                    canvas.put(usize::from(x) + dx, usize::from(y) + dy, colour);
                }
            }
        }
        canvas.px
    }
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u32>,
}

impl Canvas {
    fn put(&mut self, x: usize, y: usize, colour: u32) {
        if x < self.w && y < self.h {
            self.px[y * self.w + x] = colour;
        }
    }

    fn text(&mut self, origin: (u16, u16), text: &str, colour: u32) {
        let scale = usize::from(TEXT_SCALE);
        let (ox, oy) = (usize::from(origin.0), usize::from(origin.1));
        for (i, c) in text.chars().enumerate() {
            let gx = ox + i * 8 * scale;
            if gx >= self.w {
                break;
            }
            for (row, bits) in glyph(c).iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) == 0 {
                        continue;
                    }
                    for dy in 0..scale {
                        for dx in 0..scale {
                            self.put(gx + col * scale + dx, oy + row * scale + dy, colour);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn name_is_drawn_where_documented() {
        let s = ConsoleScreen::new("A");
        let fb = s.render("00:00:00 UTC");
        let at = |x: usize, y: usize| fb[y * 800 + x];
        // 'A' row 0 is 0x0C: columns 2 and 3 set, i.e. pixels 16+4..16+8 on rows 16..18
        assert_eq!(at(16 + 4, 16), rgb(NAME_COLOUR));
        assert_eq!(at(16 + 7, 17), rgb(NAME_COLOUR));
        assert_eq!(at(16 + 3, 16), rgb(BACKGROUND));
        assert_eq!(at(16 + 8, 16), rgb(BACKGROUND));
        assert_eq!(at(0, 0), rgb(BACKGROUND));
    }

    #[test]
    fn clock_and_echo_tail() {
        assert_eq!(clock_text(3_600 * 25 + 61), "01:01:01 UTC");
        let mut s = ConsoleScreen::new("x");
        s.width = 100; // (100 - 32) / 16 = 4 cells: prompt + 2 characters
        s.echo = "hello".into();
        assert_eq!(s.echo_line(), "> lo");
    }

    #[test]
    fn pointer_is_clipped_at_the_edge() {
        let mut s = ConsoleScreen::new("");
        s.pointer = Some((799, 599));
        let fb = s.render("");
        assert_eq!(fb[599 * 800 + 799], rgb(POINTER_OUTLINE));
        s.pointer = Some((10, 200));
        let fb = s.render("");
        assert_eq!(fb[(200 + 3) * 800 + 11], rgb(POINTER_FILL));
    }
}
