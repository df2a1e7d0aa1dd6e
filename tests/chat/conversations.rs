//! Conversations: direct messages, groups reaching exactly their members, the public channel,
//! blocking and chat settings.

use super::*;

on_both!(
    direct_messages_end_to_end,
    groups_reach_exactly_their_members,
    the_public_channel_reaches_everyone,
    blocking_and_settings_hold,
    attachments_are_the_senders_own_uploads,
);

async fn direct_messages_end_to_end(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;

    // Sent right after connect, with markup to sanitize.
    let a = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "hi <b>bob</b><script>alert(1)</script> <a href=\"javascript:x\">x</a> <a href=\"https://example.com\">link</a>" }),
    )
    .await;
    let msg = ok(&a)["message"].clone();
    let id = msg["id"].as_str().unwrap().to_owned();
    let content = msg["content"].as_str().unwrap();
    assert!(content.starts_with("hi <b>bob</b>"), "{content}");
    assert!(
        !content.contains("script") && !content.contains("javascript"),
        "{content}"
    );
    assert!(
        content.contains("rel=\"noopener noreferrer nofollow\""),
        "{content}"
    );
    assert_eq!(msg["sender"]["username"], "alice");
    assert_eq!(msg["receiver"]["username"], "bob");
    assert!(msg["sender"].get("settings").is_none(), "no private fields");
    let sent = alice.sock.wait_event("message_sent", T).await.unwrap();
    assert_eq!(sent["id"], id.as_str());
    let got = bob.sock.wait_event("new_message", T).await.unwrap();
    assert_eq!(got["id"], id.as_str());
    assert_eq!(got["delivered"], true, "bob was online");
    assert!(carol.sock.wait_event("new_message", QUIET).await.is_none());

    // Reactions toggle and reach both parties only.
    let r = ack(
        &bob,
        "add_reaction",
        json!({ "messageId": id, "emoji": "👍" }),
    )
    .await;
    assert_eq!(ok(&r)["added"], true);
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        assert_eq!(upd["reactions"][0]["emoji"], "👍");
        assert_eq!(upd["reactions"][0]["user"]["username"], "bob");
    }
    let r = ack(
        &bob,
        "add_reaction",
        json!({ "messageId": id, "emoji": "👍" }),
    )
    .await;
    assert_eq!(ok(&r)["added"], false);
    assert_eq!(
        alice.sock.wait_event("message_updated", T).await.unwrap()["reactions"],
        json!([])
    );
    let bad = ack(
        &bob,
        "add_reaction",
        json!({ "messageId": id, "emoji": "lol" }),
    )
    .await;
    assert_eq!(err_code(&bad), "invalid_input");
    let stranger = ack(
        &carol,
        "add_reaction",
        json!({ "messageId": id, "emoji": "🎉" }),
    )
    .await;
    assert_eq!(
        err_code(&stranger),
        "forbidden",
        "carol is not in that conversation"
    );

    // Only the author edits; the edit reaches both.
    let e = ack(
        &bob,
        "edit_message",
        json!({ "messageId": id, "content": "hacked" }),
    )
    .await;
    assert_eq!(err_code(&e), "forbidden");
    assert_eq!(e["error"]["message"], "Unauthorized edit");
    wait_where(&bob.sock, "error", |e| e["message"] == "Unauthorized edit").await;
    let e = ack(
        &alice,
        "edit_message",
        json!({ "messageId": id, "content": "hi bob (edited)" }),
    )
    .await;
    assert_eq!(ok(&e)["message"]["content"], "hi bob (edited)");
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        assert!(upd["editedAt"].is_string());
    }

    // Typing and read receipts.
    ok(&ack(&alice, "typing", json!({ "to": "bob", "isTyping": true })).await);
    let t = bob.sock.wait_event("user_typing", T).await.unwrap();
    assert_eq!(t, json!({ "from": "alice", "isTyping": true }));
    assert!(carol.sock.wait_event("user_typing", QUIET).await.is_none());
    let (_, recent) = json_get(&bob, "/api/chat/recent").await;
    assert_eq!(recent[0]["username"], "alice");
    assert_eq!(recent[0]["unreadCount"], 1);
    let read = ack(&bob, "mark_read", json!({ "senderId": alice.id })).await;
    assert_eq!(ok(&read)["count"], 1);
    let receipt = alice.sock.wait_event("messages_read", T).await.unwrap();
    assert_eq!(receipt["by"], "bob");
    let (_, recent) = json_get(&bob, "/api/chat/recent").await;
    assert_eq!(recent[0]["unreadCount"], 0);

    // A reply, then a soft delete that carries deletedAt.
    let reply = ack(
        &bob,
        "send_message",
        json!({ "to": "alice", "content": "yes?", "replyToId": id }),
    )
    .await;
    assert_eq!(ok(&reply)["message"]["replyTo"]["id"], id.as_str());
    let d = ack(&bob, "delete_message", json!({ "messageId": id })).await;
    assert_eq!(err_code(&d), "forbidden");
    assert_eq!(d["error"]["message"], "Unauthorized delete");
    ok(&ack(&alice, "delete_message", json!({ "messageId": id })).await);
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        if upd["id"] == id.as_str() {
            assert!(upd["deletedAt"].is_string(), "{upd}");
            assert_eq!(upd["content"], "This message was deleted.");
        }
    }
    assert!(carol
        .sock
        .wait_event("message_updated", QUIET)
        .await
        .is_none());

    // Validation.
    let empty = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "" }),
    )
    .await;
    assert_eq!(err_code(&empty), "invalid_input");
    let long = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "x".repeat(5001) }),
    )
    .await;
    assert_eq!(err_code(&long), "invalid_input");
    let nobody = ack(
        &alice,
        "send_message",
        json!({ "to": "nobody", "content": "?" }),
    )
    .await;
    assert_eq!(err_code(&nobody), "not_found");
    let wrong = ack(&alice, "send_message", json!({ "content": 5 })).await;
    assert_eq!(err_code(&wrong), "invalid_input");

    // History with a cursor, oldest first.
    for i in 0..5 {
        ok(&ack(
            &alice,
            "send_message",
            json!({ "to": "bob", "content": format!("n{i}") }),
        )
        .await);
    }
    let resp = bob
        .browser
        .get("/api/chat/history?username=alice&limit=3")
        .await;
    let before = resp.headers()["x-next-before"].to_str().unwrap().to_owned();
    let page: Value = resp.json().await.unwrap();
    let texts: Vec<&str> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["n2", "n3", "n4"]);
    let (_, older) = json_get(
        &bob,
        &format!("/api/chat/history?username=alice&limit=10&before={before}"),
    )
    .await;
    let older: Vec<&str> = older
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(older, ["This message was deleted.", "yes?", "n0", "n1"]);
    let (status, _) = json_get(&bob, "/api/chat/history").await;
    assert_eq!(status, 400);

    app.flush_audit().await;
    let rows = app
        .state
        .store
        .list_audit(&uma::store::audit::AuditFilter::default(), 1000, 0)
        .await
        .unwrap();
    let count = |a: &str| {
        rows.iter()
            .filter(|r| r.action == a && r.status == "SUCCESS")
            .count()
    };
    assert!(count("CHAT_MESSAGE_SEND") >= 7);
    assert_eq!(count("CHAT_MESSAGE_REACTION"), 2);
    assert!(count("SOCKET_CONNECT") >= 3);
    app.stop().await.unwrap();
}

async fn groups_reach_exactly_their_members(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;

    let (_, found) = json_get(&alice, "/api/users/search?q=bo").await;
    assert_eq!(found[0]["username"], "bob");
    let (status, g) = json_send(
        &alice,
        reqwest::Method::POST,
        "/api/groups",
        json!({ "name": "ops team", "memberIds": [bob.id] }),
    )
    .await;
    assert_eq!(status, 200, "{g}");
    let gid = g["id"].as_str().unwrap().to_owned();
    assert_eq!(g["members"].as_array().unwrap().len(), 2);
    assert_eq!(g["isAdmin"], true);
    assert!(bob.sock.wait_event("group_updated", T).await.is_some());

    let m = ack(
        &alice,
        "send_message",
        json!({ "groupId": gid, "content": "standup?" }),
    )
    .await;
    let mid = ok(&m)["message"]["id"].as_str().unwrap().to_owned();
    let got = bob.sock.wait_event("new_message", T).await.unwrap();
    assert_eq!(got["group"]["name"], "ops team");
    assert!(carol.sock.wait_event("new_message", QUIET).await.is_none());

    // A non-member is refused by event and by API.
    let c = ack(
        &carol,
        "send_message",
        json!({ "groupId": gid, "content": "let me in" }),
    )
    .await;
    assert_eq!(err_code(&c), "forbidden");
    assert_eq!(c["error"]["message"], "You are not a member of this group.");
    assert_eq!(
        err_code(&ack(&carol, "join_group", json!(gid)).await),
        "forbidden"
    );
    assert_eq!(
        err_code(
            &ack(
                &carol,
                "typing",
                json!({ "groupId": gid, "isTyping": true })
            )
            .await
        ),
        "forbidden"
    );
    assert_eq!(
        err_code(
            &ack(
                &carol,
                "add_reaction",
                json!({ "messageId": mid, "emoji": "👀" })
            )
            .await
        ),
        "forbidden"
    );
    let (s, _) = json_get(&carol, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(s, 403);
    let (s, _) = json_get(&carol, &format!("/api/groups/{gid}")).await;
    assert_eq!(s, 403);
    let (s, _) = json_send(
        &carol,
        reqwest::Method::PATCH,
        &format!("/api/groups/{gid}"),
        json!({ "name": "mine" }),
    )
    .await;
    assert_eq!(s, 403);
    ok(&ack(&bob, "join_group", json!(gid)).await);

    // Reactions and edits on group messages reach the members (the original dropped them).
    ok(&ack(
        &bob,
        "add_reaction",
        json!({ "messageId": mid, "emoji": "✅" }),
    )
    .await);
    for u in [&alice, &bob] {
        let upd = u.sock.wait_event("message_updated", T).await.unwrap();
        assert_eq!(upd["reactions"][0]["emoji"], "✅");
    }
    ok(&ack(
        &alice,
        "edit_message",
        json!({ "messageId": mid, "content": "standup at 10" }),
    )
    .await);
    assert_eq!(
        bob.sock.wait_event("message_updated", T).await.unwrap()["content"],
        "standup at 10"
    );
    assert!(carol
        .sock
        .wait_event("message_updated", QUIET)
        .await
        .is_none());
    ok(&ack(&bob, "typing", json!({ "groupId": gid, "isTyping": true })).await);
    let t = alice.sock.wait_event("user_typing", T).await.unwrap();
    assert_eq!(t["groupId"], gid.as_str());

    // Membership changes take effect at once: carol in, bob out.
    let (s, body) = json_send(
        &bob,
        reqwest::Method::PATCH,
        &format!("/api/groups/{gid}"),
        json!({ "name": "bob's now" }),
    )
    .await;
    assert_eq!(s, 403, "only group admins: {body}");
    let (s, body) = json_send(
        &alice,
        reqwest::Method::PATCH,
        &format!("/api/groups/{gid}"),
        json!({ "name": "ops", "addMemberIds": [carol.id], "removeMemberIds": [bob.id] }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert!(bob.sock.wait_event("group_removed", T).await.is_some());
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": gid, "content": "welcome carol" }),
    )
    .await);
    wait_where(&carol.sock, "new_message", |m| {
        m["content"] == "welcome carol"
    })
    .await;
    assert!(bob.sock.wait_event("new_message", QUIET).await.is_none());
    let b = ack(
        &bob,
        "send_message",
        json!({ "groupId": gid, "content": "hello?" }),
    )
    .await;
    assert_eq!(err_code(&b), "forbidden");
    let (s, _) = json_get(&bob, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(s, 403);

    // Lists, unread counts and read marks.
    let (_, groups) = json_get(&carol, "/api/groups").await;
    let ops = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == gid.as_str())
        .unwrap();
    assert_eq!(ops["name"], "ops");
    assert_eq!(ops["unreadCount"], 2);
    assert_eq!(ops["lastMessage"]["content"], "welcome carol");
    let read = ack(&carol, "mark_read", json!({ "groupId": gid })).await;
    assert!(ok(&read)["upToSeq"].as_i64().unwrap() > 0);
    assert_eq!(
        alice.sock.wait_event("messages_read", T).await.unwrap()["by"],
        "carol"
    );
    let (_, groups) = json_get(&carol, "/api/groups").await;
    let ops = groups
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == gid.as_str())
        .unwrap();
    assert_eq!(ops["unreadCount"], 0);
    let (s, hist) = json_get(&carol, &format!("/api/chat/history/group?groupId={gid}")).await;
    assert_eq!(s, 200);
    assert_eq!(hist.as_array().unwrap().len(), 2);
    assert_eq!(hist[0]["reactions"][0]["emoji"], "✅");

    // A member leaves by themself.
    let (s, _) = json_send(
        &carol,
        reqwest::Method::DELETE,
        &format!("/api/groups/{gid}/members/{}", carol.id),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        err_code(
            &ack(
                &carol,
                "send_message",
                json!({ "groupId": gid, "content": "bye" })
            )
            .await
        ),
        "forbidden"
    );
    app.stop().await.unwrap();
}

async fn the_public_channel_reaches_everyone(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let general = general_id(&app, &[&alice, &bob, &carol]).await;
    let (_, pc) = json_get(&carol, "/api/chat/public-channel").await;
    assert_eq!(pc["channelId"], general.as_str());
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": general, "content": "hello all" }),
    )
    .await);
    for u in [&alice, &bob, &carol] {
        let m = u.sock.wait_event("new_message", T).await.unwrap();
        assert_eq!(m["content"], "hello all");
        assert_eq!(m["group"]["name"], "General");
    }
    // Presence: a second tab of bob makes no new "online"; closing one of two keeps him online.
    let online = ack(&carol, "get_online_users", Value::Null).await;
    assert_eq!(ok(&online)["users"], json!(["alice", "bob", "carol"]));
    let (_, renamed) = json_send(
        &alice,
        reqwest::Method::PATCH,
        &format!("/api/groups/{general}"),
        json!({ "name": "Mine" }),
    )
    .await;
    assert_eq!(renamed["error"]["code"], "forbidden", "{renamed}");
    app.stop().await.unwrap();
}

async fn blocking_and_settings_hold(db: Db) {
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let carol = user(&app, "carol", false).await;
    let general = general_id(&app, &[&alice, &bob, &carol]).await;

    let (s, _) = json_send(
        &bob,
        reqwest::Method::POST,
        "/api/chat/blocks",
        json!({ "username": "alice" }),
    )
    .await;
    assert_eq!(s, 200);
    let (_, blocks) = json_get(&bob, "/api/chat/blocks").await;
    assert_eq!(blocks[0]["username"], "alice");
    let dm = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "hey" }),
    )
    .await;
    assert_eq!(err_code(&dm), "forbidden");
    assert_eq!(dm["error"]["message"], "You cannot message this user.");
    ok(&ack(&alice, "typing", json!({ "to": "bob", "isTyping": true })).await);
    assert!(bob.sock.wait_event("user_typing", QUIET).await.is_none());

    // In the public channel bob stops seeing alice; carol still does.
    ok(&ack(
        &alice,
        "send_message",
        json!({ "groupId": general, "content": "from alice" }),
    )
    .await);
    assert_eq!(
        carol.sock.wait_event("new_message", T).await.unwrap()["content"],
        "from alice"
    );
    assert!(bob.sock.wait_event("new_message", QUIET).await.is_none());
    let (_, hist) = json_get(&bob, &format!("/api/chat/history/group?groupId={general}")).await;
    assert!(hist
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["sender"]["username"] != "alice"));
    let (_, hist) = json_get(
        &carol,
        &format!("/api/chat/history/group?groupId={general}"),
    )
    .await;
    assert_eq!(hist.as_array().unwrap().len(), 1);

    // Bob can still write to alice; unblocking restores her messages.
    ok(&ack(
        &bob,
        "send_message",
        json!({ "to": "alice", "content": "one way" }),
    )
    .await);
    let (s, _) = json_send(
        &bob,
        reqwest::Method::DELETE,
        "/api/chat/blocks/alice",
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    ok(&ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "friends again" }),
    )
    .await);
    wait_where(&bob.sock, "new_message", |m| {
        m["content"] == "friends again"
    })
    .await;

    // Settings: nobody may send carol direct messages; hidden users are not listed online.
    let (s, body) = json_send(
        &carol,
        reqwest::Method::PUT,
        "/api/chat/settings",
        json!({ "allowMessagesFrom": "none", "showOnlineStatus": false }),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["settings"]["allowMessagesFrom"], "none");
    let refused = ack(
        &alice,
        "send_message",
        json!({ "to": "carol", "content": "?" }),
    )
    .await;
    assert_eq!(
        refused["error"]["message"],
        "User is not accepting messages."
    );
    let online = ack(&alice, "get_online_users", Value::Null).await;
    assert_eq!(ok(&online)["users"], json!(["alice", "bob"]));
    let (s, _) = json_send(
        &carol,
        reqwest::Method::PUT,
        "/api/chat/settings",
        json!({ "bogus": 1 }),
    )
    .await;
    assert_eq!(s, 400);
    app.stop().await.unwrap();
}

async fn attachments_are_the_senders_own_uploads(db: Db) {
    use crate::support::browser::Part;
    let app = app_on(db, &[]).await;
    let alice = user(&app, "alice", false).await;
    let bob = user(&app, "bob", false).await;
    let mallory = user(&app, "mallory", false).await;
    let png = crate::uploads::png();
    let up = alice
        .browser
        .post_multipart(
            "/api/upload",
            Some(&alice.csrf),
            &[Part::file("screen.png", "image/png", &png)],
        )
        .await;
    assert_eq!(up.status(), 200);
    let up: Value = up.json().await.unwrap();
    let up_id = up["id"].as_str().unwrap().to_owned();

    // A picture with no text.
    let a = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "", "attachments": [up_id] }),
    )
    .await;
    let msg = ok(&a)["message"].clone();
    let attached = &msg["metadata"]["attachments"];
    assert_eq!(attached.as_array().map(Vec::len), Some(1), "{msg}");
    assert_eq!(attached[0]["url"], up["url"]);
    assert_eq!(attached[0]["name"], "screen.png");
    assert_eq!(attached[0]["contentType"], "image/png");
    let got = wait_where(&bob.sock, "new_message", |m| m["id"] == msg["id"]).await;
    assert_eq!(got["metadata"]["attachments"][0]["url"], up["url"]);
    // Bob sees the picture; so does the history.
    assert_eq!(
        bob.browser.get(up["url"].as_str().unwrap()).await.status(),
        200
    );
    let (_, history) = json_get(&bob, "/api/chat/history?username=alice").await;
    let text = history.to_string();
    assert!(text.contains(up["url"].as_str().unwrap()), "{text}");

    // Nobody attaches someone else's upload, or too many, or nothing at all.
    for (body, why) in [
        (
            json!({ "to": "bob", "content": "look", "attachments": [up_id] }),
            "attachments",
        ),
        (
            json!({ "to": "bob", "content": "look", "attachments": ["no-such-upload"] }),
            "attachments",
        ),
        (
            json!({ "to": "bob", "content": "", "attachments": [] }),
            "content",
        ),
    ] {
        let r = ack(&mallory, "send_message", body.clone()).await;
        assert_eq!(err_code(&r), "invalid_input", "{body}: {r}");
        assert_eq!(r["error"]["field"], why, "{body}: {r}");
    }
    let many: Vec<String> = (0..11).map(|_| up_id.clone()).collect();
    let r = ack(
        &alice,
        "send_message",
        json!({ "to": "bob", "content": "x", "attachments": many }),
    )
    .await;
    assert_eq!(r["error"]["field"], "attachments", "{r}");

    // A deleted message keeps no attachment.
    let id = msg["id"].as_str().unwrap();
    let d = ack(&alice, "delete_message", json!({ "messageId": id })).await;
    ok(&d);
    let stored = app.state.store.message(id).await.unwrap().unwrap();
    assert_eq!(stored.metadata, None);
}
