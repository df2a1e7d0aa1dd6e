//! Uploads over real HTTP, on SQLite and on MariaDB: the kind decided by the content (a PNG
//! named `.pdf` is a PNG, HTML named `.png` and SVG are refused), images stripped of metadata and
//! of anything smuggled after them, the size limit and the storage quota enforced while the file
//! streams (nothing left on disk), files served only to signed-in people with headers that keep
//! them inert, docs' files public only when the docs are, and each person's uploads theirs.

use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use crate::support::browser::{Browser, Part};
use crate::support::calls::{delete, field, get, json_of, post, put};
use crate::support::{on_both, Db, TestApp};

on_both!(
    files_are_what_their_content_says_and_nothing_more,
    limits_quotas_and_owners_hold,
    docs_files_follow_their_doc
);

/// A real 1×1 PNG.
pub fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")
        .unwrap()
}

/// A PNG with a text chunk holding a script and an HTML page after its end: a polyglot.
fn png_polyglot() -> Vec<u8> {
    let plain = png();
    // After the header chunk (8 + 25 bytes).
    let mut v = plain[..33].to_vec();
    let text = b"Comment\0<script>alert(document.cookie)</script>";
    v.extend_from_slice(&(text.len() as u32).to_be_bytes());
    v.extend_from_slice(b"tEXt");
    v.extend_from_slice(text);
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&plain[33..]);
    v.extend_from_slice(b"<html><body><script>alert(2)</script></body></html>");
    v
}

fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

async fn upload(b: &Browser, csrf: &str, parts: &[Part<'_>]) -> (u16, Value) {
    json_of(b.post_multipart("/api/upload", Some(csrf), parts).await).await
}

async fn upload_file(b: &Browser, csrf: &str, name: &str, data: &[u8]) -> (u16, Value) {
    upload(
        b,
        csrf,
        &[Part::file(name, "application/octet-stream", data)],
    )
    .await
}

fn msg(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under the upload folder, with its size.
fn files_on_disk(app: &TestApp) -> Vec<(String, u64)> {
    let root = app.state.config.server.upload_dir();
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(&root).unwrap().display().to_string();
                out.push((rel, meta.len()));
            }
        }
    }
    out.sort();
    out
}

fn stored_path(app: &TestApp, url: &str) -> std::path::PathBuf {
    let name = url.strip_prefix("/uploads/").unwrap();
    app.state
        .config
        .server
        .upload_dir()
        .join(&name[..2])
        .join(name)
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<Value> {
    app.audit_rows(action)
        .await
        .into_iter()
        .map(|r| {
            let details: Value = serde_json::from_str(&r.details).unwrap_or(Value::Null);
            json!({ "status": r.status, "resource": r.resource, "details": details })
        })
        .collect()
}

async fn files_are_what_their_content_says_and_nothing_more(db: Db) {
    let app = TestApp::demo("uploads-kinds").on(db).start().await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let anon = Browser::new(&app.url(""));

    // Anonymous callers upload nothing.
    let resp = anon
        .post_multipart(
            "/api/upload",
            None,
            &[Part::file("a.png", "image/png", &png())],
        )
        .await;
    assert_eq!(resp.status(), 401);

    // A PNG named .pdf is a PNG, and downloads as one.
    let (s, up) = upload_file(&alice, &csrf, "holiday.pdf", &png()).await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(up["contentType"], "image/png");
    assert_eq!(up["name"], "holiday.png");
    let url = up["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("/uploads/") && url.ends_with(".png"),
        "{url}"
    );
    let resp = alice.get(&url).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers().clone();
    assert_eq!(h["content-type"], "image/png");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("sandbox"),
        "{csp}"
    );
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(resp.bytes().await.unwrap().as_ref(), png().as_slice());
    // Not to anonymous readers.
    let resp = anon.get(&url).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("Sign in"));
    assert_eq!(anon.get("/uploads/../../etc/passwd").await.status(), 404);
    assert_eq!(
        alice
            .get(&format!("/uploads/{}.png", "0".repeat(64)))
            .await
            .status(),
        404
    );

    // HTML named .png, SVG, and the classic GIF-header script are refused, naming why.
    for (name, data, says) in [
        (
            "cat.png",
            b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec(),
            "not accepted",
        ),
        (
            "logo.svg",
            br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#.to_vec(),
            "SVG",
        ),
        (
            "x.gif",
            b"GIF89a=1;alert(document.domain)//;".to_vec(),
            "GIF",
        ),
        ("empty.png", Vec::new(), "empty"),
    ] {
        let (s, body) = upload_file(&alice, &csrf, name, &data).await;
        assert_eq!(s, 400, "{name}: {body}");
        assert!(msg(&body).contains(says), "{name}: {body}");
    }

    // A polyglot keeps only its picture.
    let (s, up) = upload_file(&alice, &csrf, "poly.png", &png_polyglot()).await;
    assert_eq!(s, 200, "{up}");
    let on_disk = std::fs::read(stored_path(&app, up["url"].as_str().unwrap())).unwrap();
    assert!(!contains(&on_disk, b"<script"), "metadata or trailer kept");
    assert!(!contains(&on_disk, b"<html"));
    assert!(on_disk.starts_with(b"\x89PNG") && on_disk.ends_with(b"IEND\xae\x42\x60\x82"));
    // Stripped of what differed, it is the same picture: the same stored file.
    assert_eq!(up["url"], url);

    // A PDF is downloaded, not shown.
    let (s, up) = upload_file(&alice, &csrf, "Rapport é.pdf", &pdf()).await;
    assert_eq!(s, 200, "{up}");
    assert_eq!(up["contentType"], "application/pdf");
    let resp = alice.get(up["url"].as_str().unwrap()).await;
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    let disposition = resp.headers()["content-disposition"].to_str().unwrap();
    assert!(
        disposition
            == "attachment; filename=\"Rapport _.pdf\"; filename*=UTF-8''Rapport%20%C3%A9.pdf",
        "{disposition}"
    );

    // Malformed requests name what is wrong.
    let (s, body) = post(&alice, &csrf, "/api/upload", json!({ "file": "x" })).await;
    assert_eq!(s, 400, "{body}");
    assert!(msg(&body).contains("multipart"), "{body}");
    let (s, body) = upload(&alice, &csrf, &[Part::text("docId", "x")]).await;
    assert_eq!((s, field(&body)), (400, "file"), "{body}");
    let (s, body) = upload(
        &alice,
        &csrf,
        &[
            Part::text("colour", "red"),
            Part::file("a.png", "image/png", &png()),
        ],
    )
    .await;
    assert_eq!((s, field(&body)), (400, "colour"), "{body}");

    // A file followed by something that is not a field of an upload: refused, and the file
    // that had already arrived does not stay on disk.
    let before = files_on_disk(&app);
    let late = [pdf(), b"% arrived before the bad field\n".to_vec()].concat();
    let (s, body) = upload(
        &alice,
        &csrf,
        &[
            Part::file("late.pdf", "application/pdf", &late),
            Part::text("colour", "red"),
        ],
    )
    .await;
    assert_eq!((s, field(&body)), (400, "colour"), "{body}");
    crate::support::wait_until(
        Duration::from_secs(5),
        "the refused file removed",
        || async { (files_on_disk(&app) == before).then_some(()) },
    )
    .await;
    // A body that never reaches its first boundary is cut at the size limit, not buffered.
    let resp = alice
        .http
        .post(format!("{}/api/upload", alice.base))
        .header("cookie", alice.cookie_header())
        .header("origin", &alice.origin)
        .header("x-csrf-token", &csrf)
        .header("content-type", "multipart/form-data; boundary=never")
        .body(vec![b'x'; 11 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);

    // Nothing half-written is left behind.
    assert!(
        files_on_disk(&app)
            .iter()
            .all(|(p, _)| !p.starts_with(".incoming/")),
        "{:?}",
        files_on_disk(&app)
    );
    let rows = audit_rows(&app, "UPLOAD_FILE").await;
    assert!(rows.iter().any(|r| r["status"] == "SUCCESS"));
    assert!(
        rows.iter().any(|r| r["status"] == "FAILURE"
            && r["details"]["error"].as_str().unwrap_or("").contains("SVG")),
        "{rows:?}"
    );
}

async fn limits_quotas_and_owners_hold(db: Db) {
    let app = TestApp::demo("uploads-limits").on(db).start().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let (bob, bcsrf) = app.session_as("bob", &[], false).await;

    // 20 MiB against the default 10 MiB: refused, and nothing of it stays on disk.
    let mut big = png();
    big.resize(20 * 1024 * 1024, 0);
    let resp = alice
        .post_multipart(
            "/api/upload",
            Some(&csrf),
            &[Part::file("big.png", "image/png", &big)],
        )
        .await;
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert!(msg(&body).contains("10 MiB"), "{body}");
    assert_eq!(files_on_disk(&app), Vec::<(String, u64)>::new());

    // The settings are the administrators', each bad field named.
    let (s, _) = get(&alice, "/api/settings/content").await;
    assert_eq!(s, 403);
    let (s, settings) = get(&admin, "/api/settings/content").await;
    assert_eq!(s, 200);
    assert_eq!(
        settings,
        json!({ "publicDocs": false, "maxUploadBytes": 10485760, "uploadQuotaBytes": 209715200 })
    );
    for (body, name) in [
        (json!({ "maxUploadBytes": 5 }), "maxUploadBytes"),
        (json!({ "maxUploadBytes": "10MB" }), "maxUploadBytes"),
        (json!({ "uploadQuotaBytes": -1 }), "uploadQuotaBytes"),
        (json!({ "publicDocs": "yes" }), "publicDocs"),
        (json!({ "theme": "dark" }), "theme"),
    ] {
        let (s, resp) = post(&admin, &acsrf, "/api/settings/content", body.clone()).await;
        assert_eq!((s, field(&resp)), (400, name), "{body}: {resp}");
    }
    // A quota just over one PDF: the second, different one does not fit.
    let quota = pdf().len() as u64 + 10;
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/settings/content",
        json!({ "uploadQuotaBytes": quota, "maxUploadBytes": 4096 }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, body) = upload_file(
        &alice,
        &csrf,
        "big.pdf",
        &[pdf(), vec![b' '; 5000]].concat(),
    )
    .await;
    assert_eq!(s, 413, "{body}");
    assert!(msg(&body).contains("4 KiB"), "{body}");
    let (s, first) = upload_file(&alice, &csrf, "a.pdf", &pdf()).await;
    assert_eq!(s, 200, "{first}");
    // The same file again costs nothing and is the same upload.
    let (s, again) = upload_file(&alice, &csrf, "a-again.pdf", &pdf()).await;
    assert_eq!((s, &again["id"]), (200, &first["id"]), "{again}");
    let mut other = pdf();
    other.extend_from_slice(b"% another\n");
    let (s, body) = upload_file(&alice, &csrf, "b.pdf", &other).await;
    assert_eq!(s, 413, "{body}");
    assert!(msg(&body).contains("quota"), "{body}");
    let (s, mine) = get(&alice, "/api/uploads").await;
    assert_eq!(s, 200);
    assert_eq!(mine["usedBytes"], json!(pdf().len()));
    assert_eq!(mine["quotaBytes"], json!(quota));
    assert_eq!(mine["uploads"].as_array().unwrap().len(), 1);

    // Bob uploads the same content: his own record, one file on disk.
    let (s, bobs) = upload_file(&bob, &bcsrf, "mine.pdf", &pdf()).await;
    assert_eq!(s, 200, "{bobs}");
    assert_eq!(bobs["url"], first["url"]);
    assert_ne!(bobs["id"], first["id"]);
    assert_eq!(files_on_disk(&app).len(), 1);
    // Nobody deletes someone else's upload: for them it does not exist.
    let alice_id = first["id"].as_str().unwrap();
    let (s, _) = delete(&bob, &bcsrf, &format!("/api/uploads/{alice_id}"), None).await;
    assert_eq!(s, 404);
    let (_, bob_list) = get(&bob, "/api/uploads").await;
    assert_eq!(bob_list["uploads"].as_array().unwrap().len(), 1);
    assert_eq!(bob_list["uploads"][0]["id"], bobs["id"]);
    // Alice deletes hers: bob's keeps the file; when bob deletes his, it goes.
    let (s, _) = delete(&alice, &csrf, &format!("/api/uploads/{alice_id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(files_on_disk(&app).len(), 1);
    let (s, _) = upload_file(&alice, &csrf, "b.pdf", &other).await;
    assert_eq!(s, 200, "the quota counts what is left");
    let bob_id = bobs["id"].as_str().unwrap();
    let (s, _) = delete(&bob, &bcsrf, &format!("/api/uploads/{bob_id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        alice.get(first["url"].as_str().unwrap()).await.status(),
        404
    );
    assert_eq!(files_on_disk(&app).len(), 1);
    // 50 uploads an hour per person (the original's UPLOAD preset), counted before the file is
    // read; the same file again counts too.
    let (carol, ccsrf) = app.session_as("carol", &[], false).await;
    for i in 0..50 {
        let (s, body) = upload_file(&carol, &ccsrf, "same.pdf", &pdf()).await;
        assert_eq!(s, 200, "upload {i}: {body}");
    }
    let (s, body) = upload_file(&carol, &ccsrf, "same.pdf", &pdf()).await;
    assert_eq!(s, 429, "{body}");

    let rows = audit_rows(&app, "UPLOAD_DELETE").await;
    assert_eq!(rows.iter().filter(|r| r["status"] == "SUCCESS").count(), 2);
    assert_eq!(rows.iter().filter(|r| r["status"] == "FAILURE").count(), 1);
}

async fn docs_files_follow_their_doc(db: Db) {
    let app = TestApp::demo("uploads-docs").on(db).start().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    let anon = Browser::new(&app.url(""));
    let (s, doc) = post(
        &admin,
        &acsrf,
        "/api/admin/docs",
        json!({ "title": "Networks", "content": "VLANs" }),
    )
    .await;
    assert_eq!(s, 200, "{doc}");
    let doc_id = doc["id"].as_str().unwrap().to_owned();

    // Only administrators attach files to docs, and only to docs that exist.
    let png = png();
    let (s, body) = upload(
        &alice,
        &csrf,
        &[
            Part::text("docId", &doc_id),
            Part::file("a.png", "image/png", &png),
        ],
    )
    .await;
    assert_eq!(s, 403, "{body}");
    let (s, body) = upload(
        &admin,
        &acsrf,
        &[
            Part::file("a.png", "image/png", &png),
            Part::text("docId", "no-such-doc"),
        ],
    )
    .await;
    assert_eq!((s, field(&body)), (400, "docId"), "{body}");
    assert_eq!(
        files_on_disk(&app),
        Vec::<(String, u64)>::new(),
        "a refused file stays"
    );

    // The cover, uploaded before the article is saved, then shown by it.
    let (s, cover) = upload_file(&admin, &acsrf, "cover.png", &png).await;
    assert_eq!(s, 200, "{cover}");
    let cover_url = cover["url"].as_str().unwrap().to_owned();
    let (s, pdf_up) = upload(
        &admin,
        &acsrf,
        &[
            Part::text("docId", &doc_id),
            Part::file("spec.pdf", "application/pdf", &pdf()),
        ],
    )
    .await;
    assert_eq!(s, 200, "{pdf_up}");
    let pdf_url = pdf_up["url"].as_str().unwrap().to_owned();
    // A PDF is no cover.
    let (s, body) = put(
        &admin,
        &acsrf,
        &format!("/api/admin/docs/{doc_id}"),
        json!({ "coverImage": pdf_url }),
    )
    .await;
    assert_eq!((s, field(&body)), (400, "coverImage"), "{body}");
    let (s, body) = put(
        &admin,
        &acsrf,
        &format!("/api/admin/docs/{doc_id}"),
        json!({
            "coverImage": cover_url,
            "content": format!("See [the spec]({pdf_url}).\n\n![diagram]({cover_url})"),
            "published": false,
        }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (_, read) = get(&admin, &format!("/api/admin/docs/{doc_id}")).await;
    assert!(
        read["html"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("src=\"{cover_url}\"")),
        "{read}"
    );

    // Public docs: a published doc's files are anyone's; a draft's are not.
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/settings/content",
        json!({ "publicDocs": true }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        anon.get(&cover_url).await.status(),
        401,
        "draft's file shown"
    );
    let (s, _) = put(
        &admin,
        &acsrf,
        &format!("/api/admin/docs/{doc_id}"),
        json!({ "published": true }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(anon.get(&cover_url).await.status(), 200);
    assert_eq!(anon.get(&pdf_url).await.status(), 200);
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/settings/content",
        json!({ "publicDocs": false }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(anon.get(&cover_url).await.status(), 401);

    // Deleting the doc deletes its files.
    assert_eq!(files_on_disk(&app).len(), 2);
    let (s, _) = delete(&admin, &acsrf, &format!("/api/admin/docs/{doc_id}"), None).await;
    assert_eq!(s, 200);
    assert_eq!(files_on_disk(&app), Vec::<(String, u64)>::new());
    assert_eq!(admin.get(&cover_url).await.status(), 404);
    let (_, mine) = get(&admin, "/api/uploads").await;
    assert_eq!(mine["usedBytes"], 0);
}
