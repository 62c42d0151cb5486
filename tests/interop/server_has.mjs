// server_has.mjs - shared by the interop scripts (session.mjs, traffic.mjs).
import { decodeHeads } from "@automerge/automerge-repo"

/** Resolves once the server (`client.serverPeer`) has every one of this
 *  handle's heads. `client` is { repo, serverPeer }. */
export function serverHas(client, handle) {
  return new Promise(resolve => {
    const check = ({ peerId, documentId, syncState }) => {
      if (peerId !== client.serverPeer || documentId !== handle.documentId || !syncState.theirHeads) return
      if (decodeHeads(handle.heads()).every(h => syncState.theirHeads.includes(h))) {
        client.repo.synchronizer.off("sync-state", check)
        resolve()
      }
    }
    client.repo.synchronizer.on("sync-state", check)
    handle.change(d => { d.touched = (d.touched ?? 0) + 1 }) // makes a sync round happen
  })
}
