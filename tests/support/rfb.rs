//! A small RFB 3.8 client over a WebSocket, as noVNC speaks it: the handshake with VNC
//! authentication (DES), raw framebuffer updates kept in a local framebuffer, keys and pointer.

use std::time::Duration;

use des::cipher::{BlockEncrypt, KeyInit};
use futures::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Rfb {
    ws: Ws,
    buf: Vec<u8>,
    pub width: u16,
    pub height: u16,
    pub name: String,
    /// 32-bit pixels as the server sends them (little-endian, 0x00RRGGBB).
    pub fb: Vec<u32>,
    /// Close code and reason, once the server closed.
    pub closed: Option<(u16, String)>,
}

/// Opens the WebSocket; `Err` carries the HTTP status and body of a refusal.
pub async fn open(url: &str, cookie: &str, origin: Option<&str>) -> Result<Ws, (u16, String)> {
    let mut req = url.into_client_request().unwrap();
    if !cookie.is_empty() {
        req.headers_mut().insert("cookie", cookie.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    req.headers_mut()
        .insert("sec-websocket-protocol", "binary".parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let status = resp.status().as_u16();
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            Err((status, body))
        }
        Err(e) => Err((0, e.to_string())),
    }
}

/// VNC authentication: DES-encrypt the challenge with the password (bits of each key byte
/// reversed, as VNC does).
pub fn vnc_response(challenge: &[u8; 16], password: &str) -> [u8; 16] {
    let mut key = [0u8; 8];
    for (i, b) in password.bytes().take(8).enumerate() {
        key[i] = b.reverse_bits();
    }
    let cipher = des::Des::new_from_slice(&key).unwrap();
    let mut out = *challenge;
    for chunk in out.chunks_mut(8) {
        cipher.encrypt_block(chunk.into());
    }
    out
}

impl Rfb {
    /// Handshake: version, VNC authentication with `password`, shared ClientInit, ServerInit.
    pub async fn handshake(ws: Ws, password: &str) -> Result<Rfb, String> {
        let mut r = Rfb {
            ws,
            buf: Vec::new(),
            width: 0,
            height: 0,
            name: String::new(),
            fb: Vec::new(),
            closed: None,
        };
        let version = r.read(12).await?;
        if &version != b"RFB 003.008\n" {
            return Err(format!(
                "unexpected version {:?}",
                String::from_utf8_lossy(&version)
            ));
        }
        r.send(b"RFB 003.008\n".to_vec()).await?;
        let n = r.read(1).await?[0] as usize;
        if n == 0 {
            let len = u32::from_be_bytes(r.read(4).await?.try_into().unwrap()) as usize;
            return Err(String::from_utf8_lossy(&r.read(len).await?).into_owned());
        }
        let types = r.read(n).await?;
        if !types.contains(&2) {
            return Err(format!("no VNC authentication offered: {types:?}"));
        }
        r.send(vec![2]).await?;
        let challenge: [u8; 16] = r.read(16).await?.try_into().unwrap();
        r.send(vnc_response(&challenge, password).to_vec()).await?;
        let result = u32::from_be_bytes(r.read(4).await?.try_into().unwrap());
        if result != 0 {
            let len = u32::from_be_bytes(r.read(4).await?.try_into().unwrap()) as usize;
            return Err(format!(
                "authentication failed: {}",
                String::from_utf8_lossy(&r.read(len).await?)
            ));
        }
        r.send(vec![1]).await?; // shared
        let init = r.read(24).await?;
        r.width = u16::from_be_bytes([init[0], init[1]]);
        r.height = u16::from_be_bytes([init[2], init[3]]);
        let name_len = u32::from_be_bytes(init[20..24].try_into().unwrap()) as usize;
        r.name = String::from_utf8_lossy(&r.read(name_len).await?).into_owned();
        r.fb = vec![0; r.width as usize * r.height as usize];
        // Raw and DesktopSize.
        let mut enc = vec![2u8, 0, 0, 2];
        enc.extend(0i32.to_be_bytes());
        enc.extend((-223i32).to_be_bytes());
        r.send(enc).await?;
        Ok(r)
    }

    async fn send(&mut self, data: Vec<u8>) -> Result<(), String> {
        self.ws
            .send(Message::Binary(data.into()))
            .await
            .map_err(|e| e.to_string())
    }

    async fn read(&mut self, n: usize) -> Result<Vec<u8>, String> {
        while self.buf.len() < n {
            match tokio::time::timeout(Duration::from_secs(15), self.ws.next()).await {
                Err(_) => return Err("timed out reading".into()),
                Ok(Some(Ok(Message::Binary(b)))) => self.buf.extend_from_slice(&b),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let (code, reason) = frame
                        .map(|f| (u16::from(f.code), f.reason.to_string()))
                        .unwrap_or((1005, String::new()));
                    self.closed = Some((code, reason.clone()));
                    return Err(format!("closed: {code} {reason}"));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(e))) => return Err(e.to_string()),
                Ok(None) => return Err("connection ended".into()),
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// Asks for an update and applies every rectangle of the next FramebufferUpdate.
    pub async fn update(&mut self, incremental: bool) -> Result<(), String> {
        let mut req = vec![3u8, u8::from(incremental)];
        req.extend(0u16.to_be_bytes());
        req.extend(0u16.to_be_bytes());
        req.extend(self.width.to_be_bytes());
        req.extend(self.height.to_be_bytes());
        self.send(req).await?;
        loop {
            let kind = self.read(1).await?[0];
            match kind {
                0 => break,
                2 => continue, // bell
                3 => {
                    let h = self.read(7).await?;
                    let len = u32::from_be_bytes(h[3..7].try_into().unwrap()) as usize;
                    self.read(len).await?;
                }
                other => return Err(format!("unexpected server message {other}")),
            }
        }
        let head = self.read(3).await?;
        let rects = u16::from_be_bytes([head[1], head[2]]);
        for _ in 0..rects {
            let h = self.read(12).await?;
            let x = u16::from_be_bytes([h[0], h[1]]) as usize;
            let y = u16::from_be_bytes([h[2], h[3]]) as usize;
            let w = u16::from_be_bytes([h[4], h[5]]) as usize;
            let hh = u16::from_be_bytes([h[6], h[7]]) as usize;
            let enc = i32::from_be_bytes(h[8..12].try_into().unwrap());
            match enc {
                0 => {
                    let data = self.read(w * hh * 4).await?;
                    for row in 0..hh {
                        for col in 0..w {
                            let i = (row * w + col) * 4;
                            let px = u32::from_le_bytes(data[i..i + 4].try_into().unwrap());
                            let (fx, fy) = (x + col, y + row);
                            if fx < self.width as usize && fy < self.height as usize {
                                self.fb[fy * self.width as usize + fx] = px & 0x00ff_ffff;
                            }
                        }
                    }
                }
                -223 => {
                    self.width = w as u16;
                    self.height = hh as u16;
                    self.fb = vec![0; w * hh];
                }
                other => return Err(format!("unexpected encoding {other}")),
            }
        }
        Ok(())
    }

    /// Presses and releases a key.
    pub async fn key(&mut self, keysym: u32) -> Result<(), String> {
        for down in [1u8, 0] {
            let mut m = vec![4u8, down, 0, 0];
            m.extend(keysym.to_be_bytes());
            self.send(m).await?;
        }
        Ok(())
    }

    /// Types ASCII text.
    pub async fn type_text(&mut self, text: &str) -> Result<(), String> {
        for c in text.chars() {
            self.key(c as u32).await?;
        }
        Ok(())
    }

    /// Pixels of a region, row by row.
    pub fn region(&self, x: usize, y: usize, w: usize, h: usize) -> Vec<u32> {
        let mut out = Vec::with_capacity(w * h);
        for row in y..y + h {
            for col in x..x + w {
                out.push(self.fb[row * self.width as usize + col]);
            }
        }
        out
    }

    /// Waits for the server to close; returns its close code and reason.
    pub async fn wait_closed(&mut self, within: Duration) -> Option<(u16, String)> {
        let deadline = tokio::time::Instant::now() + within;
        while self.closed.is_none() {
            let left = deadline.checked_duration_since(tokio::time::Instant::now())?;
            match tokio::time::timeout(left, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => {
                    self.closed = Some(
                        frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new())),
                    );
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_))) | Ok(None) => {
                    self.closed = Some((1006, String::new()));
                }
                Err(_) => return None,
            }
        }
        self.closed.clone()
    }
}
