//! The knowledge base: articles written in Markdown by administrators, read by every signed-in
//! user (or by anyone, when published docs are made public).

pub mod markdown;
