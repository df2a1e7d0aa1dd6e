//! The store suite: every table's create/read/update/delete and constraints, run on SQLite and on
//! MariaDB from the same code. Both backends must end with the same tables.

use uma::config::{DatabaseConfig, Secret};
use uma::store::audit::{AuditFilter, NewAudit};
use uma::store::auth::SessionRecord;
use uma::store::chat::NewMessage;
use uma::store::docs::DocInput;
use uma::store::hardware::HardwareTemplate;
use uma::store::notifications::{NoticeFields, NoticeKind};
use uma::store::pools::Limits;
use uma::store::uploads::Upload;
use uma::store::{new_id, now_ms, Store, StoreError};

use crate::support::db::{drop_mysql_database, fresh_mysql_database};
use crate::support::temp_dir;

async fn sqlite_store() -> Store {
    let dir = temp_dir("store");
    let store = Store::connect(&DatabaseConfig::Sqlite(dir.join("uma.db")))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
}

async fn mysql_store() -> (Store, String) {
    let url = fresh_mysql_database().await;
    let store = Store::connect(&DatabaseConfig::MySql(Secret::new(url.clone())))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    (store, url)
}

const TABLES: &[&str] = &[
    "api_tokens",
    "app_config",
    "audit_chain",
    "audit_checkpoints",
    "audit_logs",
    "blocks",
    "chat_groups",
    "chat_reads",
    "doc_visits",
    "docs",
    "group_admins",
    "group_members",
    "hardware_templates",
    "held_guest_ids",
    "local_accounts",
    "messages",
    "notification_dismissals",
    "notifications",
    "oidc_identities",
    "oidc_logins",
    "oidc_sessions",
    "passkeys",
    "password_resets",
    "pool_limits",
    "reactions",
    "recovery_codes",
    "sessions",
    "sign_in_challenges",
    "uploads",
    "user_totp",
    "users",
    "webauthn_ceremonies",
    "whiteboard_states",
];

async fn suite(store: &Store) {
    // Migrations are idempotent and give the full schema.
    store.migrate().await.unwrap();
    assert_eq!(store.table_names().await.unwrap(), TABLES);

    users_and_accounts(store).await;
    sessions(store).await;
    chat(store).await;
    docs_and_uploads(store).await;
    audit(store).await;
    settings_and_notifications(store).await;
    pool_limits(store).await;
    whiteboard(store).await;
    hardware_templates(store).await;
    held_guest_ids(store).await;
    cascades(store).await;
}

async fn held_guest_ids(store: &Store) {
    assert!(store.held_guest_ids().await.unwrap().is_empty());
    store.hold_guest_ids(&[105, 101], "backup").await.unwrap();
    // Holding again refreshes, never duplicates.
    store.hold_guest_ids(&[101, 4000], "backups").await.unwrap();
    let held = store.held_guest_ids().await.unwrap();
    assert_eq!(held.into_iter().collect::<Vec<_>>(), [101, 105, 4000]);
    let keep: std::collections::BTreeSet<u32> = [101].into();
    assert_eq!(store.release_guest_ids_except(&keep).await.unwrap(), 2);
    assert_eq!(
        store
            .held_guest_ids()
            .await
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [101]
    );
}

async fn users_and_accounts(store: &Store) {
    let alice = store.create_user("alice", Some("Alice A.")).await.unwrap();
    assert!(matches!(
        store.create_user("alice", None).await,
        Err(StoreError::Conflict(_))
    ));
    // Usernames are exact: a different case is another user on both backends.
    store.create_user("Alice", None).await.unwrap();
    assert_eq!(
        store.user_by_username("alice").await.unwrap().unwrap(),
        alice
    );
    assert_eq!(
        store.user_by_id(&alice.id).await.unwrap().unwrap().username,
        "alice"
    );
    assert_eq!(
        store.find_or_create_user("alice", None).await.unwrap().id,
        alice.id
    );
    store
        .update_user_profile(
            &alice.id,
            Some("Alice"),
            Some("/a.png"),
            Some(r#"{"dnd":true}"#),
        )
        .await
        .unwrap();
    // The same values again still count as an update of an existing row.
    store
        .update_user_profile(
            &alice.id,
            Some("Alice"),
            Some("/a.png"),
            Some(r#"{"dnd":true}"#),
        )
        .await
        .unwrap();
    let a = store.user_by_id(&alice.id).await.unwrap().unwrap();
    assert_eq!(a.display_name.as_deref(), Some("Alice"));
    assert_eq!(a.settings.as_deref(), Some(r#"{"dnd":true}"#));
    assert!(matches!(
        store.update_user_profile("missing", None, None, None).await,
        Err(StoreError::NotFound)
    ));
    let found = store.search_users("lic", 10).await.unwrap();
    assert!(found.iter().any(|u| u.username == "alice"));
    assert!(
        store.search_users("%", 10).await.unwrap().is_empty(),
        "LIKE wildcards are escaped"
    );

    store
        .upsert_local_account(&alice.id, "$argon2id$hash1", false)
        .await
        .unwrap();
    store
        .upsert_local_account(&alice.id, "$argon2id$hash2", true)
        .await
        .unwrap();
    let (_, acc) = store.local_account("alice").await.unwrap().unwrap();
    assert_eq!(acc.password_hash, "$argon2id$hash2");
    assert!(acc.is_admin && !acc.disabled);
    store
        .set_local_account_disabled(&alice.id, true)
        .await
        .unwrap();
    assert!(
        store
            .local_account("alice")
            .await
            .unwrap()
            .unwrap()
            .1
            .disabled
    );
    let list = store.list_local_accounts().await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].disabled);
    assert!(store.local_account("nobody").await.unwrap().is_none());
    assert!(matches!(
        store.upsert_local_account("no-such-user", "h", false).await,
        Err(StoreError::MissingReference(_))
    ));
}

async fn sessions(store: &Store) {
    let now = now_ms();
    let s = SessionRecord {
        id: new_id(),
        user_id: None,
        username: "bob".into(),
        display_name: Some("Bob".into()),
        groups_json: r#"["devs"]"#.into(),
        is_admin: false,
        auth_source: "ldap".into(),
        csrf_token: "c".repeat(64),
        ip_address: Some("10.0.0.1".into()),
        user_agent: Some("test".into()),
        created_at: now,
        last_seen_at: now,
        expires_at: now + 60_000,
        revoked_at: None,
        factor_at: None,
    };
    store.insert_session(&s).await.unwrap();
    assert!(matches!(
        store.insert_session(&s).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.session(&s.id).await.unwrap().unwrap(), s);
    store.touch_session(&s.id, now + 5).await.unwrap();
    assert_eq!(
        store.session(&s.id).await.unwrap().unwrap().last_seen_at,
        now + 5
    );
    assert_eq!(store.active_sessions(now).await.unwrap().len(), 1);
    store.revoke_session(&s.id).await.unwrap();
    assert!(matches!(
        store.revoke_session(&s.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.active_sessions(now).await.unwrap().is_empty());
    assert_eq!(store.purge_sessions(now + 120_000).await.unwrap(), 1);
    assert!(store.session(&s.id).await.unwrap().is_none());
}

async fn chat(store: &Store) {
    let carol = store.create_user("carol", None).await.unwrap();
    let dave = store.create_user("dave", None).await.unwrap();
    let group = store.create_group("General", &carol.id).await.unwrap();
    assert!(store.is_group_member(&group.id, &carol.id).await.unwrap());
    assert!(store.is_group_admin(&group.id, &carol.id).await.unwrap());
    store.add_group_member(&group.id, &dave.id).await.unwrap();
    store.add_group_member(&group.id, &dave.id).await.unwrap();
    assert_eq!(store.group_member_ids(&group.id).await.unwrap().len(), 2);
    store.rename_group(&group.id, "General").await.unwrap();
    store.rename_group(&group.id, "Team").await.unwrap();
    assert_eq!(store.group(&group.id).await.unwrap().unwrap().name, "Team");
    assert_eq!(
        store.group_by_name("Team").await.unwrap().unwrap().id,
        group.id
    );
    assert_eq!(store.groups_of_user(&dave.id).await.unwrap().len(), 1);
    assert!(matches!(
        store.add_group_member(&group.id, "ghost").await,
        Err(StoreError::MissingReference(_))
    ));

    let m1 = store
        .insert_message(NewMessage {
            content: "hi",
            sender_id: &carol.id,
            receiver_id: Some(&dave.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let m2 = store
        .insert_message(NewMessage {
            content: "hello",
            sender_id: &dave.id,
            receiver_id: Some(&carol.id),
            reply_to_id: Some(&m1.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let g1 = store
        .insert_message(NewMessage {
            content: "all",
            sender_id: &carol.id,
            group_id: Some(&group.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(m1.seq < m2.seq && m2.seq < g1.seq, "sequence numbers grow");
    assert!(!m1.is_read && !m1.delivered);
    let dm = store
        .direct_history(&carol.id, &dave.id, None, 10)
        .await
        .unwrap();
    assert_eq!(
        dm.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        [m2.id.clone(), m1.id.clone()]
    );
    assert_eq!(
        store
            .direct_history(&carol.id, &dave.id, Some(m2.seq), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .group_history(&group.id, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store.edit_message(&m1.id, "hi!").await.unwrap();
    let edited = store.message(&m1.id).await.unwrap().unwrap();
    assert_eq!(edited.content, "hi!");
    assert!(edited.edited_at.is_some());
    assert_eq!(store.mark_read(&carol.id, &dave.id).await.unwrap(), 1);
    assert_eq!(store.mark_read(&carol.id, &dave.id).await.unwrap(), 0);
    assert!(store.message(&m1.id).await.unwrap().unwrap().is_read);

    // Reactions: unique per user + message + emoji; toggling adds then removes.
    assert!(store.toggle_reaction(&dave.id, &m1.id, "👍").await.unwrap());
    assert!(matches!(
        store.add_reaction(&dave.id, &m1.id, "👍").await,
        Err(StoreError::Conflict(_))
    ));
    store.add_reaction(&dave.id, &m1.id, "🎉").await.unwrap();
    store.add_reaction(&carol.id, &m1.id, "👍").await.unwrap();
    assert_eq!(store.reactions(&m1.id).await.unwrap().len(), 3);
    assert!(!store.toggle_reaction(&dave.id, &m1.id, "👍").await.unwrap());
    assert_eq!(store.reactions(&m1.id).await.unwrap().len(), 2);

    store.soft_delete_message(&m2.id).await.unwrap();
    let deleted = store.message(&m2.id).await.unwrap().unwrap();
    assert!(deleted.deleted_at.is_some());
    assert_eq!(deleted.content, uma::store::chat::DELETED_TEXT);
    assert!(matches!(
        store.edit_message(&m2.id, "x").await,
        Err(StoreError::NotFound)
    ));

    // Blocks: unique pair, direction matters.
    store.block_user(&carol.id, &dave.id).await.unwrap();
    assert!(matches!(
        store.block_user(&carol.id, &dave.id).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(store.is_blocked(&carol.id, &dave.id).await.unwrap());
    assert!(!store.is_blocked(&dave.id, &carol.id).await.unwrap());
    store.unblock_user(&carol.id, &dave.id).await.unwrap();
    assert!(!store.is_blocked(&carol.id, &dave.id).await.unwrap());

    // Deleting a group deletes its messages (with replies among them, reactions and read marks),
    // members and admins, but not the users' direct messages.
    let g2 = store
        .insert_message(NewMessage {
            content: "re: all",
            sender_id: &dave.id,
            group_id: Some(&group.id),
            reply_to_id: Some(&g1.id),
            ..Default::default()
        })
        .await
        .unwrap();
    store.add_reaction(&dave.id, &g1.id, "👀").await.unwrap();
    store
        .mark_group_read(&dave.id, &group.id, g2.seq)
        .await
        .unwrap();
    assert_eq!(
        store.unread_group_counts(&carol.id).await.unwrap(),
        [(group.id.clone(), 1)]
    );
    store
        .remove_group_member(&group.id, &dave.id)
        .await
        .unwrap();
    assert!(!store.is_group_member(&group.id, &dave.id).await.unwrap());
    assert_eq!(store.delete_group(&group.id).await.unwrap(), 2);
    assert!(store.group(&group.id).await.unwrap().is_none());
    assert!(store.message(&g1.id).await.unwrap().is_none());
    assert!(store.message(&g2.id).await.unwrap().is_none());
    assert!(store.reactions(&g1.id).await.unwrap().is_empty());
    assert!(store.group_member_ids(&group.id).await.unwrap().is_empty());
    assert!(store.group_admin_ids(&group.id).await.unwrap().is_empty());
    assert!(store.groups_of_user(&carol.id).await.unwrap().is_empty());
    assert!(store
        .unread_group_counts(&carol.id)
        .await
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.delete_group(&group.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.message(&m1.id).await.unwrap().is_some());
}

async fn docs_and_uploads(store: &Store) {
    let erin = store.create_user("erin", None).await.unwrap();
    let input = DocInput {
        title: "Guide".into(),
        content: "# Guide".into(),
        published: false,
        ..Default::default()
    };
    let doc = store.create_doc("admin", &input).await.unwrap();
    assert_eq!(doc.visited_by, 0);
    assert!(store.list_docs(false).await.unwrap().is_empty());
    assert_eq!(store.list_docs(true).await.unwrap().len(), 1);
    let updated = DocInput {
        published: true,
        pinned: true,
        subtitle: Some("sub".into()),
        ..input.clone()
    };
    store.update_doc(&doc.id, &updated).await.unwrap();
    store.update_doc(&doc.id, &updated).await.unwrap();
    let d = store.doc(&doc.id).await.unwrap().unwrap();
    assert!(d.published && d.pinned);
    assert!(store.record_doc_visit(&doc.id, &erin.id).await.unwrap());
    assert!(!store.record_doc_visit(&doc.id, &erin.id).await.unwrap());
    assert_eq!(
        store.doc(&doc.id).await.unwrap().unwrap().visited_by,
        1,
        "each user counts once"
    );

    // Search: every word, prefixes, tags, drafts only when asked, edits and deletions followed.
    let backup = store
        .create_doc(
            "admin",
            &DocInput {
                title: "Backups with vzdump".into(),
                subtitle: Some("Schedules and retention".into()),
                content: "Proxmox keeps **snapshots** on the storage you choose.".into(),
                published: true,
                tags: vec!["storage".into(), "howto".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(backup.tag_list(), ["storage", "howto"]);
    let draft = store
        .create_doc(
            "admin",
            &DocInput {
                title: "Networking draft".into(),
                content: "VLAN tags and bridges for proxmox guests.".into(),
                published: false,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let found =
        |list: Vec<uma::store::docs::Doc>| list.into_iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        found(store.search_docs("vzdump", false, 10).await.unwrap()),
        [backup.id.as_str()]
    );
    assert_eq!(
        found(store.search_docs("PROX snapsh", false, 10).await.unwrap()),
        [backup.id.as_str()]
    );
    assert_eq!(
        found(store.search_docs("howto", false, 10).await.unwrap()),
        [backup.id.as_str()]
    );
    assert!(store
        .search_docs("proxmox bridges", false, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        found(
            store
                .search_docs("proxmox bridges", true, 10)
                .await
                .unwrap()
        ),
        [draft.id.as_str()]
    );
    assert_eq!(
        store.search_docs("proxmox", true, 10).await.unwrap().len(),
        2
    );
    assert!(store
        .search_docs("\" OR * NEAR( -", true, 10)
        .await
        .unwrap()
        .is_empty());
    store
        .update_doc(
            &backup.id,
            &DocInput {
                title: "Backups with PBS".into(),
                content: "Proxmox Backup Server.".into(),
                published: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(store
        .search_docs("vzdump", true, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        found(store.search_docs("pbs", true, 10).await.unwrap()),
        [backup.id.as_str()]
    );
    store.delete_doc(&backup.id).await.unwrap();
    store.delete_doc(&draft.id).await.unwrap();
    assert!(store
        .search_docs("proxmox", true, 10)
        .await
        .unwrap()
        .is_empty());

    let upload = Upload {
        id: new_id(),
        doc_id: None,
        uploaded_by: "admin".into(),
        file_name: "cover.png".into(),
        stored_name: format!("{}.png", new_id()),
        content_type: "image/png".into(),
        size_bytes: 1234,
        sha256: "ab".repeat(32),
        created_at: now_ms(),
    };
    store.insert_upload(&upload).await.unwrap();
    assert!(matches!(
        store.insert_upload(&upload).await,
        Err(StoreError::Conflict(_))
    ));
    // The same content from someone else is their own record; the same uploader twice is not.
    let again = Upload {
        id: new_id(),
        ..upload.clone()
    };
    assert!(matches!(
        store.insert_upload(&again).await,
        Err(StoreError::Conflict(_))
    ));
    let other = Upload {
        id: new_id(),
        uploaded_by: "bob".into(),
        ..upload.clone()
    };
    store.insert_upload(&other).await.unwrap();
    assert_eq!(store.upload_usage("admin").await.unwrap(), 1234);
    assert_eq!(store.upload_usage("nobody").await.unwrap(), 0);
    assert_eq!(
        store
            .upload_of(&upload.stored_name, "bob")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(other.id.clone())
    );
    store.delete_upload(&other.id).await.unwrap();
    assert!(!store
        .doc_uses_upload(&upload.stored_name, false)
        .await
        .unwrap());
    store.attach_upload(&upload.id, &doc.id).await.unwrap();
    assert_eq!(store.uploads_of_doc(&doc.id).await.unwrap().len(), 1);
    assert_eq!(
        store
            .upload_by_stored_name(&upload.stored_name)
            .await
            .unwrap()
            .unwrap()
            .id,
        upload.id
    );
    // Uploads and visits go with their doc.
    store.delete_doc(&doc.id).await.unwrap();
    assert!(store
        .upload_by_stored_name(&upload.stored_name)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.delete_doc(&doc.id).await,
        Err(StoreError::NotFound)
    ));
    let orphan = Upload {
        id: new_id(),
        stored_name: format!("{}.pdf", new_id()),
        ..upload
    };
    store.insert_upload(&orphan).await.unwrap();
    store.delete_upload(&orphan.id).await.unwrap();
}

async fn audit(store: &Store) {
    // The deployment's key signs the chain.
    let store = &store.clone().with_audit_key([7; 32]);
    let rows: Vec<NewAudit> = ["LOGIN", "VM_START", "LOGIN"]
        .iter()
        .map(|a| NewAudit {
            username: "alice".into(),
            action: (*a).into(),
            resource: "auth:session".into(),
            details: serde_json::json!({ "n": 1 }),
            status: if *a == "VM_START" {
                "FAILURE".into()
            } else {
                "SUCCESS".into()
            },
            op_id: Some("op123".into()),
            ..Default::default()
        })
        .collect();
    store.insert_audit_rows(&rows).await.unwrap();
    store.insert_audit_rows(&[]).await.unwrap();
    let all = store
        .list_audit(&AuditFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    let logins = store
        .list_audit(
            &AuditFilter {
                action: Some("LOGIN".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    assert_eq!(logins.len(), 2);
    let failures = store
        .list_audit(
            &AuditFilter {
                status: Some("FAILURE".into()),
                username: Some("alice".into()),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].details, r#"{"n":1}"#);
    assert_eq!(
        store
            .list_audit(&AuditFilter::default(), 2, 2)
            .await
            .unwrap()
            .len(),
        1
    );
    // The rows form a chain; retention leaves a signed checkpoint to verify from.
    let report = store.verify_audit_chain().await.unwrap();
    assert_eq!((report.checked, &report.broken), (3, &None), "{report:?}");
    assert_eq!(store.purge_audit(now_ms() + 1).await.unwrap(), 3);
    let report = store.verify_audit_chain().await.unwrap();
    assert_eq!((report.checked, report.from, report.broken), (0, 4, None));
    let forged = store
        .clone()
        .with_audit_key([9; 32])
        .verify_audit_chain()
        .await
        .unwrap();
    assert!(forged.broken.unwrap().reason.contains("signature"));

    // What a caller names is clipped to its column, and one long row does not sink its batch.
    let long = NewAudit {
        username: "mallory".into(),
        action: "GROUP_VIEW".into(),
        resource: format!("group:{}", "é".repeat(400)),
        user_agent: Some("A".repeat(70_000)),
        status: "FAILURE".into(),
        ..Default::default()
    };
    let fine = NewAudit {
        username: "alice".into(),
        action: "LOGIN".into(),
        resource: "auth:session".into(),
        status: "SUCCESS".into(),
        ..Default::default()
    };
    store.insert_audit_rows(&[long, fine]).await.unwrap();
    let rows = store
        .list_audit(&AuditFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    let clipped = rows.iter().find(|r| r.username == "mallory").unwrap();
    assert_eq!(clipped.resource.chars().count(), 191);
    assert!(clipped.resource.starts_with("group:éé") && clipped.resource.ends_with('…'));
    assert_eq!(clipped.user_agent.as_deref().unwrap().chars().count(), 1024);
    let report = store.verify_audit_chain().await.unwrap();
    assert_eq!((report.checked, report.head, report.broken), (2, 5, None));

    // Someone with the database but not the key: the row they add does not hold.
    let forger = store.clone().with_audit_key([1; 32]);
    forger
        .insert_audit_rows(&[NewAudit {
            username: "alice".into(),
            action: "VM_DELETE".into(),
            resource: "vm:100".into(),
            status: "SUCCESS".into(),
            ..Default::default()
        }])
        .await
        .unwrap();
    let report = store.verify_audit_chain().await.unwrap();
    let broken = report.broken.expect("the forged row is found");
    assert_eq!(broken.seq, 6);
    assert!(broken.reason.contains("changed"), "{}", broken.reason);
    assert_eq!(store.purge_audit(now_ms() + 1).await.unwrap(), 3);
}

/// Two instances writing at once (two stores on one MariaDB, many small batches each) leave one
/// unbroken chain.
#[tokio::test]
async fn two_writers_leave_one_chain() {
    let (a, url) = mysql_store().await;
    let a = a.with_audit_key([3; 32]);
    let b = Store::connect(&DatabaseConfig::MySql(Secret::new(url.clone())))
        .await
        .unwrap()
        .with_audit_key([3; 32]);
    let row = |who: &str, i: usize| NewAudit {
        username: who.into(),
        action: "LOGIN".into(),
        resource: format!("auth:{i}"),
        status: "SUCCESS".into(),
        ..Default::default()
    };
    let write = |store: Store, who: &'static str| async move {
        for i in 0..40 {
            store
                .insert_audit_rows(&[row(who, i), row(who, i + 1000)])
                .await
                .unwrap();
        }
    };
    tokio::join!(write(a.clone(), "a"), write(b.clone(), "b"));
    let report = a.verify_audit_chain().await.unwrap();
    assert_eq!(
        (report.checked, report.head, report.broken),
        (160, 160, None)
    );
    a.close().await;
    b.close().await;
    drop_mysql_database(&url).await;
}

async fn settings_and_notifications(store: &Store) {
    assert!(store.config_value("access").await.unwrap().is_none());
    let v = serde_json::json!({ "adminGroups": ["ops"], "allowedGroups": [] });
    store.set_config_value("access", &v).await.unwrap();
    store.set_config_value("access", &v).await.unwrap();
    assert_eq!(store.config_value("access").await.unwrap().unwrap(), v);
    store
        .set_config_value("access", &serde_json::json!(1))
        .await
        .unwrap();
    assert_eq!(
        store.config_value("access").await.unwrap().unwrap(),
        serde_json::json!(1)
    );
    store.delete_config_value("access").await.unwrap();
    assert!(matches!(
        store.delete_config_value("access").await,
        Err(StoreError::NotFound)
    ));

    let fields = |message: &str, kind: NoticeKind, priority: i64| NoticeFields {
        message: message.into(),
        kind,
        is_active: true,
        priority,
        starts_at: None,
        ends_at: None,
    };
    let now = now_ms();
    let n = store
        .create_notification(&fields("Maintenance tonight", NoticeKind::Warning, 5))
        .await
        .unwrap();
    let low = store
        .create_notification(&fields("Low", NoticeKind::Info, 0))
        .await
        .unwrap();
    let over = store
        .create_notification(&NoticeFields {
            ends_at: Some(now - 1),
            ..fields("Over", NoticeKind::Error, 9)
        })
        .await
        .unwrap();
    let list = store.notifications_for("alice", now, 50).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [n.id.as_str(), low.id.as_str()],
        "higher priority first; over left out"
    );
    assert_eq!(
        store
            .notifications_for("alice", now, 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(store.all_notifications().await.unwrap().len(), 3);
    assert_eq!(
        store.notification(&over.id).await.unwrap().unwrap().kind,
        NoticeKind::Error
    );
    store
        .update_notification(
            &n.id,
            &NoticeFields {
                is_active: false,
                ..fields("Maintenance moved", NoticeKind::Warning, 5)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .notifications_for("alice", now, 50)
            .await
            .unwrap()
            .len(),
        1
    );
    // Dismissals are per user, idempotent, and go with their banner.
    store.dismiss_notification(&low.id, "alice").await.unwrap();
    store.dismiss_notification(&low.id, "alice").await.unwrap();
    assert!(store
        .notifications_for("alice", now, 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.notifications_for("bob", now, 50).await.unwrap().len(),
        1
    );
    assert!(matches!(
        store.dismiss_notification("nope", "alice").await,
        Err(StoreError::NotFound)
    ));
    store.delete_notification(&low.id).await.unwrap();
    store.delete_notification(&n.id).await.unwrap();
    assert!(matches!(
        store.delete_notification(&n.id).await,
        Err(StoreError::NotFound)
    ));
}

async fn pool_limits(store: &Store) {
    let l = Limits {
        max_vms: 5,
        max_lxcs: 3,
        max_vnets: 2,
        max_cpu: 16,
        max_memory: 32768,
        max_disk: 500,
    };
    let row = store.set_pool_limit("DEV_alice_1", l).await.unwrap();
    assert_eq!(row.max_vms, 5);
    let row2 = store
        .set_pool_limit("DEV_alice_1", Limits { max_vms: 6, ..l })
        .await
        .unwrap();
    assert_eq!(row2.id, row.id, "one row per pool");
    assert_eq!(row2.max_vms, 6);
    store.set_pool_limit("DEV_bob_1", l).await.unwrap();
    assert_eq!(store.pool_limits().await.unwrap().len(), 2);
    store.delete_pool_limit("DEV_bob_1").await.unwrap();
    assert!(store.pool_limit("DEV_bob_1").await.unwrap().is_none());
    assert!(matches!(
        store.delete_pool_limit("DEV_bob_1").await,
        Err(StoreError::NotFound)
    ));
}

async fn whiteboard(store: &Store) {
    assert!(store.whiteboard("default").await.unwrap().is_none());
    store
        .save_whiteboard("default", r#"[{"points":[]}]"#)
        .await
        .unwrap();
    store
        .save_whiteboard("default", r#"[{"points":[]}]"#)
        .await
        .unwrap();
    assert_eq!(
        store.whiteboard("default").await.unwrap().unwrap().elements,
        r#"[{"points":[]}]"#
    );
    // A large state (2 MiB) fits on both backends.
    let big = format!("[\"{}\"]", "x".repeat(2 * 1024 * 1024));
    store
        .save_whiteboard("pool:DEV_alice_1", &big)
        .await
        .unwrap();
    assert_eq!(
        store
            .whiteboard("pool:DEV_alice_1")
            .await
            .unwrap()
            .unwrap()
            .elements
            .len(),
        big.len()
    );
    store.clear_whiteboard("default").await.unwrap();
    assert_eq!(
        store.whiteboard("default").await.unwrap().unwrap().elements,
        "[]"
    );
}

async fn hardware_templates(store: &Store) {
    let now = now_ms();
    let t = HardwareTemplate {
        id: "template-webserver-default".into(),
        name: "Web Server".into(),
        description: String::new(),
        category: "prebuilt".into(),
        config: r#"{"cores":2,"memory":4096}"#.into(),
        owner: "system".into(),
        shared: true,
        created_at: now,
        updated_at: now,
    };
    store.insert_hardware_template(&t).await.unwrap();
    assert!(matches!(
        store.insert_hardware_template(&t).await,
        Err(StoreError::Conflict(_))
    ));
    let private = HardwareTemplate {
        id: "template-1".into(),
        owner: "alice".into(),
        shared: false,
        name: "Mine".into(),
        ..t.clone()
    };
    store.insert_hardware_template(&private).await.unwrap();
    assert_eq!(
        store
            .visible_hardware_templates("alice")
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store.visible_hardware_templates("bob").await.unwrap().len(),
        1
    );
    store
        .update_hardware_template(&HardwareTemplate {
            shared: true,
            ..private.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        store.visible_hardware_templates("bob").await.unwrap().len(),
        2
    );
    store.delete_hardware_template("template-1").await.unwrap();
    assert!(store
        .hardware_template("template-1")
        .await
        .unwrap()
        .is_none());
}

async fn cascades(store: &Store) {
    let u = store.create_user("frank", None).await.unwrap();
    let v = store.create_user("gina", None).await.unwrap();
    store.upsert_local_account(&u.id, "h", false).await.unwrap();
    let g = store.create_group("frank's", &u.id).await.unwrap();
    let m = store
        .insert_message(NewMessage {
            content: "x",
            sender_id: &u.id,
            receiver_id: Some(&v.id),
            ..Default::default()
        })
        .await
        .unwrap();
    let reply = store
        .insert_message(NewMessage {
            content: "y",
            sender_id: &v.id,
            receiver_id: Some(&v.id),
            reply_to_id: Some(&m.id),
            ..Default::default()
        })
        .await
        .unwrap();
    store.add_reaction(&v.id, &m.id, "👍").await.unwrap();
    store.block_user(&v.id, &u.id).await.unwrap();
    store.delete_user(&u.id).await.unwrap();
    assert!(store.local_account("frank").await.unwrap().is_none());
    assert!(
        store.message(&m.id).await.unwrap().is_none(),
        "messages go with their sender"
    );
    assert!(store.reactions(&m.id).await.unwrap().is_empty());
    assert!(!store.is_blocked(&v.id, &u.id).await.unwrap());
    assert!(!store.is_group_member(&g.id, &u.id).await.unwrap());
    let r = store.message(&reply.id).await.unwrap().unwrap();
    assert_eq!(
        r.reply_to_id, None,
        "a reply outlives the message it answered"
    );
}

#[tokio::test]
async fn store_suite_on_sqlite() {
    let store = sqlite_store().await;
    suite(&store).await;
    store.close().await;
}

#[tokio::test]
async fn store_suite_on_mariadb() {
    let (store, url) = mysql_store().await;
    suite(&store).await;
    store.close().await;
    drop_mysql_database(&url).await;
}

#[tokio::test]
async fn both_backends_have_the_same_tables() {
    let sqlite = sqlite_store().await;
    let (mysql, url) = mysql_store().await;
    assert_eq!(
        sqlite.table_names().await.unwrap(),
        mysql.table_names().await.unwrap()
    );
    mysql.close().await;
    drop_mysql_database(&url).await;
}
