//! VNC consoles end to end, the way Uma's proxy talks to Proxmox: `vncproxy`, then the
//! `vncwebsocket` upgrade over TLS with the API token, then an RFB 3.8 client (written here)
//! doing VNC authentication, reading raw updates, typing and pointing; and the refusals.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use pve_sim::console::{self as vnc, ConsoleScreen};
use pve_sim::SimHandle;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::common::{enc, spawn, Sim};

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

const Q100: &str = "/nodes/pve1/qemu/100";

/// `POST {guest}/vncproxy` as `auth`, asserting 200.
async fn vncproxy(sim: &Sim, auth: &str, guest: &str, params: &[(&str, &str)]) -> Value {
    let r = sim
        .call_as(auth, Method::POST, &format!("{guest}/vncproxy"), params)
        .await;
    assert_eq!(r.status, StatusCode::OK, "vncproxy {guest}: {:?}", r.body);
    r.data().clone()
}

/// Opens `{guest}/vncwebsocket` over TLS with the token, asking for the `binary` subprotocol.
async fn open_ws(
    handle: &SimHandle,
    auth: &str,
    guest: &str,
    port: &str,
    ticket: &str,
) -> Result<(Ws, Option<String>), WsError> {
    let url = format!(
        "wss://{}/api2/json{guest}/vncwebsocket?port={port}&vncticket={}",
        handle.addr(),
        enc(ticket)
    );
    let mut req = url.into_client_request()?;
    let headers = req.headers_mut();
    headers.insert("Authorization", auth.parse().expect("header"));
    headers.insert("Sec-WebSocket-Protocol", "binary".parse().expect("header"));
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            handle.cert_der().expect("tls").to_vec(),
        ))
        .expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(handle.addr())
        .await
        .expect("tcp");
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("tls");
    let (ws, resp) = tokio_tungstenite::client_async(req, tls).await?;
    let proto = resp
        .headers()
        .get("Sec-WebSocket-Protocol")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Ok((ws, proto))
}

/// The HTTP status a refused upgrade got.
fn refused_status(r: Result<(Ws, Option<String>), WsError>) -> StatusCode {
    match r {
        Err(WsError::Http(resp)) => StatusCode::from_u16(resp.status().as_u16()).expect("status"),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a websocket"),
    }
}

/// A minimal RFB 3.8 client over the WebSocket.
struct Rfb {
    ws: Ws,
    buf: Vec<u8>,
    width: u16,
    height: u16,
    name: String,
    fb: Vec<u32>,
}

/// Reads until `n` bytes are buffered; `None` when the connection ends first.
async fn fill(ws: &mut Ws, buf: &mut Vec<u8>, n: usize) -> Option<()> {
    while buf.len() < n {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no data from the console within 5 s");
        match msg {
            Some(Ok(Message::Binary(b))) => buf.extend_from_slice(&b),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => panic!("unexpected websocket message {other:?}"),
            None | Some(Err(_)) => return None,
        }
    }
    Some(())
}

async fn take(ws: &mut Ws, buf: &mut Vec<u8>, n: usize) -> Vec<u8> {
    fill(ws, buf, n).await.expect("connection ended");
    buf.drain(..n).collect()
}

fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Runs the handshake with `password`; `Err(reason)` when the server refuses it.
async fn handshake(mut ws: Ws, password: &[u8]) -> Result<Rfb, String> {
    let mut buf = Vec::new();
    assert_eq!(take(&mut ws, &mut buf, 12).await, b"RFB 003.008\n");
    ws.send(Message::binary(b"RFB 003.008\n".to_vec()))
        .await
        .expect("send");
    let n = take(&mut ws, &mut buf, 1).await[0];
    let types = take(&mut ws, &mut buf, usize::from(n)).await;
    assert_eq!(types, [2], "only VNC Authentication is offered");
    ws.send(Message::binary(vec![2])).await.expect("send");
    let challenge: [u8; 16] = take(&mut ws, &mut buf, 16)
        .await
        .try_into()
        .expect("16 bytes");
    let response = vnc::vnc_auth_response(password, &challenge);
    ws.send(Message::binary(response.to_vec()))
        .await
        .expect("send");
    if be32(&take(&mut ws, &mut buf, 4).await) != 0 {
        let len = be32(&take(&mut ws, &mut buf, 4).await) as usize;
        let reason = take(&mut ws, &mut buf, len).await;
        return Err(String::from_utf8_lossy(&reason).into_owned());
    }
    ws.send(Message::binary(vec![1])).await.expect("send");
    let init = take(&mut ws, &mut buf, 24).await;
    let (width, height) = (be16(&init[0..]), be16(&init[2..]));
    assert_eq!(
        &init[4..20],
        &[32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0],
        "32 bpp little-endian true colour"
    );
    let name = take(&mut ws, &mut buf, be32(&init[20..]) as usize).await;
    Ok(Rfb {
        ws,
        buf,
        width,
        height,
        name: String::from_utf8(name).expect("utf-8 name"),
        fb: vec![0; usize::from(width) * usize::from(height)],
    })
}

impl Rfb {
    async fn send(&mut self, bytes: Vec<u8>) {
        self.ws.send(Message::binary(bytes)).await.expect("send");
    }

    async fn set_encodings(&mut self, encodings: &[i32]) {
        let mut m = vec![2, 0];
        m.extend_from_slice(&(encodings.len() as u16).to_be_bytes());
        for e in encodings {
            m.extend_from_slice(&e.to_be_bytes());
        }
        self.send(m).await;
    }

    async fn request(&mut self, incremental: bool) {
        let mut m = vec![3, u8::from(incremental)];
        for v in [0, 0, self.width, self.height] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        self.send(m).await;
    }

    async fn key(&mut self, keysym: u32) {
        for down in [1, 0] {
            let mut m = vec![4, down, 0, 0];
            m.extend_from_slice(&keysym.to_be_bytes());
            self.send(m).await;
        }
    }

    async fn pointer(&mut self, x: u16, y: u16) {
        let mut m = vec![5, 0];
        m.extend_from_slice(&x.to_be_bytes());
        m.extend_from_slice(&y.to_be_bytes());
        self.send(m).await;
    }

    /// Reads one FramebufferUpdate (raw rectangles and DesktopSize) into `fb`.
    async fn read_update(&mut self) {
        let head = take(&mut self.ws, &mut self.buf, 4).await;
        assert_eq!(head[0], 0, "only FramebufferUpdate messages are expected");
        for _ in 0..be16(&head[2..]) {
            let r = take(&mut self.ws, &mut self.buf, 12).await;
            let (x, y, w, h) = (be16(&r[0..]), be16(&r[2..]), be16(&r[4..]), be16(&r[6..]));
            match be32(&r[8..]) as i32 {
                0 => {
                    let bytes = usize::from(w) * usize::from(h) * 4;
                    let px = take(&mut self.ws, &mut self.buf, bytes).await;
                    let mut px = px.chunks_exact(4);
                    for row in y..y + h {
                        for col in x..x + w {
                            let p = px.next().expect("pixel");
                            let i = usize::from(row) * usize::from(self.width) + usize::from(col);
                            self.fb[i] = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
                        }
                    }
                }
                -223 => {
                    (self.width, self.height) = (w, h);
                    self.fb = vec![0; usize::from(w) * usize::from(h)];
                }
                other => panic!("unexpected encoding {other}"),
            }
        }
    }

    fn px(&self, x: u16, y: u16) -> u32 {
        self.fb[usize::from(y) * usize::from(self.width) + usize::from(x)]
    }

    /// Whether rows `y0..y1` equal the same rows of `expected`.
    fn rows_match(&self, expected: &[u32], y0: u16, y1: u16) -> bool {
        let w = usize::from(self.width);
        self.fb[usize::from(y0) * w..usize::from(y1) * w]
            == expected[usize::from(y0) * w..usize::from(y1) * w]
    }

    /// Asks for incremental updates until `ok` holds (deadline 5 s).
    async fn until(&mut self, what: &str, ok: impl Fn(&Rfb) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ok(self) {
            assert!(Instant::now() < deadline, "console never showed {what}");
            self.request(true).await;
            self.read_update().await;
        }
    }

    /// Whether the connection ends (the server closed it) within 5 s.
    async fn closes(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let next = tokio::time::timeout(Duration::from_millis(500), self.ws.next()).await;
            if let Ok(None | Some(Err(_))) = next {
                return true;
            }
        }
        false
    }
}

fn rgb(c: [u8; 3]) -> u32 {
    (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2])
}

/// Checks `text` pixel by pixel where the README says it is drawn.
fn assert_text(rfb: &Rfb, origin: (u16, u16), text: &str, colour: [u8; 3]) {
    let s = vnc::TEXT_SCALE;
    for (i, c) in text.chars().enumerate() {
        let glyph = vnc::glyph(c);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8u16 {
                let on = bits & (1 << col) != 0;
                let want = if on {
                    rgb(colour)
                } else {
                    rgb(vnc::BACKGROUND)
                };
                for d in 0..s * s {
                    let x = origin.0 + i as u16 * 8 * s + col * s + d % s;
                    let y = origin.1 + row as u16 * s + d / s;
                    assert_eq!(rfb.px(x, y), want, "pixel ({x},{y}) of '{c}' in \"{text}\"");
                }
            }
        }
    }
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string: {v}"))
}

#[tokio::test]
async fn qemu_console_end_to_end() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    let data = vncproxy(&sim, &sim.root, Q100, &[("websocket", "1")]).await;
    assert_eq!(str_of(&data, "user"), sim.handle.token_id());
    let password = str_of(&data, "password").to_owned();
    assert_eq!(password.len(), 8);
    assert!(
        password.bytes().all(|b| (b'!'..=b'~').contains(&b)),
        "{password}"
    );
    let ticket = str_of(&data, "ticket").to_owned();
    assert!(
        ticket.starts_with(&format!("{password}:PVEVNC:")),
        "{ticket}"
    );
    let port = str_of(&data, "port").to_owned();
    assert!((5900..=5999).contains(&port.parse::<u16>().expect("port")));
    assert_eq!(Some(str_of(&data, "cert")), sim.handle.ca_cert_pem());
    let upid = str_of(&data, "upid").to_owned();
    assert!(
        upid.starts_with("UPID:pve1:") && upid.contains(":vncproxy:100:"),
        "{upid}"
    );
    let status = sim
        .get(&format!("/nodes/pve1/tasks/{}/status", enc(&upid)))
        .await;
    assert_eq!(status["status"], "running");

    let (ws, proto) = open_ws(&sim.handle, &sim.root, Q100, &port, &ticket)
        .await
        .expect("websocket");
    assert_eq!(proto.as_deref(), Some("binary"), "subprotocol echoed");
    let mut rfb = handshake(ws, password.as_bytes()).await.expect("auth");
    assert_eq!((rfb.width, rfb.height), (800, 600));
    assert_eq!(rfb.name, "QEMU (alice-web)");

    // the one connection is taken: the same ticket cannot open a second one
    let again = open_ws(&sim.handle, &sim.root, Q100, &port, &ticket).await;
    assert!(
        matches!(again, Err(ref e) if !matches!(e, WsError::Http(_))),
        "second connection must be dropped without an answer"
    );
    // connected, QEMU's proxy no longer listens: the next vncproxy may get the same port
    let next = vncproxy(&sim, &sim.root, "/nodes/pve1/qemu/101", &[]).await;
    assert_eq!(str_of(&next, "port"), port);

    rfb.set_encodings(&[0, -223]).await;
    rfb.request(false).await;
    rfb.read_update().await;
    assert_text(&rfb, vnc::NAME_ORIGIN, "alice-web", vnc::NAME_COLOUR);
    assert_text(&rfb, vnc::ECHO_ORIGIN, "> ", vnc::ECHO_COLOUR);
    let screen = ConsoleScreen::new("alice-web");
    let frame = screen.render("");
    assert!(rfb.rows_match(&frame, 0, 48), "everything above the clock");
    assert!(
        rfb.rows_match(&frame, 64, 600),
        "everything below the clock"
    );
    let now = pve_sim_now();
    let clock_ok = (now - 2..=now + 1).any(|t| {
        let f = screen.render(&vnc::clock_text(t));
        rfb.rows_match(&f, 48, 64)
    });
    assert!(clock_ok, "the clock shows the current UTC time");

    for c in "hello".chars() {
        rfb.key(u32::from(c)).await;
    }
    let typed = ConsoleScreen {
        echo: "hello".into(),
        ..screen.clone()
    }
    .render("");
    rfb.until("the echo line \"> hello\"", |r| {
        r.rows_match(&typed, 96, 112)
    })
    .await;
    assert_text(&rfb, vnc::ECHO_ORIGIN, "> hello", vnc::ECHO_COLOUR);

    rfb.key(0xff08).await; // BackSpace
    rfb.key(0xff0d).await; // Return
    rfb.until("an empty echo line", |r| r.rows_match(&frame, 96, 112))
        .await;

    rfb.pointer(200, 300).await;
    rfb.until("the pointer", |r| {
        r.px(200, 300) == rgb(vnc::POINTER_OUTLINE) && r.px(201, 303) == rgb(vnc::POINTER_FILL)
    })
    .await;

    // the guest changes resolution: DesktopSize, then a full frame of the new size
    assert_eq!(sim.handle.set_console_size(100, 1024, 768), 1);
    rfb.until("the new size", |r| r.width == 1024).await;
    rfb.request(false).await;
    rfb.read_update().await;
    assert_eq!(rfb.height, 768);
    assert_text(&rfb, vnc::NAME_ORIGIN, "alice-web", vnc::NAME_COLOUR);

    // closing the client ends the task OK
    rfb.ws.close(None).await.ok();
    assert_eq!(sim.wait_task(&upid).await, "OK");
}

/// Unix seconds, for the clock check.
fn pve_sim_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test]
async fn wrong_password_fails_vnc_authentication() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    let data = vncproxy(&sim, &sim.root, Q100, &[("websocket", "1")]).await;
    let (ws, _) = open_ws(
        &sim.handle,
        &sim.root,
        Q100,
        str_of(&data, "port"),
        str_of(&data, "ticket"),
    )
    .await
    .expect("websocket");
    let reason = handshake(ws, b"not-it!!").await.err().expect("refused");
    assert_eq!(
        reason, "Authentication failed\0",
        "QEMU's reason, NUL included"
    );
    // QEMU closes the client; `qm vncproxy` and the task end normally
    assert_eq!(sim.wait_task(str_of(&data, "upid")).await, "OK");
}

#[tokio::test]
async fn ticket_and_upgrade_refusals() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    let data = vncproxy(&sim, &sim.root, Q100, &[("websocket", "1")]).await;
    let (ticket, port) = (str_of(&data, "ticket"), str_of(&data, "port"));
    let h = &sim.handle;

    // a forged signature, another port, another guest, another user: 401 like verify_vnc_ticket
    let tampered = ticket.replacen("::", "::x", 1);
    assert_eq!(
        refused_status(open_ws(h, &sim.root, Q100, port, &tampered).await),
        StatusCode::UNAUTHORIZED
    );
    let other_port = (port.parse::<u16>().expect("port") + 1).to_string();
    assert_eq!(
        refused_status(open_ws(h, &sim.root, Q100, &other_port, ticket).await),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refused_status(open_ws(h, &sim.root, "/nodes/pve1/qemu/101", port, ticket).await),
        StatusCode::UNAUTHORIZED
    );
    let alice = sim
        .handle
        .token("alice@pve!uma")
        .expect("alice")
        .authorization();
    assert_eq!(
        refused_status(open_ws(h, &alice, Q100, port, ticket).await),
        StatusCode::UNAUTHORIZED,
        "the ticket is bound to the token that asked for it"
    );
    let r = sim
        .call(
            Method::GET,
            &format!("{Q100}/vncwebsocket"),
            &[("port", port), ("vncticket", &tampered)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.message(), "permission denied - invalid PVEVNC ticket");

    // without Upgrade the call just answers the port (a string)
    let r = sim
        .call(
            Method::GET,
            &format!("{Q100}/vncwebsocket"),
            &[("port", port), ("vncticket", ticket)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.data()["port"], port);

    // pveproxy's own checks of the upgrade request: 501
    let url = format!("{}/api2/json{Q100}/vncwebsocket", h.url());
    let resp = sim
        .client
        .get(&url)
        .query(&[("port", port), ("vncticket", ticket)])
        .header("Authorization", &sim.root)
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "12")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::NOT_IMPLEMENTED);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["message"], "unsupported websocket-version '12'\n");

    // schema limits
    let long = "x".repeat(513);
    let r = sim
        .call(
            Method::GET,
            &format!("{Q100}/vncwebsocket"),
            &[("port", port), ("vncticket", &long)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = sim
        .call(
            Method::GET,
            &format!("{Q100}/vncwebsocket"),
            &[("port", "6000"), ("vncticket", ticket)],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = sim
        .call(
            Method::POST,
            "/nodes/pve2/lxc/103/vncproxy",
            &[("generate-password", "1")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not an LXC parameter");

    // the valid ticket still works after all that
    let (ws, _) = open_ws(h, &sim.root, Q100, port, ticket)
        .await
        .expect("websocket");
    handshake(ws, str_of(&data, "password").as_bytes())
        .await
        .expect("auth");
}

#[tokio::test]
async fn console_needs_vm_console() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    // carol (PVEAuditor on /) can see VM 100 but not open its console
    let carol = sim
        .handle
        .token("carol@pve!uma")
        .expect("carol")
        .authorization();
    let r = sim
        .call_as(&carol, Method::POST, &format!("{Q100}/vncproxy"), &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.message(),
        "Permission check failed (/vms/100, VM.Console)"
    );
    let data = vncproxy(&sim, &sim.root, Q100, &[("websocket", "1")]).await;
    assert_eq!(
        refused_status(
            open_ws(
                &sim.handle,
                &carol,
                Q100,
                str_of(&data, "port"),
                str_of(&data, "ticket")
            )
            .await
        ),
        StatusCode::FORBIDDEN
    );
    // alice's privilege-separated token: her own VM yes, bob's no
    let alice = sim
        .handle
        .token("alice@pve!uma")
        .expect("alice")
        .authorization();
    let own = vncproxy(&sim, &alice, Q100, &[("websocket", "1")]).await;
    assert_eq!(str_of(&own, "user"), "alice@pve!uma");
    let r = sim
        .call_as(&alice, Method::POST, "/nodes/pve2/qemu/110/vncproxy", &[])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn stopped_and_unknown_guests() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    // like qemu-server: vncproxy only loads the config; `qm vncproxy` fails once connected
    let q = "/nodes/pve2/qemu/102";
    let data = vncproxy(&sim, &sim.root, q, &[("websocket", "1")]).await;
    let (mut ws, _) = open_ws(
        &sim.handle,
        &sim.root,
        q,
        str_of(&data, "port"),
        str_of(&data, "ticket"),
    )
    .await
    .expect("the upgrade itself succeeds");
    let mut buf = Vec::new();
    assert!(fill(&mut ws, &mut buf, 1).await.is_none(), "closed, no RFB");
    let upid = str_of(&data, "upid");
    assert_eq!(sim.wait_task(upid).await, "Failed to run vncproxy.");
    let log = sim
        .get(&format!("/nodes/pve2/tasks/{}/log", enc(upid)))
        .await;
    assert_eq!(log[0]["t"], "VM 102 not running");

    // a stopped container: vncterm's console command fails at once, the proxy is gone
    let c = "/nodes/pve3/lxc/104";
    let data = vncproxy(&sim, &sim.root, c, &[("websocket", "1")]).await;
    assert!(data.get("password").is_none());
    assert_eq!(sim.wait_task(str_of(&data, "upid")).await, "OK");
    let r = open_ws(
        &sim.handle,
        &sim.root,
        c,
        str_of(&data, "port"),
        str_of(&data, "ticket"),
    )
    .await;
    assert!(
        matches!(r, Err(ref e) if !matches!(e, WsError::Http(_))),
        "dropped without an answer"
    );

    let r = sim
        .call(Method::POST, "/nodes/pve1/qemu/999/vncproxy", &[])
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        r.message(),
        "Configuration file 'nodes/pve1/qemu-server/999.conf' does not exist"
    );
}

#[tokio::test]
async fn lxc_console_uses_the_ticket_as_password() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    let c = "/nodes/pve2/lxc/103";
    let data = vncproxy(
        &sim,
        &sim.root,
        c,
        &[("websocket", "1"), ("width", "640"), ("height", "480")],
    )
    .await;
    assert!(data.get("password").is_none(), "LXC returns no password");
    let ticket = str_of(&data, "ticket");
    assert!(ticket.starts_with("PVEVNC:"), "{ticket}");
    let (ws, _) = open_ws(&sim.handle, &sim.root, c, str_of(&data, "port"), ticket)
        .await
        .expect("websocket");
    // vncterm checks the VNC password against the ticket: its first 8 bytes count
    let mut rfb = handshake(ws, ticket.as_bytes()).await.expect("auth");
    assert_eq!((rfb.width, rfb.height), (640, 480));
    assert_eq!(rfb.name, "VNC Command Terminal");
    rfb.request(false).await;
    rfb.read_update().await;
    assert_text(&rfb, vnc::NAME_ORIGIN, "alice-cache", vnc::NAME_COLOUR);
    rfb.ws.close(None).await.ok();
    assert_eq!(sim.wait_task(str_of(&data, "upid")).await, "OK");
}

#[tokio::test]
async fn stopping_the_task_or_the_guest_closes_the_console() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    let open = |guest: &'static str| {
        let sim = &sim;
        async move {
            let data = vncproxy(sim, &sim.root, guest, &[("websocket", "1")]).await;
            let (ws, _) = open_ws(
                &sim.handle,
                &sim.root,
                guest,
                str_of(&data, "port"),
                str_of(&data, "ticket"),
            )
            .await
            .expect("websocket");
            let rfb = handshake(ws, str_of(&data, "password").as_bytes())
                .await
                .expect("auth");
            (rfb, str_of(&data, "upid").to_owned())
        }
    };
    let (mut rfb, upid) = open(Q100).await;
    let r = sim
        .call(
            Method::DELETE,
            &format!("/nodes/pve1/tasks/{}", enc(&upid)),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(rfb.closes().await, "stopping the task closes the console");
    assert_eq!(sim.wait_task(&upid).await, "interrupted by signal");

    let (mut rfb, upid) = open("/nodes/pve1/qemu/101").await;
    sim.task_ok(Method::POST, "/nodes/pve1/qemu/101/status/stop", &[])
        .await;
    assert!(rfb.closes().await, "a stopped VM closes its console");
    assert_eq!(sim.wait_task(&upid).await, "OK");
}

#[tokio::test]
async fn an_unused_proxy_times_out() {
    let sim = spawn(pve_sim::Scenario::Demo).await;
    let data = vncproxy(&sim, &sim.root, Q100, &[("websocket", "1")]).await;
    // qemu-server waits 10 s for the connection (`alarm 10` around `accept`)
    let upid = str_of(&data, "upid");
    assert_eq!(sim.wait_task(upid).await, "connection timed out");
    let r = open_ws(
        &sim.handle,
        &sim.root,
        Q100,
        str_of(&data, "port"),
        str_of(&data, "ticket"),
    )
    .await;
    assert!(
        matches!(r, Err(ref e) if !matches!(e, WsError::Http(_))),
        "nothing listens any more: dropped without an answer"
    );
}
