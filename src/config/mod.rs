//! Typed configuration: `conf/switchboard.toml` read with serde
//! (`deny_unknown_fields`), then validated into [`Settings`], where every
//! path is absolute and every address parsed. Problems carry the file and
//! line so `switchboard check` can print `file:line: message`.
//!
//! The contact-center files it names, `agents.toml`, `routing.toml`,
//! `dialogs.toml` (with the knowledge base it names) and `categories.toml`
//! (with the classifier trained on it), are read together
//! into a [`GatewayConfig`] and can be hot-reloaded
//! through a [`GatewayConfigHandle`].
//!
//! The modules import one another in one direction only, from the files'
//! validators down to the helpers they share: `problem` (the `file:line`
//! problems) and `parse` (helpers for every file) import nothing above
//! them; the rules are checked against the names the routing file declares
//! before them rather than against the routing configuration they become
//! part of. This file only declares and re-exports.

pub mod accounts;
pub mod agents;
pub mod calendar;
pub mod callbacks;
pub mod categories;
mod categories_file;
pub mod dialogs;
mod dialogs_file;
mod dialogs_service;
mod dialogs_syntax;
mod gateway;
mod limits;
pub mod locate;
mod parse;
mod problem;
pub mod protocols;
mod queues;
mod raw;
pub mod reload;
pub mod routing;
mod routing_file;
mod rule_syntax;
pub mod rules;
mod settings;
pub mod texts;
mod upload;
mod web;

pub use accounts::Warning;
pub use agents::{AgentDef, AgentsConfig, Schedule, PROTOCOLS};
pub use calendar::{Calendar, Leave};
pub use callbacks::{CallbacksConfig, Fallback};
pub use categories::{CategoriesConfig, CategoryDef};
pub use dialogs::{
    AnswerKind, CannedDef, DialogDef, DialogsConfig, HandoffDef, HandoffFacts, LangText,
    QuestionDef, Refusal, SelfService, Then,
};
pub use gateway::GatewayConfig;
pub use limits::Limits;
pub use locate::{find_config, NoConfig};
pub use problem::{ConfigError, LineIndex, Problem};
pub use protocols::ProtocolOverride;
pub use queues::{AssignMode, QueueDef, Strategy};
pub use reload::{watch, GatewayConfigHandle, Rejection, ReloadOutcome, WatchError, Watcher};
pub use routing::{RoutingConfig, RoutingDefaults};
pub use rules::{Actions, AgentProtocol, Facts, RuleDef, FEATURES};
pub use settings::{C2s, Component, GatewayFiles, S2s, Settings};
pub use texts::{Text, Texts};
pub use upload::{is_mime_type, Upload};
pub use web::{Http, Web};
