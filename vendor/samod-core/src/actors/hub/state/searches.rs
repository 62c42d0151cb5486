use std::collections::{HashMap, HashSet};

use crate::{
    DialerId, DocSearchPhase, DocumentActorId,
    actors::hub::{
        dialer::{DialerState, DialerStatus},
        state::ActorInfo,
    },
};

pub(super) struct Searches {
    pub(super) phases: HashMap<DocumentActorId, DocSearchPhase>,
    pub(super) last_dialers: HashMap<DialerId, DialerStatus>,
    /// Actors added or whose phase was set since the last pop: only these
    /// are compared, unless the dialers changed (PATCHES.md, 7).
    pub(super) changed: HashSet<DocumentActorId>,
}

impl Searches {
    pub(super) fn new() -> Self {
        Self {
            phases: HashMap::new(),
            last_dialers: HashMap::new(),
            changed: HashSet::new(),
        }
    }

    /// The actor was added or its phase set.
    pub(super) fn touch(&mut self, actor: DocumentActorId) {
        self.changed.insert(actor);
    }

    /// The actor is gone (PATCHES.md, 14).
    pub(super) fn forget(&mut self, actor: DocumentActorId) {
        self.phases.remove(&actor);
        self.changed.remove(&actor);
    }

    pub(super) fn add_search(&mut self, actor: DocumentActorId, phase: DocSearchPhase) {
        self.phases.insert(actor, phase);
    }

    pub(super) fn pop_state_updates(
        &mut self,
        actors: &HashMap<DocumentActorId, ActorInfo>,
        dialers: &HashMap<DialerId, DialerState>,
    ) -> HashMap<DocumentActorId, DocSearchPhase> {
        let new_dialer_state = dialers
            .iter()
            .map(|(dialer_id, state)| (*dialer_id, state.status.clone()))
            .collect::<HashMap<DialerId, DialerStatus>>();
        let dialers_changed = self.last_dialers != new_dialer_state;
        self.last_dialers = new_dialer_state;

        let mut result = HashMap::new();
        let changed = std::mem::take(&mut self.changed);
        let mut compare = |actor_id: &DocumentActorId, actor: &ActorInfo| {
            let last_phase = self.phases.get(actor_id);
            if last_phase != Some(&actor.search_phase) || dialers_changed {
                result.insert(*actor_id, actor.search_phase.clone());
                self.phases.insert(*actor_id, actor.search_phase.clone());
            }
        };
        // samod 0.16 compared every actor after every hub event: with
        // 10,000 documents that was most of the hub's time.
        if dialers_changed {
            for (actor_id, actor) in actors {
                compare(actor_id, actor);
            }
        } else {
            for actor_id in &changed {
                if let Some(actor) = actors.get(actor_id) {
                    compare(actor_id, actor);
                }
            }
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocumentId;

    #[test]
    fn only_touched_actors_are_compared_and_reported() {
        let mut searches = Searches::new();
        let dialers = HashMap::new();
        let mut actors = HashMap::new();
        for _ in 0..100 {
            let id = DocumentActorId::new();
            actors.insert(
                id,
                ActorInfo::new_with_id(id, DocumentId::new(&mut rand::rng())),
            );
            searches.touch(id);
        }
        // New actors are reported once.
        assert_eq!(searches.pop_state_updates(&actors, &dialers).len(), 100);
        assert!(searches.pop_state_updates(&actors, &dialers).is_empty());

        // One actor's phase is set: only it is reported.
        let id = *actors.keys().next().unwrap();
        actors.get_mut(&id).unwrap().search_phase = DocSearchPhase::Ready;
        searches.touch(id);
        let updates = searches.pop_state_updates(&actors, &dialers);
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[&id], DocSearchPhase::Ready);

        // Setting the same phase again reports nothing.
        searches.touch(id);
        assert!(searches.pop_state_updates(&actors, &dialers).is_empty());
        // An untouched actor is not looked at, as nothing can have changed it.
        assert!(searches.changed.is_empty());
    }
}
