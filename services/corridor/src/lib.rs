//! The `corridor` binary's library: command-line interface, service selection, the local
//! development stack. Services are wired here and nowhere else.

pub mod admin;
pub mod chain_service;
pub mod cli;
pub mod demo;
pub mod dev;
pub mod server;
