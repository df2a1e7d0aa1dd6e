//! The names of the Socket.IO rooms, built in one place: a room spelled by hand in two files is a
//! room one of them misses.

/// Every socket of a user (tasks, session ends, chat notices).
pub fn user(username: &str) -> String {
    uma_actors::emit::user_room(username)
}

/// Sockets watching a guest (its tasks, its removal).
pub fn guest(vmid: u32) -> String {
    format!("guest:{vmid}")
}

/// Sockets streaming a guest's figures over one timeframe.
pub fn guest_stream(vmid: u32, timeframe: &str) -> String {
    format!("guest:{vmid}:{timeframe}")
}

/// Sockets streaming a node's figures over one timeframe.
pub fn node_stream(node: &str, timeframe: &str) -> String {
    format!("node:{node}:{timeframe}")
}

/// Members of a chat group.
pub fn chat_group(group_id: &str) -> String {
    format!("group_{group_id}")
}

/// Sockets on a whiteboard.
pub fn board(board: &str) -> String {
    uma_actors::whiteboard::board_room(board)
}

/// Administrators' sockets following the audit log as it is written.
pub const AUDIT_TAIL: &str = "admin:audit";

/// Every socket that watches the cluster's resources.
pub const RESOURCE_WATCHERS: &str = "live:resources";

/// Sockets that see exactly the same resources (`hash` identifies the set).
pub fn view(hash: u64) -> String {
    format!("view:{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are part of what other instances read from the Redis adapter: they stay fixed.
    #[test]
    fn names_are_stable() {
        assert_eq!(user("ann"), "user:ann");
        assert_eq!(guest(100), "guest:100");
        assert_eq!(guest_stream(100, "hour"), "guest:100:hour");
        assert_eq!(node_stream("pve1", "day"), "node:pve1:day");
        assert_eq!(chat_group("g1"), "group_g1");
        assert_eq!(board("default"), "whiteboard");
        assert_eq!(board("team"), "whiteboard:team");
        assert_eq!(view(0xab), "view:00000000000000ab");
    }
}
