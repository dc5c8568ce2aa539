//! The server-rendered pages (HTML, no front-end build step); a small script file keeps them
//! live from the JSON API.

pub mod layout;
pub mod login;
pub mod overview;
pub mod queues;
pub mod task;
pub mod tasks;
