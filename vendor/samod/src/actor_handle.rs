use crate::DocHandle;

pub(crate) struct ActorHandle {
    pub(crate) doc: DocHandle,
}
