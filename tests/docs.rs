//! The knowledge base over real HTTP, on SQLite and on MariaDB: who reads and who writes, drafts
//! hidden from users, each bad field named, rendering and sanitizing, search and tags, visits
//! counted once per reader, audit rows.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::calls::{field, get, post, put};
use crate::support::{on_both, Db, TestApp};

on_both!(
    the_knowledge_base_is_read_by_users_and_written_by_admins,
    published_docs_are_public_only_when_the_setting_says_so
);

fn titles(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|d| d["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_knowledge_base_is_read_by_users_and_written_by_admins(db: Db) {
    let app = TestApp::demo("docs")
        .on(db)
        .var("NEXT_IMAGE_REMOTE_HOSTS", "example.com")
        .start()
        .await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let (alice, csrf) = app.session_as("alice", &[], false).await;
    // Readers are counted by their user row.
    for name in ["alice", "bob"] {
        app.state.store.create_user(name, None).await.unwrap();
    }
    let (bob, _) = app.session_as("bob", &[], false).await;

    // Anonymous: nothing; users: an empty list; the admin routes are not theirs.
    let anon = Browser::new(&app.url(""));
    assert_eq!(anon.get("/api/docs").await.status(), 401);
    let (s, list) = get(&alice, "/api/docs").await;
    assert_eq!((s, list.clone()), (200, json!([])));
    assert_eq!(alice.get("/api/admin/docs").await.status(), 403);
    let (s, _) = post(
        &alice,
        &csrf,
        "/api/admin/docs",
        json!({ "title": "t", "content": "c" }),
    )
    .await;
    assert_eq!(s, 403);

    // Each bad field is named.
    for (body, name) in [
        (json!({ "content": "c" }), "title"),
        (json!({ "title": "  ", "content": "c" }), "title"),
        (json!({ "title": "t" }), "content"),
        (json!({ "title": "x".repeat(192), "content": "c" }), "title"),
        (
            json!({ "title": "t", "subtitle": "s".repeat(192), "content": "c" }),
            "subtitle",
        ),
        (
            json!({ "title": "t", "content": "c", "published": "yes" }),
            "published",
        ),
        (
            json!({ "title": "t", "content": "c", "tags": "ops" }),
            "tags",
        ),
        (
            json!({ "title": "t", "content": "c", "tags": ["no spaces"] }),
            "tags",
        ),
        (
            json!({ "title": "t", "content": "c", "coverImage": "javascript:alert(1)" }),
            "coverImage",
        ),
        (
            json!({ "title": "t", "content": "c", "coverImage": "/uploads/../etc/passwd" }),
            "coverImage",
        ),
        (
            json!({ "title": "t", "content": "c", "coverImage": "https://elsewhere.example.org/x.png" }),
            "coverImage",
        ),
        (
            json!({ "title": "t", "content": "c", "author": "mallory" }),
            "author",
        ),
    ] {
        let (s, resp) = post(&admin, &acsrf, "/api/admin/docs", body.clone()).await;
        assert_eq!((s, field(&resp)), (400, name), "{body}: {resp}");
    }

    // Written: rendered and sanitized; the author is the writer.
    let source = "# Backups with vzdump\n\n| node | storage |\n|---|---|\n| pve1 | nas |\n\n- [x] schedule\n\n```bash\nvzdump 100\n```\n\n<script>alert(1)</script>\n\n[bad](javascript:alert(1)) [good](https://pve.proxmox.com)";
    let (s, doc) = post(
        &admin,
        &acsrf,
        "/api/admin/docs",
        json!({ "title": "Backups", "subtitle": "Schedules and retention", "content": source, "tags": ["Storage", "howto"], "coverImage": "https://example.com/cover.png" }),
    )
    .await;
    assert_eq!(s, 200, "{doc}");
    let id = doc["id"].as_str().unwrap().to_owned();
    assert_eq!(doc["author"], "root");
    assert_eq!(doc["tags"], json!(["storage", "howto"]));
    let html = doc["html"].as_str().unwrap();
    assert!(
        html.contains(r#"<h1 id="doc-backups-with-vzdump">"#),
        "{html}"
    );
    assert!(
        html.contains("<td>pve1</td>") && html.contains(r#"class="language-bash""#),
        "{html}"
    );
    assert!(
        !html.contains("<script")
            && !html.contains("href=\"javascript")
            && html.contains(
                r#"<a href="https://pve.proxmox.com" rel="noopener noreferrer nofollow">good</a>"#
            ),
        "{html}"
    );
    assert_eq!(doc["headings"][0]["id"], "doc-backups-with-vzdump");
    let (_, draft) = post(
        &admin,
        &acsrf,
        "/api/admin/docs",
        json!({ "title": "Networking plans", "content": "Bridges and VLANs for proxmox guests.", "published": false }),
    )
    .await;
    let draft = draft["id"].as_str().unwrap().to_owned();

    // Users see the published one only; a draft does not exist for them.
    let (_, list) = get(&alice, "/api/docs").await;
    assert_eq!(titles(&list), ["Backups"]);
    assert!(
        list[0].get("content").is_none(),
        "lists carry an excerpt, not the body"
    );
    let excerpt = list[0]["excerpt"].as_str().unwrap();
    assert!(
        !excerpt.contains("pve1") && excerpt.contains("good"),
        "prose only: {excerpt}"
    );
    let (s, _) = get(&alice, &format!("/api/docs/{draft}")).await;
    assert_eq!(s, 404);
    let (_, all) = get(&admin, "/api/admin/docs").await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (s, editing) = get(&admin, &format!("/api/admin/docs/{draft}")).await;
    assert_eq!((s, editing["published"].as_bool()), (200, Some(false)));

    // Search and tags.
    let (_, found) = get(&alice, "/api/docs?q=vzdumq").await;
    assert!(titles(&found).is_empty(), "no fuzzy matches: {found}");
    let (_, found) = get(&alice, "/api/docs?q=vzd").await;
    assert_eq!(titles(&found), ["Backups"]);
    let (_, found) = get(&alice, "/api/docs?q=proxmox%20bridges").await;
    assert!(
        titles(&found).is_empty(),
        "drafts are not searched for users"
    );
    let (_, found) = get(&admin, "/api/admin/docs?q=proxmox%20bridges").await;
    assert_eq!(titles(&found), ["Networking plans"]);
    let (_, tagged) = get(&alice, "/api/docs?tag=howto").await;
    assert_eq!(titles(&tagged), ["Backups"]);
    let (_, tagged) = get(&alice, "/api/docs?tag=network").await;
    assert!(titles(&tagged).is_empty());
    for (query, name) in [
        ("limit=0", "limit"),
        ("tag=a%20b", "tag"),
        (&*format!("q={}", "x".repeat(201)), "q"),
    ] {
        let (s, body) = get(&alice, &format!("/api/docs?{query}")).await;
        assert_eq!((s, field(&body)), (400, name), "{query}: {body}");
    }

    // Visits: each reader once.
    for _ in 0..3 {
        let (s, _) = get(&alice, &format!("/api/docs/{id}")).await;
        assert_eq!(s, 200);
    }
    let (_, read) = get(&bob, &format!("/api/docs/{id}")).await;
    assert_eq!(read["visitedBy"], 2, "{read}");

    // Edited: only the fields sent change; published, the draft appears.
    let (s, changed) = put(
        &admin,
        &acsrf,
        &format!("/api/admin/docs/{id}"),
        json!({ "pinned": true }),
    )
    .await;
    assert_eq!(s, 200, "{changed}");
    assert_eq!(
        (changed["pinned"].as_bool(), changed["title"].as_str()),
        (Some(true), Some("Backups"))
    );
    let (s, resp) = put(
        &admin,
        &acsrf,
        &format!("/api/admin/docs/{id}"),
        json!({ "title": "" }),
    )
    .await;
    assert_eq!((s, field(&resp)), (400, "title"));
    let (s, _) = put(
        &alice,
        &csrf,
        &format!("/api/admin/docs/{id}"),
        json!({ "pinned": false }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = put(
        &admin,
        &acsrf,
        &format!("/api/admin/docs/{draft}"),
        json!({ "published": true }),
    )
    .await;
    assert_eq!(s, 200);
    let (_, list) = get(&alice, "/api/docs").await;
    assert_eq!(
        titles(&list),
        ["Backups", "Networking plans"],
        "pinned first"
    );

    // The editor's preview renders as the article will be.
    let (s, preview) = post(
        &admin,
        &acsrf,
        "/api/admin/docs/preview",
        json!({ "content": "## Hi\n\n<b>x</b>" }),
    )
    .await;
    assert_eq!(s, 200, "{preview}");
    assert!(preview["html"]
        .as_str()
        .unwrap()
        .contains(r#"<h2 id="doc-hi">"#));
    assert!(preview["html"].as_str().unwrap().contains("&lt;b&gt;"));
    let (s, _) = post(
        &alice,
        &csrf,
        "/api/admin/docs/preview",
        json!({ "content": "x" }),
    )
    .await;
    assert_eq!(s, 403);

    // Deleted: gone for everyone.
    let resp = admin
        .send(
            Method::DELETE,
            &format!("/api/admin/docs/{draft}"),
            Some(&acsrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 200);
    let resp = admin
        .send(
            Method::DELETE,
            &format!("/api/admin/docs/{draft}"),
            Some(&acsrf),
            None,
        )
        .await;
    assert_eq!(resp.status(), 404);
    let (_, list) = get(&alice, "/api/docs").await;
    assert_eq!(titles(&list), ["Backups"]);

    // One audit row per change.
    for action in [
        "DOC_CREATE",
        "DOC_UPDATE",
        "DOC_DELETE",
        "DOC_PUBLIC_VIEW",
        "DOC_PUBLIC_LIST",
    ] {
        let rows = app.audit_rows(action).await;
        assert!(rows.iter().any(|r| r.status == "SUCCESS"), "{action}");
    }
    let updates = app.audit_rows("DOC_UPDATE").await;
    assert!(updates
        .iter()
        .any(|r| r.details.contains("\"changedFields\":[\"pinned\"]")));
    app.stop().await.unwrap();
}

async fn published_docs_are_public_only_when_the_setting_says_so(db: Db) {
    let app = TestApp::demo("docs-public").on(db).start().await;
    let (admin, acsrf) = app.session_as("root", &[], true).await;
    let anon = Browser::new(&app.url(""));
    let (_, public) = post(
        &admin,
        &acsrf,
        "/api/admin/docs",
        json!({ "title": "Getting a VM", "content": "Ask for a pool." }),
    )
    .await;
    let (_, draft) = post(
        &admin,
        &acsrf,
        "/api/admin/docs",
        json!({ "title": "Secret plans", "content": "x", "published": false }),
    )
    .await;
    let (public, draft) = (
        public["id"].as_str().unwrap(),
        draft["id"].as_str().unwrap(),
    );

    // Off (the default): sign in first.
    assert_eq!(anon.get("/api/docs").await.status(), 401);
    let resp = anon.get(&format!("/docs/{public}")).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()["location"],
        format!("/login?next=%2Fdocs%2F{public}").as_str()
    );

    // On: published docs are anyone's; drafts, the editor and the rest of Uma are not.
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/settings/content",
        json!({ "publicDocs": true }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, list) = get(&anon, "/api/docs").await;
    assert_eq!(s, 200);
    assert_eq!(titles(&list), ["Getting a VM"]);
    let (s, doc) = get(&anon, &format!("/api/docs/{public}")).await;
    assert_eq!((s, doc["visitedBy"].as_i64()), (200, Some(0)), "{doc}");
    assert_eq!(anon.get(&format!("/api/docs/{draft}")).await.status(), 404);
    assert_eq!(anon.get("/api/admin/docs").await.status(), 401);
    assert_eq!(anon.get("/api/uploads").await.status(), 401);
    assert_eq!(anon.get("/dashboard").await.status(), 303);
    let page = anon.get(&format!("/docs/{public}")).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Getting a VM") && html.contains("data-signin"),
        "{html}"
    );
    assert!(
        !html.contains("/logout"),
        "a signed-out page offers to sign out"
    );
    let page = anon.get("/docs?q=pool").await.text().await.unwrap();
    assert!(page.contains("Getting a VM") && !page.contains("Secret plans"));
    // Anonymous reads are audited as such.
    let rows = app.audit_rows("DOC_PUBLIC_VIEW").await;
    assert!(rows.iter().any(|r| r.username == "anonymous"), "{rows:?}");

    // Off again: closed again.
    let (s, _) = post(
        &admin,
        &acsrf,
        "/api/settings/content",
        json!({ "publicDocs": false }),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(anon.get("/api/docs").await.status(), 401);
    app.stop().await.unwrap();
}
