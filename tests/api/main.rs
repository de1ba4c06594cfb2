//! Integration tests against the real server over HTTP and WebSocket.

mod helpers;

mod accounts;
mod accounts_guest;
mod accounts_store;
mod cgroup_support;
mod cli;
mod cli_access;
mod cli_errors;
mod cli_follow;
mod containment;
mod containment_crash;
mod disk_full;
mod durability;
mod durability_crash;
mod durability_rebuild;
mod durability_shutdown;
mod events;
mod fidelity;
mod history;
mod history_cli;
mod metrics;
mod monitor;
mod monitor_access;
mod monitor_load;
mod resources;
mod runs;
mod runs_process;
mod runs_queue;
mod runs_status;
mod storage_perms;
mod supervision;
