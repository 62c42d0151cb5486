// node_server.mjs - the reference automerge-repo 2.x sync server for the interop test:
// a `ws` WebSocketServer on 127.0.0.1 + NodeWSServerAdapter + a Repo with in-memory
// storage that shares every document with every peer. Prints "listening PORT" once
// ready and runs until SIGTERM/SIGINT, then exits 0.
//
// usage: node node_server.mjs [--port N]   (0 = pick a free port; the default)
import { parseArgs } from "node:util"
import { WebSocketServer } from "ws"
import { Repo } from "@automerge/automerge-repo"
import { NodeWSServerAdapter } from "@automerge/automerge-repo-network-websocket"

/** Storage kept in memory: gives the server a storageId (like a real sync server
 *  with disk storage, it announces isEphemeral:false) but forgets all on exit. */
class MemoryStorageAdapter {
  #data = new Map() // "a\0b\0c" -> Uint8Array
  #k = key => key.join("\0")
  #match = prefix => k => k === this.#k(prefix) || k.startsWith(this.#k(prefix) + "\0")
  async load(key) { return this.#data.get(this.#k(key)) }
  async save(key, data) { this.#data.set(this.#k(key), data) }
  async remove(key) { this.#data.delete(this.#k(key)) }
  async loadRange(prefix) {
    return [...this.#data].filter(([k]) => this.#match(prefix)(k))
      .map(([k, data]) => ({ key: k.split("\0"), data }))
  }
  async removeRange(prefix) {
    for (const k of [...this.#data.keys()]) if (this.#match(prefix)(k)) this.#data.delete(k)
  }
}

const { values } = parseArgs({ options: { port: { type: "string", default: "0" } } })
const port = Number(values.port)
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  process.stderr.write(`node_server: bad --port ${values.port}\n`)
  process.exit(2)
}

const wss = new WebSocketServer({ host: "127.0.0.1", port })
await new Promise((resolve, reject) => {
  wss.once("listening", resolve)
  wss.once("error", reject)
}).catch(e => {
  process.stderr.write(`node_server: cannot listen: ${e.message}\n`)
  process.exit(1)
})

const repo = new Repo({
  network: [new NodeWSServerAdapter(wss)],
  storage: new MemoryStorageAdapter(),
  peerId: "node-reference-server",
  sharePolicy: async () => true,
})

process.stdout.write(`listening ${wss.address().port}\n`)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  try {
    await repo.shutdown()
  } catch {}
  wss.close()
  process.exit(0)
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
