//! A minimal Socket.IO v5 client over Engine.IO long-polling, enough to connect with a cookie and
//! an Origin and to read what the server sends.

use std::time::Duration;

#[derive(Debug)]
pub struct PollingSocket {
    next_ack: std::sync::atomic::AtomicU64,
    pending: std::sync::Mutex<std::collections::VecDeque<String>>,
    http: reqwest::Client,
    url: String,
    cookie: String,
    origin: String,
    /// The long-poll in flight, kept across calls: Engine.IO allows one at a time per session,
    /// and a second one while the server still holds the first closes the session. A caller's
    /// deadline passing leaves the poll running for the next call to pick up.
    inflight: tokio::sync::Mutex<Option<tokio::task::JoinHandle<Vec<String>>>>,
}

/// What the namespace connect returned.
#[derive(Debug)]
pub enum Connect {
    Ok(PollingSocket),
    Refused(String),
}

impl PollingSocket {
    pub async fn connect(base: &str, cookie: &str, origin: Option<&str>) -> Connect {
        Self::connect_with(base, cookie, origin, None).await
    }

    /// Connects sending `auth` in the namespace CONNECT packet (the handshake's `auth`).
    pub async fn connect_with(
        base: &str,
        cookie: &str,
        origin: Option<&str>,
        auth: Option<serde_json::Value>,
    ) -> Connect {
        let http = reqwest::Client::new();
        let mut req = http.get(format!("{base}/api/socket/io/?EIO=4&transport=polling"));
        if !cookie.is_empty() {
            req = req.header("cookie", cookie);
        }
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        let open = req.send().await.unwrap().text().await.unwrap();
        assert!(open.starts_with('0'), "open packet expected: {open}");
        let v: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        let sid = v["sid"].as_str().unwrap();
        let s = PollingSocket {
            next_ack: std::sync::atomic::AtomicU64::new(1),
            pending: Default::default(),
            http,
            url: format!("{base}/api/socket/io/?EIO=4&transport=polling&sid={sid}"),
            cookie: cookie.to_owned(),
            origin: origin.unwrap_or_default().to_owned(),
            inflight: tokio::sync::Mutex::new(None),
        };
        match auth {
            Some(a) => s.post(&format!("40{a}")).await,
            None => s.post("40").await,
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            for p in s.poll(Duration::from_secs(5)).await {
                if let Some(rest) = p.strip_prefix("40") {
                    assert!(rest.contains("sid"), "{p}");
                    return Connect::Ok(s);
                }
                if let Some(rest) = p.strip_prefix("44") {
                    let v: serde_json::Value = serde_json::from_str(rest).unwrap();
                    return Connect::Refused(v["message"].as_str().unwrap_or_default().to_owned());
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "no connect answer");
        }
    }

    fn req(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let mut r = r;
        if !self.cookie.is_empty() {
            r = r.header("cookie", &self.cookie);
        }
        if !self.origin.is_empty() {
            r = r.header("origin", &self.origin);
        }
        r
    }

    pub async fn post(&self, packet: &str) {
        let resp = self
            .req(self.http.post(&self.url))
            .body(packet.to_owned())
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "post {packet}: {}",
            resp.status()
        );
    }

    /// One long-poll: the packets it returned (empty when `timeout` passes first — the poll then
    /// stays in flight for the next call — and `<closed>` when the transport closed).
    pub async fn poll(&self, timeout: Duration) -> Vec<String> {
        let mut inflight = self.inflight.lock().await;
        let mut task = match inflight.take() {
            Some(task) => task,
            None => {
                let req = self.req(self.http.get(&self.url));
                tokio::spawn(async move {
                    match req.send().await {
                        Ok(resp) if resp.status().is_success() => {
                            let text = resp.text().await.unwrap_or_default();
                            text.split('\u{1e}')
                                .filter(|p| !p.is_empty())
                                .map(str::to_owned)
                                .collect()
                        }
                        _ => vec!["<closed>".to_owned()],
                    }
                })
            }
        };
        match tokio::time::timeout(timeout, &mut task).await {
            Ok(Ok(packets)) => {
                drop(inflight);
                // Pings are answered as soon as they arrive, as a browser does, not when a
                // caller gets to them behind the events queued before them.
                let mut rest = Vec::with_capacity(packets.len());
                for p in packets {
                    if p == "2" {
                        self.post("3").await;
                    } else {
                        rest.push(p);
                    }
                }
                rest
            }
            Ok(Err(_)) => vec!["<closed>".to_owned()],
            Err(_) => {
                *inflight = Some(task);
                Vec::new()
            }
        }
    }

    /// The next packet within the deadline (answers pings on the way).
    async fn next_packet(&self, deadline: tokio::time::Instant) -> Option<String> {
        loop {
            let next = self.pending.lock().unwrap().pop_front();
            if let Some(p) = next {
                if p == "2" {
                    self.post("3").await;
                    continue;
                }
                return Some(p);
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return None;
            }
            let got = self.poll(deadline - now).await;
            self.pending.lock().unwrap().extend(got);
        }
    }

    /// Waits for an event named `event`; returns its payload.
    pub async fn wait_event(&self, event: &str, within: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + within;
        while let Some(p) = self.next_packet(deadline).await {
            if let Some(rest) = p.strip_prefix("42") {
                let v: serde_json::Value = serde_json::from_str(rest).unwrap();
                if v[0] == event {
                    return Some(v[1].clone());
                }
            }
        }
        None
    }

    /// Emits `event` with an ack id and waits for the ack's first argument; other packets that
    /// arrive meanwhile stay queued for `wait_event`.
    pub async fn emit_ack(
        &self,
        event: &str,
        data: serde_json::Value,
        within: Duration,
    ) -> Option<serde_json::Value> {
        let id = self
            .next_ack
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let packet = format!("42{id}{}", serde_json::json!([event, data]));
        self.post(&packet).await;
        let deadline = tokio::time::Instant::now() + within;
        let prefix = format!("43{id}");
        let mut skipped = Vec::new();
        let mut answer = None;
        while let Some(p) = self.next_packet(deadline).await {
            if let Some(rest) = p.strip_prefix(&prefix) {
                if rest.starts_with('[') {
                    let v: serde_json::Value = serde_json::from_str(rest).unwrap();
                    answer = Some(v[0].clone());
                    break;
                }
            }
            skipped.push(p);
        }
        let mut pending = self.pending.lock().unwrap();
        for p in skipped.into_iter().rev() {
            pending.push_front(p);
        }
        answer
    }

    /// Whether the server ends the socket (namespace disconnect or closed transport) in time.
    pub async fn wait_closed(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while let Some(p) = self.next_packet(deadline).await {
            if p == "41" || p == "1" || p == "<closed>" {
                return true;
            }
        }
        false
    }
}
