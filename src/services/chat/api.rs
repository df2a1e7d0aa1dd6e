//! The chat REST services: history with cursors, recent conversations, the public channel,
//! groups and their members and admins, user search, blocks and settings.

use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::{json, Value};
use uma_actors::chat::RoomKey;
use uma_actors::emit::Emit;

use super::Chat;
use crate::push::room;
use uma_actors::presence::PresenceMsg;

use super::backend::{iso, messages_json, user_json};
use super::settings::{ChatSettings, SettingsPatch};
use super::{public_channel, user_of, PUBLIC_CHANNEL};
use crate::audit::AuditAction;
use crate::audit::Status;
use crate::auth::Caller;
use crate::error::{AppError, AppResult, ErrorCode};
use crate::store::auth::User;
use crate::store::chat::Group;

/// The shared budget of the chat routes that change something (settings, blocks, groups and
/// their members, joining the public channel): the original left them unlimited.
pub const CHANGE: &str = "api:chat-change";

/// Counts one call of a REST route (`api:<route>`); 429 with `Retry-After` when over, audited as
/// a `WARNING` of `action`.
pub async fn limit(
    chat: &Chat,
    caller: &Caller,
    route: &str,
    action: AuditAction,
) -> AppResult<()> {
    crate::services::api_budget(&chat.limits, &chat.audit, caller, route, action).await
}

/// A page of history: messages oldest first, and the cursor for the page before it.
#[derive(Debug)]
pub struct Page {
    /// Messages, oldest first.
    pub messages: Vec<Value>,
    /// Pass as `before` for older messages (`None`: this is the start).
    pub next_before: Option<i64>,
}

/// `?username=&limit=&before=` / `?groupId=&limit=&before=`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryQuery {
    /// The other user (direct history).
    #[serde(default)]
    pub username: Option<String>,
    /// The group (group history).
    #[serde(default)]
    pub group_id: Option<String>,
    /// Page size: 200 by default, 1–500.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Only messages with a smaller `seq` (the cursor).
    #[serde(default)]
    pub before: Option<i64>,
}

fn clamp(limit: Option<i64>, default: i64, max: i64) -> i64 {
    limit.unwrap_or(default).clamp(1, max)
}

async fn page(
    chat: &Chat,
    mut rows: Vec<crate::store::chat::Message>,
    limit: i64,
) -> AppResult<Page> {
    let full = i64::try_from(rows.len()).unwrap_or(0) >= limit;
    rows.reverse();
    let next_before = if full {
        rows.first().map(|m| m.seq)
    } else {
        None
    };
    Ok(Page {
        messages: messages_json(&chat.store, &rows).await?,
        next_before,
    })
}

/// Direct messages with `username`, newest page first, each page oldest first. Messages from a
/// user the caller blocks are left out.
pub async fn direct_history(chat: &Chat, caller: &Caller, q: HistoryQuery) -> AppResult<Page> {
    limit(
        chat,
        caller,
        "api:chat-history",
        AuditAction::ChatHistoryView,
    )
    .await?;
    let name = q
        .username
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::with_message(
                ErrorCode::InvalidInput,
                "Username query parameter is required",
            )
        })?;
    let me = user_of(chat, caller).await?;
    let other = chat
        .store
        .user_by_username(name)
        .await?
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "User not found"))?;
    let limit = clamp(q.limit, 200, 500);
    let mut rows = chat
        .store
        .direct_history(&me.id, &other.id, q.before, limit)
        .await?;
    if chat.store.is_blocked(&me.id, &other.id).await? {
        rows.retain(|m| m.sender_id == me.id);
    }
    let page = page(chat, rows, limit).await?;
    chat.audit.record(
        &caller.actor,
        AuditAction::ChatHistoryView,
        &format!("chat:direct:{name}"),
        Status::Success,
        json!({ "count": page.messages.len() }),
    );
    Ok(page)
}

fn group_denied() -> AppError {
    AppError::with_message(ErrorCode::Forbidden, "Group not found or access denied")
}

/// A group's messages (members only), with reactions.
pub async fn group_history(chat: &Chat, caller: &Caller, q: HistoryQuery) -> AppResult<Page> {
    limit(
        chat,
        caller,
        "api:chat-history",
        AuditAction::ChatGroupHistoryView,
    )
    .await?;
    let group_id = q
        .group_id
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::with_message(
                ErrorCode::InvalidInput,
                "groupId query parameter is required",
            )
        })?;
    let me = user_of(chat, caller).await?;
    let resource = format!("chat:group:{group_id}");
    if chat.store.group(group_id).await?.is_none() {
        // Deleted (or never was): its history is gone.
        let err = AppError::with_message(ErrorCode::NotFound, "Group not found");
        chat.audit.refused(
            &caller.actor,
            AuditAction::ChatGroupHistoryView,
            &resource,
            &err,
        );
        return Err(err);
    }
    if !chat.store.is_group_member(group_id, &me.id).await? {
        let err = group_denied();
        chat.audit.refused(
            &caller.actor,
            AuditAction::ChatGroupHistoryView,
            &resource,
            &err,
        );
        return Err(err);
    }
    let limit = clamp(q.limit, 200, 500);
    let rows = chat
        .store
        .group_history_for(group_id, &me.id, q.before, limit)
        .await?;
    let page = page(chat, rows, limit).await?;
    chat.audit.record(
        &caller.actor,
        AuditAction::ChatGroupHistoryView,
        &resource,
        Status::Success,
        json!({ "count": page.messages.len() }),
    );
    Ok(page)
}

/// `GET /api/chat/public-channel`.
pub async fn public_channel_id(chat: &Chat, caller: &Caller) -> AppResult<Value> {
    limit(
        chat,
        caller,
        "api:chat-public-channel",
        AuditAction::ChatPublicChannelView,
    )
    .await?;
    let g = chat
        .store
        .group_by_name(PUBLIC_CHANNEL)
        .await?
        .ok_or_else(|| {
            AppError::with_message(ErrorCode::NotFound, "Public channel not initialized")
        })?;
    chat.audit.record(
        &caller.actor,
        AuditAction::ChatPublicChannelView,
        &format!("chat:group:{}", g.id),
        Status::Success,
        json!({}),
    );
    Ok(json!({ "channelId": g.id }))
}

/// `POST /api/chat/public-channel`: creates it or joins the caller.
pub async fn join_public_channel(chat: &Chat, caller: &Caller) -> AppResult<Value> {
    limit(chat, caller, CHANGE, AuditAction::ChatPublicChannelJoin).await?;
    let me = user_of(chat, caller).await?;
    let g = public_channel(chat, &me).await?;
    chat.audit.record(
        &caller.actor,
        AuditAction::ChatPublicChannelJoin,
        &format!("chat:group:{}", g.id),
        Status::Success,
        json!({}),
    );
    Ok(json!({ "channelId": g.id }))
}

/// `GET /api/chat/recent`: one entry per direct-message counterpart, newest first.
pub async fn recent(chat: &Chat, caller: &Caller) -> AppResult<Value> {
    limit(chat, caller, "api:chat-recent", AuditAction::ChatRecentView).await?;
    let me = user_of(chat, caller).await?;
    let last = chat.store.recent_direct(&me.id, 100).await?;
    let unread: HashMap<String, i64> = chat
        .store
        .unread_direct_counts(&me.id)
        .await?
        .into_iter()
        .collect();
    let json = messages_json(&chat.store, &last).await?;
    let out: Vec<Value> = last
        .iter()
        .zip(json)
        .filter_map(|(m, j)| {
            let other = if m.sender_id == me.id {
                j["receiver"].clone()
            } else {
                j["sender"].clone()
            };
            let id = other["id"].as_str()?.to_owned();
            Some(json!({
                "id": id,
                "username": other["username"],
                "displayName": other["displayName"],
                "avatar": other["avatar"],
                "online": chat.online.is_online(other["username"].as_str().unwrap_or_default()),
                "lastMessage": j,
                "unreadCount": unread.get(&id).copied().unwrap_or(0),
            }))
        })
        .collect();
    chat.audit.record(
        &caller.actor,
        AuditAction::ChatRecentView,
        "chat:recent",
        Status::Success,
        json!({ "count": out.len() }),
    );
    Ok(Value::Array(out))
}

async fn group_json(chat: &Chat, g: &Group, me: &User) -> AppResult<Value> {
    let members = chat.store.group_members(&g.id).await?;
    let admins = chat.store.group_admin_ids(&g.id).await?;
    Ok(json!({
        "id": g.id,
        "name": g.name,
        "avatar": g.avatar,
        "type": "group",
        "public": g.name == PUBLIC_CHANNEL,
        "createdAt": iso(g.created_at),
        "updatedAt": iso(g.updated_at),
        "members": members
            .iter()
            .map(|u| {
                let mut v = user_json(u);
                v["role"] = json!(if admins.contains(&u.id) { "admin" } else { "member" });
                v
            })
            .collect::<Vec<_>>(),
        "admins": admins.iter().map(|id| json!({ "id": id })).collect::<Vec<_>>(),
        "isAdmin": admins.contains(&me.id),
    }))
}

/// `?limit=` of the group list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// 50 by default, 1–200.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `GET /api/groups`: the caller's groups, most recently active first, with the last message and
/// the unread count.
pub async fn list_groups(chat: &Chat, caller: &Caller, q: ListQuery) -> AppResult<Value> {
    limit(chat, caller, "api:groups", AuditAction::ViewGroups).await?;
    let me = user_of(chat, caller).await?;
    let mut groups = chat.store.groups_of_user(&me.id).await?;
    groups.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(a.name.cmp(&b.name)));
    groups.truncate(usize::try_from(clamp(q.limit, 50, 200)).unwrap_or(50));
    let last = chat.store.last_group_messages(&me.id).await?;
    let last_json = messages_json(&chat.store, &last).await?;
    let last: HashMap<String, Value> = last
        .iter()
        .zip(last_json)
        .filter_map(|(m, j)| Some((m.group_id.clone()?, j)))
        .collect();
    let unread: HashMap<String, i64> = chat
        .store
        .unread_group_counts(&me.id)
        .await?
        .into_iter()
        .collect();
    let mut out = Vec::with_capacity(groups.len());
    for g in &groups {
        let mut v = group_json(chat, g, &me).await?;
        v["lastMessage"] = last.get(&g.id).cloned().unwrap_or(Value::Null);
        v["unreadCount"] = json!(unread.get(&g.id).copied().unwrap_or(0));
        out.push(v);
    }
    chat.audit.record(
        &caller.actor,
        AuditAction::ViewGroups,
        "chat:groups",
        Status::Success,
        json!({ "count": out.len() }),
    );
    Ok(Value::Array(out))
}

/// A group the caller is a member of (404 when it does not exist, 403 when not a member).
async fn member_group(chat: &Chat, me: &User, id: &str) -> AppResult<Group> {
    let g = chat
        .store
        .group(id)
        .await?
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "Group not found"))?;
    if !chat.store.is_group_member(id, &me.id).await? {
        return Err(AppError::with_message(
            ErrorCode::Forbidden,
            "You are not a member of this group",
        ));
    }
    Ok(g)
}

/// A group the caller administers (404 unknown, 403 not a member or not an admin; `what` says
/// what only admins may do).
async fn admin_group(chat: &Chat, me: &User, id: &str, what: &str) -> AppResult<Group> {
    let g = member_group(chat, me, id).await?;
    if !chat.store.is_group_admin(id, &me.id).await? {
        return Err(AppError::with_message(
            ErrorCode::Forbidden,
            format!("Only group admins can {what}"),
        ));
    }
    Ok(g)
}

/// `GET /api/groups/{id}`.
pub async fn get_group(chat: &Chat, caller: &Caller, id: &str) -> AppResult<Value> {
    limit(chat, caller, "api:groups", AuditAction::GroupView).await?;
    let me = user_of(chat, caller).await?;
    let resource = format!("group:{id}");
    let g = match member_group(chat, &me, id).await {
        Ok(g) => g,
        Err(e) => {
            chat.audit
                .refused(&caller.actor, AuditAction::GroupView, &resource, &e);
            return Err(e);
        }
    };
    chat.audit.record(
        &caller.actor,
        AuditAction::GroupView,
        &resource,
        Status::Success,
        json!({}),
    );
    group_json(chat, &g, &me).await
}

/// `POST /api/groups` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateGroup {
    /// 1–100 characters.
    #[serde(default)]
    pub name: Option<String>,
    /// Members by user id.
    #[serde(default)]
    pub member_ids: Vec<String>,
}

/// Longest group name, in characters.
pub const MAX_GROUP_NAME_CHARS: usize = 100;

fn group_name(name: Option<&str>) -> AppResult<String> {
    let name = name.map(str::trim).unwrap_or_default();
    if name.is_empty() {
        return Err(AppError::field("name", "a group needs a name"));
    }
    if name.chars().count() > MAX_GROUP_NAME_CHARS
        || name
            .chars()
            .any(|c| c.is_control() || crate::services::uploads::is_format_char(c))
    {
        return Err(AppError::field(
            "name",
            format!(
                "at most {MAX_GROUP_NAME_CHARS} characters, no control or invisible characters"
            ),
        ));
    }
    // Nothing passes for the public channel, whatever its case.
    if name.eq_ignore_ascii_case(PUBLIC_CHANNEL) {
        return Err(AppError::field(
            "name",
            "General is the public channel's name",
        ));
    }
    Ok(name.to_owned())
}

/// Checks that every id of `field` names a user.
async fn known_users(chat: &Chat, ids: &[String], field: &str) -> AppResult<Vec<User>> {
    let mut unique: Vec<String> = ids.to_vec();
    unique.sort();
    unique.dedup();
    if unique.len() > 200 {
        return Err(AppError::field(field, "at most 200 at once"));
    }
    let users = chat.store.users_by_ids(&unique).await?;
    if users.len() != unique.len() {
        let found: HashSet<&str> = users.iter().map(|u| u.id.as_str()).collect();
        let missing = unique.iter().find(|id| !found.contains(id.as_str()));
        return Err(AppError::field(
            field,
            format!("no user {}", missing.map(String::as_str).unwrap_or("?")),
        ));
    }
    Ok(users)
}

/// Tells the members of a group that it changed (`group_updated`), and `removed` that they left
/// (`group_removed`, with who removed them: `by`, themself when they left).
async fn announce(chat: &Chat, g: &Group, removed: &[User], by: &User) {
    let members = chat.store.group_members(&g.id).await.unwrap_or_default();
    let rooms: Vec<String> = members.iter().map(|u| room::user(&u.username)).collect();
    if !rooms.is_empty() {
        chat.emitter
            .emit(Emit::to(
                rooms,
                "group_updated",
                json!({ "groupId": g.id, "name": g.name }),
            ))
            .await;
    }
    let gone: Vec<String> = removed.iter().map(|u| room::user(&u.username)).collect();
    if !gone.is_empty() {
        chat.emitter
            .emit(Emit::to(
                gone,
                "group_removed",
                json!({ "groupId": g.id, "name": g.name, "by": by.username }),
            ))
            .await;
    }
}

/// `POST /api/groups`: the caller becomes member and admin; `memberIds` are added.
pub async fn create_group(chat: &Chat, caller: &Caller, input: CreateGroup) -> AppResult<Value> {
    limit(chat, caller, CHANGE, AuditAction::GroupCreate).await?;
    let me = user_of(chat, caller).await?;
    let name = group_name(input.name.as_deref())?;
    let others = known_users(chat, &input.member_ids, "memberIds").await?;
    let g = chat.store.create_group(&name, &me.id).await?;
    for u in others.iter().filter(|u| u.id != me.id) {
        chat.store.add_group_member(&g.id, &u.id).await?;
    }
    chat.audit.record(
        &caller.actor,
        AuditAction::GroupCreate,
        &format!("group:{}", g.id),
        Status::Success,
        json!({ "name": name, "memberCount": others.len() + 1 }),
    );
    announce(chat, &g, &[], &me).await;
    group_json(chat, &g, &me).await
}

/// `PATCH /api/groups/{id}` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateGroup {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// Members to add.
    #[serde(default)]
    pub add_member_ids: Vec<String>,
    /// Members to remove.
    #[serde(default)]
    pub remove_member_ids: Vec<String>,
    /// Members to make admins.
    #[serde(default)]
    pub add_admin_ids: Vec<String>,
    /// Admins to demote.
    #[serde(default)]
    pub remove_admin_ids: Vec<String>,
}

/// `PATCH /api/groups/{id}`: group admins rename, add and remove members, promote and demote
/// admins. The whole change is checked before any of it is made: the people named exist, those
/// removed are members, admins are members, and the group keeps a member and an admin (the last
/// admin names another before stepping down or leaving, or deletes the group). The public
/// channel keeps its name and members.
pub async fn update_group(
    chat: &Chat,
    caller: &Caller,
    id: &str,
    input: UpdateGroup,
) -> AppResult<Value> {
    limit(chat, caller, CHANGE, AuditAction::GroupUpdate).await?;
    let me = user_of(chat, caller).await?;
    change_group(chat, caller, &me, id, input).await
}

/// [`update_group`] once the call is counted.
async fn change_group(
    chat: &Chat,
    caller: &Caller,
    me: &User,
    id: &str,
    input: UpdateGroup,
) -> AppResult<Value> {
    let resource = format!("group:{id}");
    let result = async {
        let g = admin_group(chat, me, id, "change the group").await?;
        let public = g.name == PUBLIC_CHANNEL;
        if public && (input.name.is_some() || !input.remove_member_ids.is_empty()) {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "The public channel keeps its name and members",
            ));
        }
        let name = match &input.name {
            Some(n) => Some(group_name(Some(n))?),
            None => None,
        };
        let added = known_users(chat, &input.add_member_ids, "addMemberIds").await?;
        let removed = known_users(chat, &input.remove_member_ids, "removeMemberIds").await?;
        let promoted = known_users(chat, &input.add_admin_ids, "addAdminIds").await?;
        let demoted = known_users(chat, &input.remove_admin_ids, "removeAdminIds").await?;

        // The group as it would be after the change.
        let members: HashSet<String> = chat.store.group_member_ids(id).await?.into_iter().collect();
        let admins: HashSet<String> = chat.store.group_admin_ids(id).await?.into_iter().collect();
        if let Some(u) = removed.iter().find(|u| !members.contains(&u.id)) {
            return Err(AppError::field(
                "removeMemberIds",
                format!("{} is not a member of this group", u.username),
            ));
        }
        let mut after: HashSet<&str> = members.iter().map(String::as_str).collect();
        after.extend(added.iter().map(|u| u.id.as_str()));
        for u in &removed {
            after.remove(u.id.as_str());
        }
        if let Some(u) = promoted.iter().find(|u| !after.contains(u.id.as_str())) {
            return Err(AppError::field(
                "addAdminIds",
                format!("{} must be a member to be an admin", u.username),
            ));
        }
        if after.is_empty() {
            return Err(AppError::field(
                "removeMemberIds",
                "a group keeps at least one member; delete the group instead",
            ));
        }
        let admins_after = admins
            .iter()
            .map(String::as_str)
            .chain(promoted.iter().map(|u| u.id.as_str()))
            .filter(|a| after.contains(a) && !demoted.iter().any(|u| u.id == *a))
            .count();
        if admins_after == 0 {
            let field = if demoted.iter().any(|u| admins.contains(&u.id)) {
                "removeAdminIds"
            } else {
                "removeMemberIds"
            };
            return Err(AppError::field(
                field,
                "a group keeps at least one admin; make another member an admin first",
            ));
        }

        if let Some(n) = &name {
            chat.store.rename_group(id, n).await?;
        }
        for u in &added {
            chat.store.add_group_member(id, &u.id).await?;
        }
        for u in &promoted {
            chat.store.add_group_admin(id, &u.id).await?;
        }
        for u in &demoted {
            // Not an admin already: nothing to take away.
            let _ = chat.store.remove_group_admin(id, &u.id).await;
        }
        for u in &removed {
            chat.store.remove_group_member(id, &u.id).await?;
        }
        chat.store.touch_group(id).await?;
        chat.rooms.refresh(&RoomKey::Group(id.to_owned()));
        let g = chat.store.group(id).await?.unwrap_or(g);
        announce(chat, &g, &removed, me).await;
        Ok((
            g,
            json!({
                "name": name,
                "added": added.iter().map(|u| &u.username).collect::<Vec<_>>(),
                "removed": removed.iter().map(|u| &u.username).collect::<Vec<_>>(),
                "promoted": promoted.iter().map(|u| &u.username).collect::<Vec<_>>(),
                "demoted": demoted.iter().map(|u| &u.username).collect::<Vec<_>>(),
            }),
        ))
    }
    .await;
    match result {
        Ok((g, details)) => {
            chat.audit.record(
                &caller.actor,
                AuditAction::GroupUpdate,
                &resource,
                Status::Success,
                details,
            );
            if chat.store.is_group_member(id, &me.id).await? {
                group_json(chat, &g, me).await
            } else {
                Ok(json!({ "id": g.id, "name": g.name, "left": true }))
            }
        }
        Err(e) => {
            chat.audit
                .refused(&caller.actor, AuditAction::GroupUpdate, &resource, &e);
            Err(e)
        }
    }
}

/// `DELETE /api/groups/{id}/members/{userId}`: an admin removes a member (as `PATCH` with
/// `removeMemberIds` would), or a member leaves. The group's last admin can't leave: they make
/// another member an admin first, or delete the group (409 says so).
pub async fn remove_member(
    chat: &Chat,
    caller: &Caller,
    id: &str,
    user_id: &str,
) -> AppResult<Value> {
    limit(chat, caller, CHANGE, AuditAction::GroupUpdate).await?;
    let me = user_of(chat, caller).await?;
    let resource = format!("group:{id}");
    if user_id != me.id {
        // Who may remove comes before whether the person is a member: a non-member learns
        // nothing about who is in the group.
        let check = async {
            admin_group(chat, &me, id, "remove members").await?;
            if !chat.store.is_group_member(id, user_id).await? {
                return Err(AppError::with_message(
                    ErrorCode::NotFound,
                    "That person is not a member of this group",
                ));
            }
            Ok(())
        }
        .await;
        chat.audit
            .checked(&caller.actor, AuditAction::GroupUpdate, &resource, check)?;
        let input = UpdateGroup {
            remove_member_ids: vec![user_id.to_owned()],
            ..Default::default()
        };
        return change_group(chat, caller, &me, id, input).await;
    }
    let work = async {
        let g = member_group(chat, &me, id).await?;
        if g.name == PUBLIC_CHANNEL {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "Everyone stays in the public channel",
            ));
        }
        let admins = chat.store.group_admin_ids(id).await?;
        if admins == [me.id.as_str()] {
            let alone = chat.store.group_member_ids(id).await?.len() <= 1;
            return Err(AppError::with_message(
                ErrorCode::Conflict,
                if alone {
                    "You are the last member of this group: delete it instead of leaving."
                } else {
                    "You are this group's only admin: make another member an admin before you leave, or delete the group."
                },
            ));
        }
        chat.store.remove_group_member(id, &me.id).await?;
        chat.rooms.refresh(&RoomKey::Group(id.to_owned()));
        announce(chat, &g, std::slice::from_ref(&me), &me).await;
        Ok((json!({ "success": true }), json!({ "left": me.username })))
    };
    chat.audit
        .audited(
            &caller.actor,
            AuditAction::GroupUpdate,
            &resource,
            json!({}),
            work,
        )
        .await
}

/// `DELETE /api/groups/{id}`: a group admin deletes the group with its messages, read marks,
/// members and admins. Every member's sockets get `group_removed` with `deleted: true` (the
/// deleter's other tabs too). The public channel can't be deleted.
pub async fn delete_group(chat: &Chat, caller: &Caller, id: &str) -> AppResult<Value> {
    limit(chat, caller, CHANGE, AuditAction::GroupDelete).await?;
    let me = user_of(chat, caller).await?;
    let work = async {
        let g = admin_group(chat, &me, id, "delete the group").await?;
        if g.name == PUBLIC_CHANNEL {
            return Err(AppError::with_message(
                ErrorCode::Forbidden,
                "The public channel can't be deleted",
            ));
        }
        let members = chat.store.group_members(id).await?;
        let messages = chat.store.delete_group(id).await?;
        // A running room finds its group gone and stops.
        chat.rooms.refresh(&RoomKey::Group(id.to_owned()));
        let rooms: Vec<String> = members.iter().map(|u| room::user(&u.username)).collect();
        chat.emitter
            .emit(Emit::to(
                rooms,
                "group_removed",
                json!({ "groupId": g.id, "name": g.name, "deleted": true, "by": me.username }),
            ))
            .await;
        Ok((
            json!({ "success": true, "id": g.id }),
            json!({ "name": g.name, "memberCount": members.len(), "messageCount": messages }),
        ))
    };
    chat.audit
        .audited(
            &caller.actor,
            AuditAction::GroupDelete,
            &format!("group:{id}"),
            json!({}),
            work,
        )
        .await
}

/// `?q=` of the user search.
#[derive(Debug, Deserialize)]
pub struct SearchQuery {
    /// At least 2 characters (trimmed), else the answer is empty.
    #[serde(default)]
    pub q: Option<String>,
}

/// `GET /api/users/search?q=`: up to 10 other users whose name contains `q`.
pub async fn search_users(chat: &Chat, caller: &Caller, q: SearchQuery) -> AppResult<Value> {
    let q = q.q.unwrap_or_default();
    let q = q.trim();
    if q.chars().count() < 2 {
        return Ok(json!([]));
    }
    if q.chars().count() > 64 {
        return Err(AppError::field("q", "at most 64 characters"));
    }
    limit(chat, caller, "api:users-search", AuditAction::ViewUsers).await?;
    let users = chat.store.search_users(q, 11).await?;
    let out: Vec<Value> = users
        .iter()
        .filter(|u| u.username != caller.username())
        .take(10)
        .map(|u| {
            let mut v = user_json(u);
            v["online"] =
                json!(ChatSettings::of(u).show_online_status && chat.online.is_online(&u.username));
            v
        })
        .collect();
    chat.audit.record(
        &caller.actor,
        AuditAction::ViewUsers,
        "chat:users",
        Status::Success,
        json!({ "count": out.len() }),
    );
    Ok(Value::Array(out))
}

/// `GET /api/chat/settings`.
pub async fn get_settings(chat: &Chat, caller: &Caller) -> AppResult<Value> {
    limit(chat, caller, "api:chat-settings", AuditAction::ViewProfile).await?;
    let me = user_of(chat, caller).await?;
    let blocked = chat.store.blocked_users(&me.id).await?;
    Ok(json!({
        "settings": ChatSettings::of(&me),
        "blocked": blocked.iter().map(user_json).collect::<Vec<_>>(),
        "user": user_json(&me),
    }))
}

/// `PUT /api/chat/settings`: a partial update.
pub async fn put_settings(chat: &Chat, caller: &Caller, patch: SettingsPatch) -> AppResult<Value> {
    limit(chat, caller, CHANGE, AuditAction::UpdateSettings).await?;
    let me = user_of(chat, caller).await?;
    let mut settings = ChatSettings::of(&me);
    let before = settings.clone();
    settings.apply(patch);
    let text = serde_json::to_string(&settings).map_err(AppError::internal)?;
    chat.store.set_user_settings(&me.id, &text).await?;
    if before.show_online_status != settings.show_online_status {
        let _ = chat.presence.cast(PresenceMsg::SetVisible {
            username: me.username.clone(),
            visible: settings.show_online_status,
        });
    }
    if before.allow_messages_from != settings.allow_messages_from {
        chat.rooms.refresh_all();
    }
    chat.audit.record(
        &caller.actor,
        AuditAction::UpdateSettings,
        &format!("chat:user:{}", me.username),
        Status::Success,
        json!({ "before": before, "after": settings }),
    );
    Ok(json!({ "settings": settings }))
}

/// `POST /api/chat/blocks` body.
#[derive(Debug, Deserialize)]
pub struct BlockInput {
    /// Who to block.
    pub username: String,
}

/// Blocks (`block` true) or unblocks a user; every running room reloads its blocks.
pub async fn set_block(
    chat: &Chat,
    caller: &Caller,
    username: &str,
    block: bool,
) -> AppResult<Value> {
    limit(chat, caller, CHANGE, AuditAction::UpdateSettings).await?;
    let me = user_of(chat, caller).await?;
    let other = chat
        .store
        .user_by_username(username)
        .await?
        .ok_or_else(|| AppError::with_message(ErrorCode::NotFound, "User not found"))?;
    if other.id == me.id {
        return Err(AppError::field("username", "you cannot block yourself"));
    }
    let changed = if block {
        match chat.store.block_user(&me.id, &other.id).await {
            Ok(()) => true,
            Err(crate::store::StoreError::Conflict(_)) => false,
            Err(e) => return Err(e.into()),
        }
    } else {
        chat.store.unblock_user(&me.id, &other.id).await.is_ok()
    };
    if changed {
        chat.rooms.refresh_all();
    }
    chat.audit.record(
        &caller.actor,
        AuditAction::UpdateSettings,
        &format!("chat:user:{username}"),
        Status::Success,
        json!({ "block": block, "changed": changed }),
    );
    Ok(json!({ "success": true, "blocked": block, "user": user_json(&other) }))
}
