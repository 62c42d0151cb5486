// traffic.mjs - what a sync server sends to stock automerge-repo 2.x clients
// while some of them edit one document concurrently (issue 25's "messages and
// bytes sent to clients per change"). Used by scripts/bench/sync_traffic.py
// against raptorflow-sync and the reference Node server alike.
//
// usage: node traffic.mjs --client PEER_ID=URL... [--editors E] [--changes C]
//          [--pause-ms P] [--timeout-ms T]
// The first client creates the document and waits until the server has it;
// the others find it. Counting starts then: the first E clients each make C
// changes, P ms apart, all at once; the run ends when every client has every
// change. Prints one JSON line: frames and bytes the clients received from
// the server while editing and converging, the number of changes, and the
// milliseconds from the last edit until every client had everything.
// Exit codes: 0 ok, 1 error, 4 timeout.
import { parseArgs } from "node:util"
import { Repo, cbor } from "@automerge/automerge-repo"
import * as A from "@automerge/automerge"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { serverHas } from "./server_has.mjs"

function fail(code, message) {
  process.stderr.write(`traffic: ${message}\n`)
  process.exit(code)
}
process.on("uncaughtException", e => fail(1, `uncaught: ${e.message}`))

const { values: opt } = parseArgs({
  options: {
    client: { type: "string", multiple: true },
    editors: { type: "string", default: "10" },
    changes: { type: "string", default: "10" },
    "pause-ms": { type: "string", default: "10" },
    "timeout-ms": { type: "string", default: "120000" },
  },
})
const nEditors = Number(opt.editors)
const nChanges = Number(opt.changes)
const pauseMs = Number(opt["pause-ms"])
setTimeout(() => fail(4, `timed out after ${opt["timeout-ms"]} ms`), Number(opt["timeout-ms"])).unref()
const sleep = ms => new Promise(r => setTimeout(r, ms))
async function until(check) {
  while (!check()) await sleep(20)
}

// `kinds` breaks the frames down: sync messages with changes, sync messages
// without (acknowledgements and negotiation), and every other type by name.
const counted = { frames: 0, bytes: 0, on: false, kinds: {} }
function kindOf(data) {
  try {
    const message = cbor.decode(new Uint8Array(data))
    if (message.type !== "sync") return message.type
    return A.decodeSyncMessage(message.data).changes.length > 0 ? "sync with changes" : "sync without changes"
  } catch {
    return "undecodable"
  }
}
const clients = (opt.client ?? []).map(spec => {
  const eq = spec.indexOf("=")
  const peerId = spec.slice(0, eq)
  const adapter = new WebSocketClientAdapter(spec.slice(eq + 1), 1000)
  const repo = new Repo({ network: [adapter], peerId })
  const client = { peerId, adapter, repo, serverPeer: null, watched: null }
  repo.networkSubsystem.on("peer", ({ peerId }) => {
    client.serverPeer = peerId
  })
  return client
})
if (clients.length < 2) fail(1, "give at least two --client PEER_ID=URL")
if (nEditors > clients.length) fail(1, "more editors than clients")

/** Counts what the server sends to this client's socket from now on. */
function watch(client) {
  const socket = client.adapter.socket
  if (!socket || socket === client.watched) return
  client.watched = socket
  socket.on("message", data => {
    if (!counted.on) return
    counted.frames += 1
    counted.bytes += data.byteLength ?? data.length
    const kind = kindOf(data)
    counted.kinds[kind] = (counted.kinds[kind] ?? 0) + 1
  })
}

await until(() => clients.every(c => c.serverPeer))
const [first, ...rest] = clients
const created = first.repo.create({ title: "traffic" })
await serverHas(first, created)
const handles = [created]
for (const client of rest) handles.push(await client.repo.find(created.url))
await sleep(500)
clients.forEach(watch)

counted.on = true
process.stderr.write("traffic: editing\n")
const started = Date.now()
const keys = []
await Promise.all(
  handles.slice(0, nEditors).map(async (handle, e) => {
    for (let i = 0; i < nChanges; i++) {
      const key = `e${e} c${i}`
      keys.push(key)
      handle.change(d => { d[key] = i })
      if (pauseMs > 0) await sleep(pauseMs)
    }
  })
)
const lastEdit = Date.now()
await until(() => handles.every(h => keys.every(k => k in h.doc())))
const converged = Date.now()
// Let the last acknowledgements arrive, then stop counting.
await sleep(300)
counted.on = false
process.stdout.write(
  JSON.stringify({
    clients: clients.length,
    editors: nEditors,
    changes: keys.length,
    frames: counted.frames,
    bytes: counted.bytes,
    edit_ms: lastEdit - started,
    converge_ms: converged - lastEdit,
    kinds: counted.kinds,
  }) + "\n"
)
await Promise.race([Promise.all(clients.map(c => c.repo.shutdown())), sleep(500)]).catch(() => {})
process.exit(0)
