//! Every action an audit row can name: one enum, its wire names (what the `action` column holds
//! and what the audit page filters on) and what each means. `docs/audit.md` is generated from
//! this table and checked by a test.

use crate::pve::path::PowerAction;

macro_rules! actions {
    ($( $family:literal { $( $variant:ident = $wire:literal : $what:literal, )* } )*) => {
        /// What an audit row records.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum AuditAction {
            $($(
                #[doc = $what]
                $variant,
            )*)*
        }

        impl AuditAction {
            /// Every action, in catalogue order.
            pub const ALL: &'static [Self] = &[$($(Self::$variant,)*)*];

            /// The name stored in the `action` column.
            pub const fn as_str(self) -> &'static str {
                match self { $($(Self::$variant => $wire,)*)* }
            }

            /// The family it belongs to (the catalogue's sections).
            pub const fn family(self) -> &'static str {
                match self { $($(Self::$variant => $family,)*)* }
            }

            /// What a row with this action records.
            pub const fn what(self) -> &'static str {
                match self { $($(Self::$variant => $what,)*)* }
            }
        }
    };
}

actions! {
    "Sign-in and sessions" {
        Login = "LOGIN": "A user signed in.",
        LoginFailed = "LOGIN_FAILED": "A sign-in was refused (wrong credentials, a group not allowed, a name that belongs to another account; through a provider: a state that doesn't match, a provider that is unavailable or refuses the code, an ID token that fails a check) or blocked after too many attempts.",
        LoginOidc = "LOGIN_OIDC": "A user signed in through an OpenID Connect provider (which one, their subject there, and whether this first sign-in bound them to a new Uma user).",
        LoginPasskey = "LOGIN_PASSKEY": "A user signed in with a passkey alone (which one); its user verification stands for the password and the second factor.",
        Logout = "LOGOUT": "A user signed out.",
        SessionExpired = "SESSION_EXPIRED": "A session reached its lifetime and ended.",
        SessionRevoked = "SESSION_REVOKED": "A session was ended from the sessions list (one's own, or anyone's by an administrator).",
        AccountsView = "VIEW_ACCOUNTS": "An administrator listed the people Uma knows (local and directory).",
        UserCreate = "USER_CREATE": "An administrator created a local account.",
        UserPasswordReset = "USER_PASSWORD_RESET": "An administrator gave a local account a new password (its sessions ended).",
        UserPasswordLink = "USER_PASSWORD_LINK": "An administrator made a one-time link for a local account to choose its password (older links stopped working).",
        PasswordLinkUsed = "PASSWORD_LINK_USED": "A one-time link was used to choose a new password (its sessions ended), or a link that can't be used was refused.",
        AccessCheck = "ACCESS_CHECK": "An administrator checked whether someone may sign in and why.",
        DirectorySearch = "DIRECTORY_SEARCH": "Someone searched the people or groups Uma and the directory know (to fill in a name).",
        ProfileUpdate = "PROFILE_UPDATE": "Someone changed their profile (display name, picture or theme).",
        PasswordChange = "PASSWORD_CHANGE": "Someone changed their own local password (their other sessions ended).",
        MfaRequired = "MFA_REQUIRED": "A password was right and the sign-in waits for a second factor (or for one to be set up).",
        MfaVerified = "MFA_VERIFIED": "A second factor was accepted (at sign-in or to confirm a sensitive action), with the method used.",
        MfaFailed = "MFA_FAILED": "A second factor was refused (a wrong or used code, a passkey not accepted, or the sign-in had expired); counts toward the sign-in limits.",
        MfaEnroll = "MFA_ENROLL": "Someone set up an authenticator app or a passkey (and, with their first second factor, received recovery codes).",
        MfaRemove = "MFA_REMOVE": "An authenticator app or a passkey was removed (by its owner, confirmed with a second factor, or all of someone's by an administrator); recovery codes go with the last one.",
        RecoveryCodesRenew = "RECOVERY_CODES_RENEW": "Someone replaced their recovery codes (the old ones stopped working).",
        MfaPolicy = "MFA_POLICY": "An administrator changed who must use a second factor, or how long one confirms sensitive actions.",
        TokenCreate = "TOKEN_CREATE": "Someone made an API token (name, scope and expiry recorded; never the token).",
        TokenRevoke = "TOKEN_REVOKE": "An API token was revoked (by its owner or an administrator); requests and live connections with it end at once.",
        UserDisable = "USER_DISABLE": "An administrator disabled a local account (its sessions ended).",
        UserEnable = "USER_ENABLE": "An administrator enabled a local account again.",
        SocketConnect = "SOCKET_CONNECT": "A browser's live connection was accepted.",
        SocketDisconnect = "SOCKET_DISCONNECT": "A live connection ended.",
        SocketEventRejected = "SOCKET_EVENT_REJECTED": "A live event was refused before any work (malformed, too large, too frequent).",
        ViewProfile = "VIEW_PROFILE": "A user read their chat settings.",
    }
    "Guests" {
        ViewVm = "VIEW_VM": "A guest's status, configuration, charts or snapshots were read.",
        ViewTasks = "VIEW_TASKS": "A guest's or node's recent tasks were read.",
        ViewTaskStatus = "VIEW_TASK_STATUS": "A task's status was read.",
        ViewSnapshots = "VIEW_SNAPSHOTS": "A guest's snapshots were read.",
        ViewBackups = "VIEW_BACKUPS": "A guest's backups were read.",
        ViewNextTag = "VIEW_NEXT_TAG": "The next free VLAN tag was read.",
        VmPower = "VM_POWER": "A power action was refused before it ran (unknown action, limit, permission, not for this kind of guest).",
        VmStart = "VM_START": "A guest was started.",
        VmStop = "VM_STOP": "A guest was stopped (hard).",
        VmShutdown = "VM_SHUTDOWN": "A guest was asked to shut down.",
        VmReboot = "VM_REBOOT": "A guest was rebooted.",
        VmSuspend = "VM_SUSPEND": "A guest was suspended.",
        VmResume = "VM_RESUME": "A suspended guest was resumed.",
        VmReset = "VM_RESET": "A QEMU guest was reset.",
        VmUpdate = "VM_UPDATE": "A guest's configuration was changed.",
        VmResize = "VM_RESIZE": "A guest's disk was grown.",
        VmSnapshotCreate = "VM_SNAPSHOT_CREATE": "A snapshot was taken.",
        VmSnapshotDelete = "VM_SNAPSHOT_DELETE": "A snapshot was deleted.",
        VmSnapshotRollback = "VM_SNAPSHOT_ROLLBACK": "A guest was rolled back to a snapshot.",
        VmFirewallUpdate = "VM_FIREWALL_UPDATE": "A guest's firewall rule was added or deleted.",
        BackupCreate = "BACKUP_CREATE": "A backup of a guest was started.",
        BackupRestore = "BACKUP_RESTORE": "A backup was restored over its guest.",
        VmCreate = "VM_CREATE": "A QEMU VM was created.",
        CtCreate = "CT_CREATE": "An LXC container was created.",
        VmClone = "VM_CLONE": "A guest or template was cloned.",
        VmTemplate = "VM_TEMPLATE": "A guest was converted into a template.",
        VmDelete = "VM_DELETE": "A guest was destroyed.",
        ListIsos = "LIST_ISOS": "The ISO images a user may boot were listed.",
        ListCtTemplates = "LIST_CT_TEMPLATES": "The container templates a user may use were listed.",
    }
    "Consoles" {
        VmConsoleTicket = "VM_CONSOLE_TICKET": "A console ticket was issued for a guest.",
        ConsoleOpen = "CONSOLE_OPEN": "A console connection to Proxmox was opened.",
        ConsoleClose = "CONSOLE_CLOSE": "A console closed (by the user, idle time, session end or failure).",
        ConsoleCloseAdmin = "CONSOLE_CLOSE_ADMIN": "An administrator closed someone's console.",
    }
    "Cluster" {
        ViewResources = "VIEW_RESOURCES": "The cluster's resources were read.",
        ViewNode = "VIEW_NODE": "A node's status, charts or tasks were read.",
        ViewStorage = "VIEW_STORAGE": "Storages or their content were read.",
        ViewReplication = "VIEW_REPLICATION": "Replication jobs were read.",
        ReplicationCreate = "REPLICATION_CREATE": "A replication job was created.",
        ReplicationDelete = "REPLICATION_DELETE": "A replication job was deleted.",
    }
    "Pools and access" {
        ViewPools = "VIEW_POOLS": "Pools were listed.",
        PoolCreate = "POOL_CREATE": "A pool was created.",
        PoolDelete = "POOL_DELETE": "A pool was deleted.",
        PoolAclUpdate = "POOL_ACL_UPDATE": "Who may use a pool was changed.",
        PoolLimitsView = "POOL_LIMITS_VIEW": "A pool's quota was read.",
        PoolLimitsUpdate = "POOL_LIMITS_UPDATE": "A pool's quota was changed.",
        AclUpdate = "ACL_UPDATE": "A Proxmox ACL entry was changed.",
        ViewUsers = "VIEW_USERS": "Proxmox users were listed.",
        ViewGroups = "VIEW_GROUPS": "Proxmox groups were listed.",
        ViewRoles = "VIEW_ROLES": "Proxmox roles were listed.",
    }
    "Networks" {
        ViewZones = "VIEW_ZONES": "SDN zones were listed.",
        ViewVnets = "VIEW_VNETS": "VNets were listed.",
        ZoneCreate = "ZONE_CREATE": "An SDN zone was created.",
        VnetCreate = "VNET_CREATE": "A VNet was created.",
        VnetDelete = "VNET_DELETE": "A VNet was deleted.",
        SdnApply = "SDN_APPLY": "Pending SDN changes were applied.",
    }
    "Hardware templates" {
        HwTemplateList = "HW_TEMPLATE_LIST": "Hardware templates were listed.",
        HwTemplateView = "HW_TEMPLATE_VIEW": "A hardware template was read.",
        HwTemplateCreate = "HW_TEMPLATE_CREATE": "A hardware template was created.",
        HwTemplateUpdate = "HW_TEMPLATE_UPDATE": "A hardware template was changed.",
        HwTemplateDelete = "HW_TEMPLATE_DELETE": "A hardware template was deleted.",
    }
    "Chat" {
        ChatMessageSend = "CHAT_MESSAGE_SEND": "A chat message was sent.",
        ChatMessageEdit = "CHAT_MESSAGE_EDIT": "A chat message was edited.",
        ChatMessageDelete = "CHAT_MESSAGE_DELETE": "A chat message was deleted.",
        ChatMessageReaction = "CHAT_MESSAGE_REACTION": "A reaction was added to or removed from a message.",
        ChatMarkRead = "CHAT_MARK_READ": "A conversation was marked read.",
        ChatHistoryView = "CHAT_HISTORY_VIEW": "A direct conversation's history was read.",
        ChatGroupHistoryView = "CHAT_GROUP_HISTORY_VIEW": "A group's history was read.",
        ChatRecentView = "CHAT_RECENT_VIEW": "The list of recent conversations was read.",
        ChatOnlineUsersView = "CHAT_ONLINE_USERS_VIEW": "Who is online was read.",
        ChatPublicChannelView = "CHAT_PUBLIC_CHANNEL_VIEW": "The public channel was read.",
        ChatPublicChannelJoin = "CHAT_PUBLIC_CHANNEL_JOIN": "A user joined the public channel.",
        ChatGroupJoin = "CHAT_GROUP_JOIN": "A user joined a group's room.",
        GroupView = "GROUP_VIEW": "A chat group was read.",
        GroupCreate = "GROUP_CREATE": "A chat group was created.",
        GroupUpdate = "GROUP_UPDATE": "A chat group's name, members or admins changed.",
        GroupDelete = "GROUP_DELETE": "A chat group was deleted, with its messages and members.",
        UpdateSettings = "UPDATE_SETTINGS": "A user changed their chat settings (blocks, visibility).",
    }
    "Whiteboards" {
        WhiteboardView = "WHITEBOARD_VIEW": "A whiteboard was read.",
        WhiteboardJoin = "WHITEBOARD_JOIN": "A user joined a whiteboard.",
        WhiteboardSave = "WHITEBOARD_SAVE": "A whiteboard was saved.",
        WhiteboardClear = "WHITEBOARD_CLEAR": "A whiteboard was cleared.",
    }
    "Docs" {
        DocPublicList = "DOC_PUBLIC_LIST": "The published docs were listed or searched.",
        DocPublicView = "DOC_PUBLIC_VIEW": "A published doc was read.",
        DocAdminList = "DOC_ADMIN_LIST": "An administrator listed every doc, drafts included.",
        DocView = "DOC_VIEW": "An administrator opened a doc in the editor.",
        DocCreate = "DOC_CREATE": "An administrator wrote a doc.",
        DocUpdate = "DOC_UPDATE": "An administrator changed a doc.",
        DocDelete = "DOC_DELETE": "An administrator deleted a doc.",
        UploadFile = "UPLOAD_FILE": "A file was uploaded (or refused: its kind, size or the quota).",
        UploadList = "UPLOAD_LIST": "A user listed their uploads.",
        UploadDelete = "UPLOAD_DELETE": "An upload was deleted.",
        MetadataFetch = "METADATA_FETCH": "A link preview (or its picture) was fetched, or refused with its reason.",
    }
    "Notifications" {
        ViewNotifications = "VIEW_NOTIFICATIONS": "Notification banners were listed.",
        CreateNotification = "CREATE_NOTIFICATION": "An administrator published a notification banner.",
        NotificationUpdate = "NOTIFICATION_UPDATE": "An administrator changed a notification banner.",
        DeleteNotification = "DELETE_NOTIFICATION": "An administrator deleted a notification banner.",
        NotificationDismiss = "NOTIFICATION_DISMISS": "A user dismissed a notification banner.",
    }
    "Administration" {
        ViewAuditLogs = "VIEW_AUDIT_LOGS": "The audit log was read.",
        AuditExport = "AUDIT_EXPORT": "The audit log (filtered) was exported as CSV or JSON Lines.",
        AuditPrune = "AUDIT_PRUNE": "Audit rows before a date were deleted by `uma audit prune` (a signed checkpoint keeps the rest verifiable).",
        AuditVerify = "AUDIT_VERIFY": "The audit log's chain was verified (a WARNING names the first row that does not hold).",
        ViewAuditStats = "VIEW_AUDIT_STATS": "Audit statistics were read.",
        ViewAuditSuggestions = "VIEW_AUDIT_SUGGESTIONS": "The audit page's filter suggestions were read.",
        SettingsAccessUpdate = "SETTINGS_ACCESS_UPDATE": "Which directory groups may sign in, or are administrators, was changed.",
        SettingsLimitsUpdate = "SETTINGS_LIMITS_UPDATE": "Instance-wide limits were changed.",
        SettingsContentUpdate = "SETTINGS_CONTENT_UPDATE": "Whether the docs are public, or the upload limits, changed.",
    }
}

impl std::fmt::Display for AuditAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<PowerAction> for AuditAction {
    fn from(a: PowerAction) -> Self {
        match a {
            PowerAction::Start => Self::VmStart,
            PowerAction::Stop => Self::VmStop,
            PowerAction::Shutdown => Self::VmShutdown,
            PowerAction::Reboot => Self::VmReboot,
            PowerAction::Suspend => Self::VmSuspend,
            PowerAction::Resume => Self::VmResume,
            PowerAction::Reset => Self::VmReset,
        }
    }
}

impl AuditAction {
    /// The `docs/audit.md` catalogue.
    pub fn catalogue_markdown() -> String {
        let mut out = String::from(
            "# Audit actions\n\n\
             Generated from `src/audit/action.rs` (`AuditAction`); a test fails when this file is out of\n\
             date. Each row of the audit log names one of these actions, the user, the resource\n\
             (`vm:<vmid>`, `pool:<id>`, …), a status (`SUCCESS`, `FAILURE` with the error's code and\n\
             message, or `WARNING` when a rate limit or an event check refused it), details, the client address\n\
             and the operation id.\n",
        );
        let mut family = "";
        for a in Self::ALL {
            if a.family() != family {
                family = a.family();
                out.push_str(&format!(
                    "\n## {family}\n\n| action | recorded when |\n|---|---|\n"
                ));
            }
            out.push_str(&format!("| `{}` | {} |\n", a.as_str(), a.what()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[test]
    fn audit_catalogue_is_up_to_date() {
        crate::generated::up_to_date(
            "docs/audit.md",
            &AuditAction::catalogue_markdown(),
            "audit_catalogue",
        );
    }

    #[test]
    fn wire_names_are_unique_and_shouting() {
        let mut seen = std::collections::HashSet::new();
        for a in AuditAction::ALL {
            assert!(seen.insert(a.as_str()), "{} twice", a.as_str());
            assert!(a
                .as_str()
                .chars()
                .all(|c| c.is_ascii_uppercase() || c == '_'));
        }
    }
}
