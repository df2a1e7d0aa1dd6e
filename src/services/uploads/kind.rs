//! What an uploaded file is, decided by its first bytes (never by its name), against the
//! allow-list: PNG, JPEG, GIF, WebP and PDF.

/// An accepted kind of file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PNG (and APNG).
    Png,
    /// JPEG.
    Jpeg,
    /// GIF (87a and 89a).
    Gif,
    /// WebP.
    Webp,
    /// PDF.
    Pdf,
}

/// Bytes [`sniff`] needs to decide.
pub const SNIFF_LEN: usize = 16;

impl Kind {
    /// Every accepted kind.
    pub const ALL: [Kind; 5] = [Self::Png, Self::Jpeg, Self::Gif, Self::Webp, Self::Pdf];

    /// The content type it is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    /// The extension of its stored name.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Png => "png",
            Self::Jpeg => "jpg",
            Self::Gif => "gif",
            Self::Webp => "webp",
            Self::Pdf => "pdf",
        }
    }

    /// The kind of a stored name's extension.
    pub fn of_extension(ext: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.extension() == ext)
    }

    /// Whether browsers show it as a picture.
    pub fn is_image(self) -> bool {
        !matches!(self, Self::Pdf)
    }

    /// How people call it, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
            Self::Gif => "GIF",
            Self::Webp => "WebP",
            Self::Pdf => "PDF",
        }
    }
}

/// Why a file's first bytes were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// SVG (scriptable markup): never accepted.
    Svg,
    /// Anything else not on the allow-list.
    Other,
}

impl Refused {
    /// The message for the uploader.
    pub fn message(self) -> &'static str {
        match self {
            Self::Svg => {
                "SVG images are not accepted (they can carry scripts); upload a PNG, JPEG, GIF or WebP"
            }
            Self::Other => {
                "This kind of file is not accepted: upload a PNG, JPEG, GIF or WebP image, or a PDF (the content decides, not the name)"
            }
        }
    }
}

/// The kind of a file from its first bytes (at least [`SNIFF_LEN`] of them unless the file is
/// shorter).
pub fn sniff(head: &[u8]) -> Result<Kind, Refused> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(Kind::Png)
    } else if head.starts_with(b"\xff\xd8\xff") {
        Ok(Kind::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Ok(Kind::Gif)
    } else if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        Ok(Kind::Webp)
    } else if head.starts_with(b"%PDF-") {
        Ok(Kind::Pdf)
    } else if looks_like_svg(head) {
        Err(Refused::Svg)
    } else {
        Err(Refused::Other)
    }
}

/// Markup that may be SVG: the first bytes (after a byte-order mark and blanks) open a tag.
fn looks_like_svg(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = head.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else { return false };
    let rest = head[start..].to_ascii_lowercase();
    rest.starts_with(b"<svg") || rest.starts_with(b"<?xml") || rest.starts_with(b"<!doctype svg")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn kinds_come_from_the_first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Ok(Kind::Png));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF\0"), Ok(Kind::Jpeg));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Ok(Kind::Gif));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Ok(Kind::Webp));
        assert_eq!(sniff(b"%PDF-1.7\n%\xe2\xe3"), Ok(Kind::Pdf));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), Err(Refused::Other));
        assert_eq!(sniff(b"<!DOCTYPE html><html>"), Err(Refused::Other));
        assert_eq!(sniff(b"\xef\xbb\xbf  <svg xmlns="), Err(Refused::Svg));
        assert_eq!(sniff(b"<?xml version=\"1.0\"?>"), Err(Refused::Svg));
        assert_eq!(sniff(b""), Err(Refused::Other));
    }

    #[test]
    fn stored_extensions_map_back() {
        for k in Kind::ALL {
            assert_eq!(Kind::of_extension(k.extension()), Some(k));
        }
        assert_eq!(Kind::of_extension("svg"), None);
    }
}
