//! Integration tests against the real server over HTTP and WebSocket.

mod helpers;

mod accounts;
mod cli;
mod durability;
mod history;
mod metrics;
mod monitor;
mod runs;
mod supervision;
