//! Images are rewritten on the way in: their structure is walked and only what draws the picture
//! is kept (pixels, palette, transparency, colour profile, animation), so metadata (EXIF with GPS
//! and camera serials, XMP, comments, text chunks) is dropped, and so are bytes after the image's
//! end and anything that is not a well-formed image (the usual way to smuggle a second file
//! into a picture). A JPEG's orientation survives as a minimal EXIF block of that one tag, so
//! phone photos stay upright. The walk streams: a file is never held whole in memory.

use std::io::{self, Read, Seek, SeekFrom, Write};

use super::kind::Kind;

/// Why a file could not be read as the image it claims to be.
#[derive(Debug)]
pub enum Invalid {
    /// Malformed: the reason, for the uploader.
    Format(String),
    /// The disk failed.
    Io(io::Error),
}

impl From<io::Error> for Invalid {
    fn from(e: io::Error) -> Self {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            Self::Format("the file ends in the middle of the image".to_owned())
        } else {
            Self::Io(e)
        }
    }
}

fn bad<T>(what: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid::Format(what.into()))
}

/// Copies `input` to `out` keeping only what draws the image. PDFs are copied as they are.
pub fn strip<R: Read, W: Write + Seek>(kind: Kind, input: R, out: W) -> Result<(), Invalid> {
    let mut input = io::BufReader::new(input);
    let mut out = io::BufWriter::new(out);
    match kind {
        Kind::Png => png(&mut input, &mut out)?,
        Kind::Jpeg => jpeg(&mut input, &mut out)?,
        Kind::Gif => gif(&mut input, &mut out)?,
        Kind::Webp => webp(&mut input, &mut out)?,
        Kind::Pdf => {
            io::copy(&mut input, &mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn read_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn byte(r: &mut impl Read) -> io::Result<u8> {
    Ok(read_array::<1>(r)?[0])
}

/// Copies exactly `n` bytes.
fn copy_n<W: Write + ?Sized>(r: &mut impl Read, w: &mut W, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), w)?;
    if copied < n {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Skips exactly `n` bytes.
fn skip_n(r: &mut impl Read, n: u64) -> io::Result<()> {
    copy_n(r, &mut io::sink(), n)
}

// ---- PNG ----

/// Chunks that draw the picture (APNG's animation chunks included).
const PNG_KEEP: [&[u8; 4]; 15] = [
    b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT",
    b"bKGD", b"pHYs", b"acTL", b"fcTL", b"fdAT",
];

fn png(r: &mut impl Read, w: &mut impl Write) -> Result<(), Invalid> {
    let sig: [u8; 8] = read_array(r)?;
    w.write_all(&sig)?;
    let mut first = true;
    let mut pixels = false;
    loop {
        let len = u32::from_be_bytes(read_array(r)?);
        let kind: [u8; 4] = read_array(r)?;
        if len > 0x7fff_ffff || !kind.iter().all(u8::is_ascii_alphabetic) {
            return bad("the PNG image is damaged");
        }
        if first && &kind != b"IHDR" {
            return bad("the PNG image does not start with its header");
        }
        first = false;
        if PNG_KEEP.contains(&&kind) {
            w.write_all(&len.to_be_bytes())?;
            w.write_all(&kind)?;
            // Data and CRC.
            copy_n(r, w, u64::from(len) + 4)?;
        } else if kind[0].is_ascii_uppercase() {
            return bad(format!(
                "the PNG image has a part no viewer knows ({})",
                String::from_utf8_lossy(&kind)
            ));
        } else {
            skip_n(r, u64::from(len) + 4)?;
        }
        match &kind {
            b"IDAT" => pixels = true,
            b"IEND" if pixels => return Ok(()),
            b"IEND" => return bad("the PNG image has no pixels"),
            _ => {}
        }
    }
}

// ---- JPEG ----

/// A JPEG's orientation (EXIF tag 0x0112) from an APP1 segment's data, when it is not the
/// default.
fn exif_orientation(data: &[u8]) -> Option<u16> {
    let tiff = data.strip_prefix(b"Exif\0\0")?;
    let big = match tiff.get(..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at + 2)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at + 4)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    (0..count.min(512))
        .map(|i| ifd + 2 + i * 12)
        .find(|&e| u16_at(e) == Some(0x0112))
        .and_then(|e| u16_at(e + 8))
        .filter(|o| (2..=8).contains(o))
}

/// An APP1 segment holding only an orientation.
fn orientation_segment(o: u16) -> Vec<u8> {
    let mut s = vec![0xff, 0xe1, 0, 34];
    s.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08");
    s.extend_from_slice(&[0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    s.extend_from_slice(&o.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    s
}

fn jpeg(r: &mut impl Read, w: &mut impl Write) -> Result<(), Invalid> {
    let soi: [u8; 2] = read_array(r)?;
    if soi != [0xff, 0xd8] {
        return bad("the JPEG image is damaged");
    }
    w.write_all(&soi)?;
    let mut frame = false;
    let mut pending: Option<u8> = None;
    loop {
        let marker = match pending.take() {
            Some(m) => m,
            None => {
                if byte(r)? != 0xff {
                    return bad("the JPEG image is damaged");
                }
                let mut m = byte(r)?;
                while m == 0xff {
                    m = byte(r)?;
                }
                m
            }
        };
        match marker {
            0xd9 if frame => {
                w.write_all(&[0xff, 0xd9])?;
                return Ok(());
            }
            0xd9 => return bad("the JPEG image has no picture"),
            0xd8 | 0x00 => return bad("the JPEG image is damaged"),
            0x01 | 0xd0..=0xd7 => w.write_all(&[0xff, marker])?,
            _ => {
                let len = usize::from(u16::from_be_bytes(read_array(r)?));
                if len < 2 {
                    return bad("the JPEG image is damaged");
                }
                let body = (len - 2) as u64;
                match marker {
                    // EXIF/XMP (APP1): dropped, its orientation kept.
                    0xe1 => {
                        let mut data = vec![0u8; len - 2];
                        r.read_exact(&mut data)?;
                        if let Some(o) = exif_orientation(&data) {
                            w.write_all(&orientation_segment(o))?;
                        }
                    }
                    // APP2: only the colour profile is kept.
                    0xe2 => {
                        let mut data = vec![0u8; len - 2];
                        r.read_exact(&mut data)?;
                        if data.starts_with(b"ICC_PROFILE\0") {
                            w.write_all(&[0xff, marker])?;
                            w.write_all(&(len as u16).to_be_bytes())?;
                            w.write_all(&data)?;
                        }
                    }
                    // JFIF (APP0): its fixed header only, without the thumbnail of the
                    // original picture; other APP0 blocks (JFXX thumbnails) go.
                    0xe0 => {
                        let mut data = vec![0u8; len - 2];
                        r.read_exact(&mut data)?;
                        if data.len() >= 14 && data.starts_with(b"JFIF\0") {
                            w.write_all(&[0xff, 0xe0, 0, 16])?;
                            w.write_all(&data[..12])?;
                            w.write_all(&[0, 0])?;
                        }
                    }
                    // Adobe's colour transform (APP14) affects decoding.
                    0xee => {
                        w.write_all(&[0xff, marker, (len >> 8) as u8, len as u8])?;
                        copy_n(r, w, body)?;
                    }
                    // Other application segments and comments.
                    0xe3..=0xef | 0xfe => skip_n(r, body)?,
                    _ => {
                        if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
                            frame = true;
                        }
                        w.write_all(&[0xff, marker, (len >> 8) as u8, len as u8])?;
                        copy_n(r, w, body)?;
                        if marker == 0xda {
                            if !frame {
                                return bad("the JPEG image is damaged");
                            }
                            pending = Some(scan(r, w)?);
                        }
                    }
                }
            }
        }
    }
}

/// Copies entropy-coded data after a scan header; returns the marker that ends it.
fn scan(r: &mut impl Read, w: &mut impl Write) -> Result<u8, Invalid> {
    loop {
        let b = byte(r)?;
        if b != 0xff {
            w.write_all(&[b])?;
            continue;
        }
        let mut n = byte(r)?;
        while n == 0xff {
            n = byte(r)?;
        }
        match n {
            // A stuffed 0xFF, or a restart marker: still the scan.
            0x00 | 0xd0..=0xd7 => w.write_all(&[0xff, n])?,
            m => return Ok(m),
        }
    }
}

// ---- GIF ----

fn gif_blocks(r: &mut impl Read, w: &mut dyn Write) -> io::Result<()> {
    loop {
        let len = byte(r)?;
        w.write_all(&[len])?;
        if len == 0 {
            return Ok(());
        }
        copy_n(r, w, u64::from(len))?;
    }
}

fn gif(r: &mut impl Read, w: &mut impl Write) -> Result<(), Invalid> {
    let head: [u8; 13] = read_array(r)?;
    w.write_all(&head)?;
    let flags = head[10];
    if flags & 0x80 != 0 {
        copy_n(r, w, 3 << ((flags & 7) + 1))?;
    }
    let mut frames = 0usize;
    loop {
        match byte(r)? {
            0x21 => {
                let label = byte(r)?;
                match label {
                    // Graphic control: frame delays and transparency.
                    0xf9 => {
                        w.write_all(&[0x21, label])?;
                        gif_blocks(r, w)?;
                    }
                    // Application extensions: only the looping one.
                    0xff => {
                        let len = byte(r)?;
                        let mut id = vec![0u8; usize::from(len)];
                        r.read_exact(&mut id)?;
                        if id == b"NETSCAPE2.0" {
                            w.write_all(&[0x21, label, len])?;
                            w.write_all(&id)?;
                            gif_blocks(r, w)?;
                        } else {
                            gif_blocks(r, &mut io::sink())?;
                        }
                    }
                    // Comments and plain text.
                    _ => gif_blocks(r, &mut io::sink())?,
                }
            }
            0x2c => {
                let desc: [u8; 9] = read_array(r)?;
                w.write_all(&[0x2c])?;
                w.write_all(&desc)?;
                let flags = desc[8];
                if flags & 0x80 != 0 {
                    copy_n(r, w, 3 << ((flags & 7) + 1))?;
                }
                // LZW minimum code size.
                w.write_all(&[byte(r)?])?;
                gif_blocks(r, w)?;
                frames += 1;
            }
            0x3b if frames > 0 => {
                w.write_all(&[0x3b])?;
                return Ok(());
            }
            0x3b => return bad("the GIF image has no picture"),
            _ => return bad("the GIF image is damaged"),
        }
    }
}

// ---- WebP ----

/// Chunks that draw the picture (animation and alpha included).
const WEBP_KEEP: [&[u8; 4]; 7] = [
    b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP",
];

fn webp<W: Write + Seek>(r: &mut impl Read, w: &mut W) -> Result<(), Invalid> {
    let head: [u8; 12] = read_array(r)?;
    let riff = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    if &head[..4] != b"RIFF" || &head[8..] != b"WEBP" || riff < 4 {
        return bad("the WebP image is damaged");
    }
    w.write_all(&head)?;
    let mut left = riff - 4;
    let mut written = 4u64;
    let mut pixels = false;
    while left > 0 {
        if left < 8 {
            return bad("the WebP image is damaged");
        }
        let fourcc: [u8; 4] = read_array(r)?;
        let size = u64::from(u32::from_le_bytes(read_array(r)?));
        let padded = size + (size & 1);
        if padded + 8 > left {
            return bad("the WebP image is damaged");
        }
        left -= padded + 8;
        if written == 4 && !matches!(&fourcc, b"VP8 " | b"VP8L" | b"VP8X") {
            return bad("the WebP image does not start with its header");
        }
        if &fourcc == b"ANMF" {
            written += webp_frame(r, w, size, padded)?;
            pixels = true;
        } else if WEBP_KEEP.contains(&&fourcc) {
            w.write_all(&fourcc)?;
            w.write_all(&(size as u32).to_le_bytes())?;
            if &fourcc == b"VP8X" && size >= 1 {
                // The EXIF and XMP flags: those chunks are gone.
                let flags = byte(r)? & !(0x08 | 0x04);
                w.write_all(&[flags])?;
                copy_n(r, w, padded - 1)?;
            } else {
                copy_n(r, w, padded)?;
            }
            written += padded + 8;
            if matches!(&fourcc, b"VP8 " | b"VP8L") {
                pixels = true;
            }
        } else {
            skip_n(r, padded)?;
        }
    }
    if !pixels {
        return bad("the WebP image has no picture");
    }
    let size = u32::try_from(written).map_err(|_| Invalid::Format("too big".to_owned()))?;
    w.seek(SeekFrom::Start(4))?;
    w.write_all(&size.to_le_bytes())?;
    w.seek(SeekFrom::End(0))?;
    Ok(())
}

/// An animation frame (`ANMF`, `size` bytes, `padded` with its pad byte): its 16-byte header
/// and only the sub-chunks that draw it. Returns the bytes written.
fn webp_frame<W: Write + Seek>(
    r: &mut impl Read,
    w: &mut W,
    size: u64,
    padded: u64,
) -> Result<u64, Invalid> {
    if size < 16 {
        return bad("the WebP image is damaged");
    }
    w.write_all(b"ANMF")?;
    let at = w.stream_position()?;
    w.write_all(&[0, 0, 0, 0])?;
    copy_n(r, w, 16)?;
    let mut out = 16u64;
    let mut left = padded - 16;
    while left >= 8 {
        let fourcc: [u8; 4] = read_array(r)?;
        let sub = u64::from(u32::from_le_bytes(read_array(r)?));
        let sub_padded = sub + (sub & 1);
        if sub_padded + 8 > left {
            return bad("the WebP image is damaged");
        }
        left -= sub_padded + 8;
        if matches!(&fourcc, b"ALPH" | b"VP8 " | b"VP8L") {
            w.write_all(&fourcc)?;
            w.write_all(&(sub as u32).to_le_bytes())?;
            copy_n(r, w, sub_padded)?;
            out += sub_padded + 8;
        } else {
            skip_n(r, sub_padded)?;
        }
    }
    // The frame's own pad byte, if any.
    skip_n(r, left)?;
    let size = u32::try_from(out).map_err(|_| Invalid::Format("too big".to_owned()))?;
    w.seek(SeekFrom::Start(at))?;
    w.write_all(&size.to_le_bytes())?;
    w.seek(SeekFrom::End(0))?;
    Ok(out + 8)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::Cursor;

    fn run(kind: Kind, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Cursor::new(Vec::new());
        match strip(kind, input, &mut out) {
            Ok(()) => Ok(out.into_inner()),
            Err(Invalid::Format(m)) => Err(m),
            Err(Invalid::Io(e)) => Err(e.to_string()),
        }
    }

    /// A 1×1 PNG with a text chunk (CRCs are not checked by the walk).
    fn png() -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
        let chunk = |v: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
            v.extend_from_slice(&(data.len() as u32).to_be_bytes());
            v.extend_from_slice(kind);
            v.extend_from_slice(data);
            v.extend_from_slice(&[0, 0, 0, 0]);
        };
        chunk(&mut v, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0]);
        chunk(&mut v, b"tEXt", b"Comment\0<script>alert(1)</script>");
        chunk(&mut v, b"IDAT", &[0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1]);
        chunk(&mut v, b"IEND", &[]);
        v
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn png_loses_text_and_what_follows_its_end() {
        let mut input = png();
        input.extend_from_slice(b"<html><script>alert(2)</script>");
        let out = run(Kind::Png, &input).unwrap();
        assert!(!contains(&out, b"script"), "{out:?}");
        assert!(
            contains(&out, b"IHDR") && contains(&out, b"IDAT") && out.ends_with(b"IEND\0\0\0\0")
        );
    }

    #[test]
    fn png_must_be_whole() {
        let input = png();
        let cut = &input[..input.len() - 12];
        assert!(run(Kind::Png, cut).unwrap_err().contains("ends"));
        let mut not_header = input[..8].to_vec();
        not_header.extend_from_slice(&input[33..]);
        assert!(run(Kind::Png, &not_header).unwrap_err().contains("header"));
    }

    fn jpeg_with_exif(orientation: u16) -> Vec<u8> {
        let mut exif = b"Exif\0\0II\x2a\0\x08\0\0\0".to_vec();
        exif.extend_from_slice(&2u16.to_le_bytes());
        // GPS IFD pointer, then orientation.
        exif.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0, 0x99, 0x99, 0, 0]);
        exif.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0]);
        exif.extend_from_slice(&orientation.to_le_bytes());
        exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        exif.extend_from_slice(b"SECRET-SERIAL-123");
        let mut v = vec![0xff, 0xd8, 0xff, 0xe1];
        v.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        v.extend_from_slice(&exif);
        // A comment.
        v.extend_from_slice(&[0xff, 0xfe, 0, 7]);
        v.extend_from_slice(b"hello");
        // Frame header (baseline), scan header, entropy data with a stuffed byte and a
        // restart marker, end.
        v.extend_from_slice(&[0xff, 0xc0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        v.extend_from_slice(&[0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0]);
        v.extend_from_slice(&[0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56]);
        v.extend_from_slice(&[0xff, 0xd9]);
        v.extend_from_slice(b"PK\x03\x04 trailing zip");
        v
    }

    #[test]
    fn jpeg_keeps_its_orientation_and_nothing_else() {
        let out = run(Kind::Jpeg, &jpeg_with_exif(6)).unwrap();
        assert!(!contains(&out, b"SECRET"));
        assert!(!contains(&out, b"hello"));
        assert!(!contains(&out, b"PK\x03\x04"));
        assert!(out.ends_with(&[0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd9]));
        let app1 = &out[2..38];
        assert_eq!(&app1[..4], &[0xff, 0xe1, 0, 34]);
        assert_eq!(exif_orientation(&app1[4..]), Some(6));
        // Upright photos carry no EXIF at all.
        let out = run(Kind::Jpeg, &jpeg_with_exif(1)).unwrap();
        assert!(!contains(&out, b"Exif"));
        assert_eq!(&out[2..4], &[0xff, 0xc0]);
    }

    #[test]
    fn jpeg_without_a_frame_is_refused() {
        let v = [0xff, 0xd8, 0xff, 0xfe, 0, 4, b'h', b'i', 0xff, 0xd9];
        assert!(run(Kind::Jpeg, &v).unwrap_err().contains("no picture"));
    }

    fn gif() -> Vec<u8> {
        let mut v = b"GIF89a\x01\0\x01\0\x80\0\0".to_vec();
        v.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
        // Looping, a comment, an unknown application block, then the frame.
        v.extend_from_slice(b"\x21\xff\x0bNETSCAPE2.0\x03\x01\0\0\0");
        v.extend_from_slice(b"\x21\xfe\x06secret\0");
        v.extend_from_slice(b"\x21\xff\x0bXMP DataXMP\x04evil\0");
        v.extend_from_slice(b"\x21\xf9\x04\x01\0\0\0\0");
        v.extend_from_slice(b"\x2c\0\0\0\0\x01\0\x01\0\0\x02\x02\x44\x01\0");
        v.extend_from_slice(b"\x3b<script>");
        v
    }

    #[test]
    fn gif_keeps_looping_and_frames_only() {
        let out = run(Kind::Gif, &gif()).unwrap();
        assert!(contains(&out, b"NETSCAPE2.0"));
        assert!(!contains(&out, b"secret") && !contains(&out, b"evil"));
        assert!(!contains(&out, b"script"));
        assert!(out.ends_with(b"\x44\x01\0\x3b"));
    }

    #[test]
    fn gif_script_polyglot_is_refused() {
        // The classic: a GIF header whose dimensions are the start of a script.
        let v = b"GIF89a=1;alert(document.domain)//\x3b";
        assert!(run(Kind::Gif, v).is_err());
    }

    #[test]
    fn jfif_thumbnails_and_animation_extras_go() {
        // A JFIF header with a 1x1 thumbnail, then a frame.
        let mut v = vec![0xff, 0xd8, 0xff, 0xe0, 0, 19];
        v.extend_from_slice(b"JFIF\0\x01\x02\x00\x00\x01\x00\x01\x01\x01");
        v.extend_from_slice(&[0xaa, 0xbb, 0xcc]);
        v.extend_from_slice(&[0xff, 0xc0, 0, 11, 8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        v.extend_from_slice(&[0xff, 0xda, 0, 8, 1, 1, 0, 0, 0x3f, 0, 0x12, 0xff, 0xd9]);
        let out = run(Kind::Jpeg, &v).unwrap();
        assert_eq!(
            &out[2..20],
            b"\xff\xe0\x00\x10JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"
        );
        assert!(!contains(&out, &[0xaa, 0xbb, 0xcc]));

        // An animated WebP whose frame carries a private chunk.
        let chunk = |v: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]| {
            v.extend_from_slice(fourcc);
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(data);
            if data.len() % 2 == 1 {
                v.push(0);
            }
        };
        let mut frame = vec![0u8; 16];
        chunk(&mut frame, b"VP8L", &[0x2f, 0, 0, 0, 0]);
        chunk(&mut frame, b"XYZW", b"hidden-gps");
        let mut body = Vec::new();
        chunk(&mut body, b"VP8X", &[0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        chunk(&mut body, b"ANIM", &[0, 0, 0, 0, 0, 0]);
        chunk(&mut body, b"ANMF", &frame);
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend_from_slice(&body);
        let out = run(Kind::Webp, &v).unwrap();
        assert!(!contains(&out, b"hidden") && !contains(&out, b"XYZW"));
        assert!(contains(&out, b"VP8L"));
        let riff = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff, out.len() - 8);
        let at = out.windows(4).position(|w| w == b"ANMF").unwrap();
        let anmf = u32::from_le_bytes(out[at + 4..at + 8].try_into().unwrap()) as usize;
        assert_eq!(anmf, 16 + 8 + 6, "the frame's size counts what is left");
        assert_eq!(at + 8 + anmf, out.len());
    }

    #[test]
    fn webp_loses_exif_and_xmp() {
        let mut body = Vec::new();
        let chunk = |v: &mut Vec<u8>, fourcc: &[u8; 4], data: &[u8]| {
            v.extend_from_slice(fourcc);
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(data);
            if data.len() % 2 == 1 {
                v.push(0);
            }
        };
        chunk(&mut body, b"VP8X", &[0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        chunk(&mut body, b"VP8L", &[0x2f, 0, 0, 0, 0]);
        chunk(&mut body, b"EXIF", b"secret-gps");
        chunk(&mut body, b"XMP ", b"<x:xmpmeta>");
        let mut v = b"RIFF".to_vec();
        v.extend_from_slice(&((body.len() + 4) as u32).to_le_bytes());
        v.extend_from_slice(b"WEBP");
        v.extend_from_slice(&body);
        v.extend_from_slice(b"trailing");
        let out = run(Kind::Webp, &v).unwrap();
        assert!(!contains(&out, b"secret") && !contains(&out, b"xmpmeta"));
        assert!(!contains(&out, b"trailing"));
        let size = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(size, out.len() - 8);
        // VP8X flags no longer announce EXIF or XMP.
        assert_eq!(out[20], 0);
    }
}
