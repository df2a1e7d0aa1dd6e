//! Managing a group: strangers and plain members change nothing, bad input is named, admins
//! rename, add, remove, promote and demote, the last admin stays until another is named, and a
//! deleted group is gone for everyone (its history, its id, its room) at once.

use reqwest::Method;

use super::*;

on_both!(
    strangers_and_plain_members_change_nothing,
    bad_group_input_is_named,
    admins_manage_members_and_the_last_admin_stays,
    a_deleted_group_is_gone_for_everyone,
);

/// Alice's group with bob (and whoever else is given).
async fn group_of(alice: &User, name: &str, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|u| u.id.as_str()).collect();
    let (s, g) = json_send(
        alice,
        Method::POST,
        "/api/groups",
        json!({ "name": name, "memberIds": ids }),
    )
    .await;
    assert_eq!(s, 200, "{g}");
    g["id"].as_str().unwrap().to_owned()
}

/// The group as the store has it: name, members and admins by id, sorted.
async fn state_of(app: &TestApp, gid: &str) -> (String, Vec<String>, Vec<String>) {
    let store = &app.state.store;
    (
        store.group(gid).await.unwrap().unwrap().name,
        store.group_member_ids(gid).await.unwrap(),
        store.group_admin_ids(gid).await.unwrap(),
    )
}

fn role_of(group: &Value, user: &User) -> String {
    group["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == user.id.as_str())
        .map(|m| m["role"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| "none".into())
}

async fn strangers_and_plain_members_change_nothing(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let mallory = user(&app, "mallory", false).await;
    let gid = group_of(&alice, "ops", &[&bob]).await;
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": gid, "content": "the plan" }),
    )
    .await);
    let before = state_of(&app, &gid).await;

    // Mallory, no member: can't read, rename, delete, or change who is in it (herself included).
    let g = format!("/api/groups/{gid}");
    let attempts = [
        (Method::PATCH, g.clone(), json!({ "name": "mallory's" })),
        (
            Method::PATCH,
            g.clone(),
            json!({ "addMemberIds": [mallory.id] }),
        ),
        (
            Method::PATCH,
            g.clone(),
            json!({ "addAdminIds": [mallory.id] }),
        ),
        (
            Method::PATCH,
            g.clone(),
            json!({ "removeMemberIds": [bob.id] }),
        ),
        (Method::DELETE, g.clone(), json!({})),
        (Method::DELETE, format!("{g}/members/{}", bob.id), json!({})),
        (
            Method::DELETE,
            format!("{g}/members/{}", mallory.id),
            json!({}),
        ),
    ];
    for (method, path, body) in &attempts {
        let (s, r) = json_send(&mallory, method.clone(), path, body.clone()).await;
        assert_eq!(s, 403, "mallory {method} {path} {body}: {r}");
        assert_eq!(r["error"]["code"], "forbidden");
    }
    let (s, _) = json_get(&mallory, &g).await;
    assert_eq!(s, 403);
    let (s, _) = json_get(&mallory, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(s, 403);
    // Who is a member is not hers to learn either: the same answer for nobody at all.
    let (s, _) = json_send(
        &mallory,
        Method::DELETE,
        &format!("{g}/members/no-such-user"),
        json!({}),
    )
    .await;
    assert_eq!(s, 403);

    // Bob, a plain member: can't rename, delete, promote himself, or remove alice.
    for (method, path, body) in [
        (Method::PATCH, g.clone(), json!({ "name": "bob's" })),
        (Method::PATCH, g.clone(), json!({ "addAdminIds": [bob.id] })),
        (
            Method::PATCH,
            g.clone(),
            json!({ "removeMemberIds": [alice.id] }),
        ),
        (
            Method::PATCH,
            g.clone(),
            json!({ "addMemberIds": [mallory.id] }),
        ),
        (Method::DELETE, g.clone(), json!({})),
        (
            Method::DELETE,
            format!("{g}/members/{}", alice.id),
            json!({}),
        ),
    ] {
        let (s, r) = json_send(&bob, method.clone(), &path, body.clone()).await;
        assert_eq!(s, 403, "bob {method} {path} {body}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Only group admins can"),
            "{r}"
        );
    }
    // He may read it, and sees who runs it.
    let (s, seen) = json_get(&bob, &g).await;
    assert_eq!(s, 200);
    assert_eq!(seen["isAdmin"], false);
    assert_eq!(role_of(&seen, &alice), "admin");
    assert_eq!(role_of(&seen, &bob), "member");

    assert_eq!(state_of(&app, &gid).await, before, "nothing changed");
    let (_, hist) = json_get(&alice, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(hist.as_array().unwrap().len(), 1);
    let deletes = app.audit_rows("GROUP_DELETE").await;
    let updates = app.audit_rows("GROUP_UPDATE").await;
    let refused = |rows: &[uma::store::audit::AuditRow], who: &str| {
        rows.iter()
            .filter(|r| r.username == who && r.status == "FAILURE")
            .count()
    };
    assert_eq!(refused(&deletes, "mallory"), 1);
    assert_eq!(refused(&deletes, "bob"), 1);
    assert!(refused(&updates, "mallory") >= 6);
    assert!(refused(&updates, "bob") >= 4);
    app.stop().await.unwrap();
}

async fn bad_group_input_is_named(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let gid = group_of(&alice, "ops", &[&bob]).await;
    let g = format!("/api/groups/{gid}");
    let before = state_of(&app, &gid).await;

    for (body, field) in [
        (json!({ "name": "" }), "name"),
        (json!({ "name": "   " }), "name"),
        (json!({ "name": "x".repeat(101) }), "name"),
        (json!({ "name": "tab\there" }), "name"),
        (json!({ "name": "General" }), "name"),
        (json!({ "addMemberIds": ["no-such-user"] }), "addMemberIds"),
        (
            json!({ "removeMemberIds": ["no-such-user"] }),
            "removeMemberIds",
        ),
        (json!({ "removeMemberIds": [carol.id] }), "removeMemberIds"),
        (json!({ "addAdminIds": [carol.id] }), "addAdminIds"),
        (json!({ "addAdminIds": ["no-such-user"] }), "addAdminIds"),
        (
            json!({ "removeAdminIds": ["no-such-user"] }),
            "removeAdminIds",
        ),
        // Checked whole: a good name does not go through with a bad admin.
        (
            json!({ "name": "renamed", "addAdminIds": [carol.id] }),
            "addAdminIds",
        ),
    ] {
        let (s, r) = json_send(&alice, Method::PATCH, &g, body.clone()).await;
        assert_eq!(s, 400, "{body}: {r}");
        assert_eq!(r["error"]["code"], "invalid_input", "{body}: {r}");
        assert_eq!(r["error"]["field"], field, "{body}: {r}");
        assert!(
            r["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}: ")),
            "{r}"
        );
    }
    let (s, r) = json_send(&alice, Method::PATCH, &g, json!({ "colour": "red" })).await;
    assert_eq!(s, 400, "unknown fields are refused: {r}");
    assert_eq!(state_of(&app, &gid).await, before, "nothing was applied");

    // Names are trimmed; 100 characters are fine.
    let long = "é".repeat(100);
    let (s, r) = json_send(
        &alice,
        Method::PATCH,
        &g,
        json!({ "name": format!(" {long} ") }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["name"], long.as_str());

    // Creating names the field too.
    let (s, r) = json_send(&alice, Method::POST, "/api/groups", json!({ "name": " " })).await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("name")),
        "{r}"
    );
    let (s, r) = json_send(
        &alice,
        Method::POST,
        "/api/groups",
        json!({ "name": "x", "memberIds": ["nobody"] }),
    )
    .await;
    assert_eq!(
        (s, r["error"]["field"].as_str()),
        (400, Some("memberIds")),
        "{r}"
    );

    // Unknown groups and members are 404s.
    let nope = "/api/groups/no-such-group";
    let (s, _) = json_get(&alice, nope).await;
    assert_eq!(s, 404);
    for (method, path) in [
        (Method::PATCH, nope.to_owned()),
        (Method::DELETE, nope.to_owned()),
        (Method::DELETE, format!("{nope}/members/{}", alice.id)),
        (Method::DELETE, format!("{g}/members/{}", carol.id)),
        (Method::DELETE, format!("{g}/members/no-such-user")),
    ] {
        let (s, r) = json_send(&alice, method.clone(), &path, json!({ "name": "x" })).await;
        assert_eq!(s, 404, "{method} {path}: {r}");
        assert_eq!(r["error"]["code"], "not_found");
    }
    let (s, _) = json_get(&alice, "/api/chat/history/group?groupId=no-such-group").await;
    assert_eq!(s, 404);
    app.stop().await.unwrap();
}

async fn admins_manage_members_and_the_last_admin_stays(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let dave = user(&app, "dave", false).await;
    let gid = group_of(&alice, "ops", &[&bob]).await;
    let g = format!("/api/groups/{gid}");

    // Alice adds carol and dave and makes bob an admin in one change.
    let (s, r) = json_send(
        &alice,
        Method::PATCH,
        &g,
        json!({ "addMemberIds": [carol.id, dave.id], "addAdminIds": [bob.id] }),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["members"].as_array().unwrap().len(), 4);
    assert_eq!(role_of(&r, &bob), "admin");
    assert_eq!(role_of(&r, &carol), "member");
    wait_where(&carol.sock, "group_updated", |e| {
        e["groupId"] == gid.as_str()
    })
    .await;

    // Bob, now an admin, renames it and removes dave; dave hears it, the others see the change.
    let (s, r) = json_send(&bob, Method::PATCH, &g, json!({ "name": "ops crew" })).await;
    assert_eq!((s, r["name"].as_str()), (200, Some("ops crew")), "{r}");
    let (s, r) = json_send(
        &bob,
        Method::DELETE,
        &format!("{g}/members/{}", dave.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let gone = wait_where(&dave.sock, "group_removed", |e| {
        e["groupId"] == gid.as_str()
    })
    .await;
    assert_eq!(gone["name"], "ops crew");
    assert_eq!(gone.get("deleted"), None);
    assert_eq!(gone["by"], "bob");
    let (s, _) = json_get(&dave, &g).await;
    assert_eq!(s, 403);

    // Alice demotes bob: she is the only admin again.
    let (s, r) = json_send(
        &alice,
        Method::PATCH,
        &g,
        json!({ "removeAdminIds": [bob.id] }),
    )
    .await;
    assert_eq!((s, role_of(&r, &bob)), (200, "member".into()), "{r}");

    // The last admin can't step down, remove herself or leave.
    for (body, field) in [
        (json!({ "removeAdminIds": [alice.id] }), "removeAdminIds"),
        (json!({ "removeMemberIds": [alice.id] }), "removeMemberIds"),
        (
            json!({ "removeMemberIds": [alice.id, bob.id, carol.id] }),
            "removeMemberIds",
        ),
    ] {
        let (s, r) = json_send(&alice, Method::PATCH, &g, body.clone()).await;
        assert_eq!(s, 400, "{body}: {r}");
        assert_eq!(r["error"]["field"], field, "{body}: {r}");
    }
    let leave = format!("{g}/members/{}", alice.id);
    let (s, r) = json_send(&alice, Method::DELETE, &leave, json!({})).await;
    assert_eq!(s, 409, "{r}");
    assert_eq!(r["error"]["code"], "conflict");
    assert_eq!(
        r["error"]["message"],
        "You are this group's only admin: make another member an admin before you leave, or delete the group."
    );
    assert!(store_is_admin(&app, &gid, &alice).await);

    // A plain member leaves by themself.
    let (s, _) = json_send(
        &bob,
        Method::DELETE,
        &format!("{g}/members/{}", bob.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    wait_where(&bob.sock, "group_removed", |e| e["groupId"] == gid.as_str()).await;
    let (s, _) = json_get(&bob, &g).await;
    assert_eq!(s, 403);

    // With carol made an admin, alice may leave; carol, alone then, may not.
    let (s, _) = json_send(
        &alice,
        Method::PATCH,
        &g,
        json!({ "addAdminIds": [carol.id] }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, r) = json_send(&alice, Method::DELETE, &leave, json!({})).await;
    assert_eq!(s, 200, "{r}");
    wait_where(&alice.sock, "group_removed", |e| {
        e["groupId"] == gid.as_str()
    })
    .await;
    let (s, r) = json_send(
        &carol,
        Method::DELETE,
        &format!("{g}/members/{}", carol.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 409, "{r}");
    assert_eq!(
        r["error"]["message"],
        "You are the last member of this group: delete it instead of leaving."
    );
    let (name, members, admins) = state_of(&app, &gid).await;
    assert_eq!(
        (name.as_str(), members, admins),
        ("ops crew", vec![carol.id.clone()], vec![carol.id.clone()])
    );

    // Everyone stays in the public channel, and it keeps its name.
    let general = general_id(&app, &[&alice]).await;
    let (s, _) = json_send(
        &alice,
        Method::DELETE,
        &format!("/api/groups/{general}/members/{}", alice.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 403);

    app.flush_audit().await;
    let rows = app.audit_rows("GROUP_UPDATE").await;
    assert!(rows
        .iter()
        .any(|r| r.username == "bob" && r.status == "SUCCESS" && r.details.contains("\"left\"")));
    assert!(rows.iter().any(|r| r.username == "alice"
        && r.status == "FAILURE"
        && r.details.contains("only admin")));
    app.stop().await.unwrap();
}

async fn store_is_admin(app: &TestApp, gid: &str, u: &User) -> bool {
    app.state.store.is_group_admin(gid, &u.id).await.unwrap()
}

async fn a_deleted_group_is_gone_for_everyone(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let gid = group_of(&alice, "short-lived", &[&bob]).await;
    let g = format!("/api/groups/{gid}");

    // A conversation with a reply, a reaction and a read mark.
    let first = ack(
        &alice,
        "send_message",
        json!({ "groupId": gid, "content": "first" }),
    )
    .await;
    let first = ok(&first)["message"]["id"].as_str().unwrap().to_owned();
    let reply = ack(
        &bob,
        "send_message",
        json!({ "groupId": gid, "content": "a reply", "replyToId": first }),
    )
    .await;
    let reply = ok(&reply)["message"]["id"].as_str().unwrap().to_owned();
    ok(&ack(
        &alice,
        "add_reaction",
        json!({ "messageId": first, "emoji": "👍" }),
    )
    .await);
    ok(&ack(&bob, "mark_read", json!({ "groupId": gid })).await);
    let rooms = &app.state.chat.rooms;
    let running = rooms.stats().await.unwrap().running;

    // Bob, a member, may not delete it; alice, its admin, does.
    let (s, _) = json_send(&bob, Method::DELETE, &g, json!({})).await;
    assert_eq!(s, 403);
    let (s, r) = json_send(&alice, Method::DELETE, &g, json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["id"], gid.as_str());

    // Both members' windows learn it at once (alice's other tabs too); carol hears nothing.
    for u in [&alice, &bob] {
        let e = wait_where(&u.sock, "group_removed", |e| e["groupId"] == gid.as_str()).await;
        assert_eq!(e["deleted"], true);
        assert_eq!(e["by"], "alice");
        assert_eq!(e["name"], "short-lived");
    }
    assert!(carol
        .sock
        .wait_event("group_removed", QUIET)
        .await
        .is_none());

    // Its id answers 404 everywhere; its history and its messages are gone.
    for u in [&alice, &bob, &carol] {
        let (s, _) = json_get(u, &g).await;
        assert_eq!(s, 404);
        let (s, _) = json_get(u, &format!("/api/chat/history/group?groupId={gid}")).await;
        assert_eq!(s, 404);
        let (_, list) = json_get(u, "/api/groups").await;
        assert!(list
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["id"] != gid.as_str()));
    }
    for (method, body) in [
        (Method::PATCH, json!({ "name": "again" })),
        (Method::DELETE, json!({})),
    ] {
        let (s, _) = json_send(&alice, method, &g, body).await;
        assert_eq!(s, 404);
    }
    let sent = ack(
        &bob,
        "send_message",
        json!({ "groupId": gid, "content": "hello?" }),
    )
    .await;
    assert_eq!(err_code(&sent), "not_found");
    assert_eq!(
        err_code(&ack(&bob, "mark_read", json!({ "groupId": gid })).await),
        "not_found"
    );
    assert_eq!(
        err_code(
            &ack(
                &alice,
                "add_reaction",
                json!({ "messageId": first, "emoji": "🎉" })
            )
            .await
        ),
        "not_found"
    );
    let store = &app.state.store;
    for id in [&first, &reply] {
        assert!(store.message(id).await.unwrap().is_none());
    }
    assert!(store.reactions(&first).await.unwrap().is_empty());
    assert!(store.group_member_ids(&gid).await.unwrap().is_empty());
    // Its room stopped with it.
    wait_for(|| async { (rooms.stats().await.unwrap().running < running).then_some(()) }).await;

    // The public channel can't be deleted, not even by an admin of it.
    let general = general_id(&app, &[&alice]).await;
    store.add_group_admin(&general, &alice.id).await.unwrap();
    let (s, r) = json_send(
        &alice,
        Method::DELETE,
        &format!("/api/groups/{general}"),
        json!({}),
    )
    .await;
    assert_eq!(s, 403, "{r}");

    app.flush_audit().await;
    let rows = app.audit_rows("GROUP_DELETE").await;
    let done: Vec<_> = rows.iter().filter(|r| r.status == "SUCCESS").collect();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].username, "alice");
    assert_eq!(done[0].resource, format!("group:{gid}"));
    let details: Value = serde_json::from_str(&done[0].details).unwrap();
    assert_eq!(details["messageCount"], 2);
    assert_eq!(details["memberCount"], 2);
    assert_eq!(details["name"], "short-lived");
    app.stop().await.unwrap();
}
