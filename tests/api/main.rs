//! Integration tests against the real server over HTTP and WebSocket.

mod helpers;

mod accounts;
mod accounts_guest;
mod accounts_store;
mod cli;
mod cli_access;
mod cli_errors;
mod cli_follow;
mod connection_key;
mod durability;
mod durability_crash;
mod durability_rebuild;
mod durability_shutdown;
mod events;
mod history;
mod history_cli;
mod metrics;
mod monitor;
mod monitor_access;
mod monitor_load;
mod restart;
mod runs;
mod runs_process;
mod runs_queue;
mod runs_status;
mod sdk;
mod sdk_client;
mod sdk_wire;
mod supervision;
mod tls;
