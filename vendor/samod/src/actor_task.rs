use samod_core::{
    actors::{HubToDocMsg, document::io::DocumentIoResult},
    io::IoResult,
};

use crate::{backlog::Charge, doc_actor_inner::DocActorInner};

pub(crate) enum ActorTask {
    /// With the message's charge against its connection's backlog, if a
    /// peer sent it (PATCHES.md, 10).
    HandleMessage(HubToDocMsg, Option<Charge>),
    IoComplete(IoResult<DocumentIoResult>),
    WithDocument(Box<dyn FnOnce(&mut DocActorInner) + Send + 'static>),
    /// Time passed: changes held for an unresponsive peer may go now.
    Tick,
}

impl std::fmt::Debug for ActorTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorTask::HandleMessage(msg, _) => f.debug_tuple("HandleMessage").field(msg).finish(),
            ActorTask::IoComplete(result) => f.debug_tuple("IoComplete").field(result).finish(),
            ActorTask::WithDocument(_) => f.debug_tuple("WithDocument").finish(),
            ActorTask::Tick => f.write_str("Tick"),
        }
    }
}
