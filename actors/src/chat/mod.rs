//! Chat rooms: one [`ChatRoom`] actor per active conversation (a direct-message pair, a group, the
//! public channel), under the [`ChatRoomsSupervisor`]. A room takes its messages one at a time:
//! it checks the sender against its members and blocks, stores the message (the store gives the
//! global sequence number) and only then emits it, so every receiver and the database see one
//! order. Edits, deletions, reactions, typing and read receipts go through the same room, so they
//! never overtake the message they are about.
//!
//! A room with nothing to do for a while stops; the supervisor forgets it and starts it again on
//! the next message. A room that fails (a panic in a handler) is started again at once by the
//! supervisor, which reloads it from the store; other rooms do not notice.

mod room;
mod rooms;

pub use room::{RoomMsg, RoomState, RoomStats, RoomsConfig};
pub use rooms::{ChatRooms, ChatRoomsSupervisor, RoomsMsg, RoomsState, RoomsStats};

use serde::Serialize;
use serde_json::Value;

use crate::emit::BoxFut;

/// Which conversation a room is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RoomKey {
    /// Direct messages between two users (their ids, sorted).
    Direct(String, String),
    /// A group (the public channel `General` is a group).
    Group(String),
}

impl RoomKey {
    /// The direct conversation of two users, whatever the order given.
    pub fn direct(a: &str, b: &str) -> Self {
        if a <= b {
            Self::Direct(a.to_owned(), b.to_owned())
        } else {
            Self::Direct(b.to_owned(), a.to_owned())
        }
    }

    /// `dm:<id>:<id>` or `group:<id>`, for logs and audit rows.
    pub fn name(&self) -> String {
        match self {
            Self::Direct(a, b) => format!("dm:{a}:{b}"),
            Self::Group(g) => format!("group:{g}"),
        }
    }
}

/// A member of a room, as the room needs to know them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// User id.
    pub user_id: String,
    /// Login name (the `user:<name>` room).
    pub username: String,
    /// Whether they take direct messages (`allowMessagesFrom` is not `none`).
    pub accepts_direct: bool,
}

/// What a room loads from the store when it starts and on refresh.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomInfo {
    /// Members (both users of a direct conversation).
    pub members: Vec<Member>,
    /// `(blocker id, blocked id)` pairs among the members.
    pub blocks: Vec<(String, String)>,
    /// Highest sequence number stored in this conversation (0: none).
    pub last_seq: i64,
    /// Messages stored in this conversation.
    pub messages: u64,
}

/// A new message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Sender's user id.
    pub sender_id: String,
    /// Sanitized content.
    pub content: String,
    /// The message this one answers (must be in the same conversation).
    pub reply_to_id: Option<String>,
    /// What the message carries besides its text (attachments), as JSON; checked by the sender's
    /// service, opaque here.
    pub metadata: Option<String>,
}

/// A change to an existing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New sanitized content (author only).
    Edit(String),
    /// Soft delete (author only).
    Delete,
    /// Toggle this reaction of the user (any member).
    React(String),
}

/// A stored message: its order and the JSON clients receive.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    /// Message id.
    pub id: String,
    /// Global sequence number.
    pub seq: i64,
    /// Author's user id.
    pub sender_id: String,
    /// The payload of `new_message` / `message_updated`.
    pub json: Value,
}

/// Where a message lives and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRef {
    /// Its conversation.
    pub room: RoomKey,
    /// Author's user id.
    pub sender_id: String,
    /// Soft-deleted already.
    pub deleted: bool,
}

/// The result of a change.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    /// The message after the change.
    pub message: Stored,
    /// For reactions: `true` added, `false` removed.
    pub reaction_added: Option<bool>,
}

/// Why a room refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    /// The user is not a member of the conversation.
    #[error("not a member of this conversation")]
    NotMember,
    /// The receiver blocks the sender.
    #[error("blocked by the receiver")]
    Blocked,
    /// The receiver takes no direct messages.
    #[error("the receiver takes no direct messages")]
    NotAccepting,
    /// No such message in this conversation.
    #[error("message not found")]
    NotFound,
    /// Only the author may do this.
    #[error("only the author may change a message")]
    NotAuthor,
    /// The message was deleted.
    #[error("the message was deleted")]
    Deleted,
    /// The store failed.
    #[error("store failed: {0}")]
    Store(String),
    /// The room did not answer (stopping, restarting or overloaded).
    #[error("room unavailable: {0}")]
    Unavailable(String),
}

/// What rooms need from the database; the server implements it over its store.
pub trait ChatStore: Send + Sync + 'static {
    /// Members, blocks and history size of a conversation.
    fn load_room<'a>(&'a self, key: &'a RoomKey) -> BoxFut<'a, Result<RoomInfo, ChatError>>;
    /// Stores a message with the next sequence number.
    fn insert<'a>(
        &'a self,
        key: &'a RoomKey,
        post: &'a Post,
        delivered: bool,
    ) -> BoxFut<'a, Result<Stored, ChatError>>;
    /// Where a message lives.
    fn message<'a>(&'a self, id: &'a str) -> BoxFut<'a, Result<Option<MessageRef>, ChatError>>;
    /// Applies a checked change.
    fn apply<'a>(
        &'a self,
        id: &'a str,
        user_id: &'a str,
        change: &'a Change,
    ) -> BoxFut<'a, Result<Changed, ChatError>>;
    /// Marks the conversation read by `reader_id` (up to `up_to` or everything); returns the
    /// `messages_read` payload.
    fn mark_read<'a>(
        &'a self,
        key: &'a RoomKey,
        reader_id: &'a str,
        up_to: Option<i64>,
    ) -> BoxFut<'a, Result<Value, ChatError>>;
}

fn unavailable(e: impl std::fmt::Display) -> ChatError {
    ChatError::Unavailable(e.to_string())
}

impl From<crate::ActorError> for ChatError {
    fn from(e: crate::ActorError) -> Self {
        unavailable(e)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::emit::{Emit, Emitter};
    use crate::presence::Online;
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::time::Duration;

    #[derive(Default)]
    struct Fake {
        seq: Mutex<i64>,
        messages: Mutex<Vec<(String, RoomKey, String)>>,
        emitted: Mutex<Vec<Emit>>,
        blocks: Mutex<Vec<(String, String)>>,
    }

    fn member(id: &str) -> Member {
        Member {
            user_id: id.into(),
            username: format!("n{id}"),
            accepts_direct: true,
        }
    }

    impl ChatStore for Fake {
        fn load_room<'a>(&'a self, key: &'a RoomKey) -> BoxFut<'a, Result<RoomInfo, ChatError>> {
            Box::pin(async move {
                let members = match key {
                    RoomKey::Direct(a, b) => vec![member(a), member(b)],
                    RoomKey::Group(_) => vec![member("a"), member("b"), member("c")],
                };
                let n = self
                    .messages
                    .lock()
                    .unwrap()
                    .iter()
                    .filter(|m| &m.1 == key)
                    .count();
                Ok(RoomInfo {
                    members,
                    blocks: self.blocks.lock().unwrap().clone(),
                    last_seq: *self.seq.lock().unwrap(),
                    messages: n as u64,
                })
            })
        }
        fn insert<'a>(
            &'a self,
            key: &'a RoomKey,
            post: &'a Post,
            _: bool,
        ) -> BoxFut<'a, Result<Stored, ChatError>> {
            Box::pin(async move {
                let mut seq = self.seq.lock().unwrap();
                *seq += 1;
                let id = format!("m{seq}");
                self.messages.lock().unwrap().push((
                    id.clone(),
                    key.clone(),
                    post.sender_id.clone(),
                ));
                Ok(Stored {
                    id: id.clone(),
                    seq: *seq,
                    sender_id: post.sender_id.clone(),
                    json: serde_json::json!({ "id": id }),
                })
            })
        }
        fn message<'a>(&'a self, id: &'a str) -> BoxFut<'a, Result<Option<MessageRef>, ChatError>> {
            Box::pin(async move {
                Ok(self
                    .messages
                    .lock()
                    .unwrap()
                    .iter()
                    .find(|m| m.0 == id)
                    .map(|m| MessageRef {
                        room: m.1.clone(),
                        sender_id: m.2.clone(),
                        deleted: false,
                    }))
            })
        }
        fn apply<'a>(
            &'a self,
            id: &'a str,
            _: &'a str,
            _: &'a Change,
        ) -> BoxFut<'a, Result<Changed, ChatError>> {
            Box::pin(async move {
                Ok(Changed {
                    message: Stored {
                        id: id.into(),
                        seq: 0,
                        sender_id: String::new(),
                        json: serde_json::json!({ "id": id, "changed": true }),
                    },
                    reaction_added: None,
                })
            })
        }
        fn mark_read<'a>(
            &'a self,
            _: &'a RoomKey,
            _: &'a str,
            _: Option<i64>,
        ) -> BoxFut<'a, Result<Value, ChatError>> {
            Box::pin(async { Ok(Value::Null) })
        }
    }

    impl Emitter for Fake {
        fn emit(&self, e: Emit) -> BoxFut<'_, ()> {
            self.emitted.lock().unwrap().push(e);
            Box::pin(async {})
        }
    }

    async fn setup(fake: Arc<Fake>) -> (crate::root::Tree, ChatRooms) {
        let tree = crate::root::Tree::start().await.unwrap();
        let rooms = ChatRoomsSupervisor::start(
            tree.root.get_cell(),
            fake.clone(),
            fake,
            Online::default(),
            RoomsConfig::default(),
        )
        .await
        .unwrap();
        (tree, rooms)
    }

    fn post(from: &str, text: &str) -> Post {
        Post {
            sender_id: from.into(),
            content: text.into(),
            reply_to_id: None,
            metadata: None,
        }
    }

    #[tokio::test]
    async fn members_post_others_are_refused_and_blockers_do_not_receive() {
        let fake = Arc::new(Fake::default());
        fake.blocks.lock().unwrap().push(("c".into(), "a".into()));
        let (tree, rooms) = setup(fake.clone()).await;
        let g = RoomKey::Group("g".into());
        rooms.post(&g, post("a", "hi")).await.unwrap();
        assert_eq!(
            rooms.post(&g, post("z", "intruder")).await,
            Err(ChatError::NotMember)
        );
        let e = fake.emitted.lock().unwrap()[0].clone();
        assert_eq!(e.event, "new_message");
        assert_eq!(e.rooms, ["user:na", "user:nb"], "c blocks a");

        let dm = RoomKey::direct("c", "a");
        assert_eq!(
            rooms.post(&dm, post("a", "psst")).await,
            Err(ChatError::Blocked)
        );
        rooms.post(&dm, post("c", "yes?")).await.unwrap();
        let err = rooms.change(&dm, "m1", "c", Change::Edit("x".into())).await;
        assert_eq!(err, Err(ChatError::NotFound), "m1 lives in the group");
        assert_eq!(
            rooms.change(&g, "m1", "b", Change::Delete).await,
            Err(ChatError::NotAuthor)
        );
        rooms
            .change(&g, "m1", "b", Change::React("👍".into()))
            .await
            .unwrap();
        tree.shutdown().await;
    }

    #[tokio::test]
    async fn a_crashed_room_restarts_with_its_history_and_others_carry_on() {
        let fake = Arc::new(Fake::default());
        let (tree, rooms) = setup(fake.clone()).await;
        let g = RoomKey::Group("g".into());
        let h = RoomKey::Group("h".into());
        for i in 0..3 {
            rooms.post(&g, post("a", &format!("{i}"))).await.unwrap();
        }
        rooms.post(&h, post("b", "other")).await.unwrap();
        let before = rooms.room(&g).await.unwrap().get_id();
        rooms.crash(&g);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while rooms.stats().await.unwrap().restarts == 0 {
            assert!(tokio::time::Instant::now() < deadline, "no restart");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        rooms.post(&h, post("b", "still here")).await.unwrap();
        let after = rooms.room(&g).await.unwrap().get_id();
        assert_ne!(before, after);
        let stats = rooms.room_stats(&g).await.unwrap();
        assert_eq!(stats.messages, 3);
        rooms.post(&g, post("a", "after")).await.unwrap();
        tree.shutdown().await;
    }
}
