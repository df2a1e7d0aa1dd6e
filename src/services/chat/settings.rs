//! A user's chat settings, kept as JSON in `users.settings` (the original's shape).

use serde::{Deserialize, Serialize};

use crate::store::auth::User;

/// Who may send a user direct messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AllowFrom {
    /// Anyone not blocked.
    #[default]
    Everyone,
    /// Nobody (groups still work).
    None,
}

/// `{dnd, allowMessagesFrom, showOnlineStatus}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatSettings {
    /// Do not disturb: the browser shows no notification toasts.
    #[serde(default)]
    pub dnd: bool,
    /// Who may send direct messages.
    #[serde(default)]
    pub allow_messages_from: AllowFrom,
    /// Whether others see this user online.
    #[serde(default = "yes")]
    pub show_online_status: bool,
}

fn yes() -> bool {
    true
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            dnd: false,
            allow_messages_from: AllowFrom::Everyone,
            show_online_status: true,
        }
    }
}

/// A partial update (`PUT /api/chat/settings`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsPatch {
    /// New `dnd`.
    pub dnd: Option<bool>,
    /// New `allowMessagesFrom`.
    pub allow_messages_from: Option<AllowFrom>,
    /// New `showOnlineStatus`.
    pub show_online_status: Option<bool>,
}

impl ChatSettings {
    /// The settings of a user (defaults when unset or unreadable).
    pub fn of(user: &User) -> Self {
        user.settings
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    /// Whether the user takes direct messages.
    pub fn accepts_direct(&self) -> bool {
        self.allow_messages_from != AllowFrom::None
    }

    /// Applies a patch.
    pub fn apply(&mut self, patch: SettingsPatch) {
        if let Some(v) = patch.dnd {
            self.dnd = v;
        }
        if let Some(v) = patch.allow_messages_from {
            self.allow_messages_from = v;
        }
        if let Some(v) = patch.show_online_status {
            self.show_online_status = v;
        }
    }
}
