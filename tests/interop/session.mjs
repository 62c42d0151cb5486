// session.mjs - long-lived automerge-repo 2.x clients in one process, for the
// interop tests that need several clients at once or a dropped connection.
// Each --client is PEER_ID=URL (a ticket URL); every client is a real Repo with
// the stock WebSocketClientAdapter (retrying every 300 ms).
//
// presence: the first client creates a document, the others find it; the test
//   then gets {"ready": DOCUMENT_ID} on stdout and answers with a line on
//   stdin; every client then broadcasts presence (handle.broadcast, as cursors
//   and presence do) while the writers edit. Prints one JSON line: for each
//   client, who it received presence from, the document it ended with, and how
//   often it lost its connection.
// reconnect: one client creates a document, prints {"ready": DOCUMENT_ID},
//   then its socket is dropped (terminate, as a network failure would); the
//   stock adapter reconnects with the same URL. After reconnecting it makes a
//   change and waits for the server to have it. Prints one JSON line.
// unload: the first client creates a document, the others find it; the test
//   gets {"ready": DOCUMENT_ID} and, once the server has unloaded it as idle,
//   answers with a line on stdin; every writer then edits it, and the script
//   waits until every client has every edit. Prints, for each client, the
//   keys it ended with and how often it lost its connection.
//
// Exit codes: 0 ok, 1 error (incl. an uncaught adapter error), 4 timeout.
import { parseArgs } from "node:util"
import { createInterface } from "node:readline"
import { Repo } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"
import { serverHas } from "./server_has.mjs"

function fail(code, message) {
  process.stderr.write(`session: ${message}\n`)
  process.exit(code)
}
// The stock adapter throws from an event handler when the server refuses a
// reconnect (e.g. a spent ticket): that is a failure of the scenario.
process.on("uncaughtException", e => fail(1, `uncaught: ${e.message}`))

const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    client: { type: "string", multiple: true },
    writers: { type: "string", default: "" },
    "timeout-ms": { type: "string", default: "30000" },
  },
})
const scenario = positionals[0]
const timeoutMs = Number(opt["timeout-ms"])
setTimeout(() => fail(4, `timed out after ${timeoutMs} ms in ${scenario}`), timeoutMs).unref()

const sleep = ms => new Promise(r => setTimeout(r, ms))
async function until(check, what) {
  while (!check()) await sleep(50)
}

const clients = (opt.client ?? []).map(spec => {
  const eq = spec.indexOf("=")
  const peerId = spec.slice(0, eq)
  const adapter = new WebSocketClientAdapter(spec.slice(eq + 1), 300)
  const repo = new Repo({ network: [adapter], peerId })
  const client = { peerId, adapter, repo, serverPeer: null, connects: 0, disconnects: 0, received: {} }
  repo.networkSubsystem.on("peer", ({ peerId }) => {
    client.serverPeer = peerId
    client.connects += 1
  })
  repo.networkSubsystem.on("peer-disconnected", () => {
    client.disconnects += 1
  })
  return client
})
if (clients.length === 0) fail(1, "give at least one --client PEER_ID=URL")
const writers = new Set(opt.writers.split(",").filter(Boolean))

async function waitForStdinLine() {
  const lines = createInterface({ input: process.stdin })
  for await (const _ of lines) return
}

// Once every client has joined, the first creates a document titled
// `title` and the server has it; the others find it. Each client's handle,
// in the clients' order.
async function shareOneDocument(title) {
  await until(() => clients.every(c => c.serverPeer), "every client to join")
  const [first, ...rest] = clients
  const created = first.repo.create({ title })
  await serverHas(first, created)
  const handles = [created]
  for (const client of rest) {
    const handle = await client.repo.find(created.url).catch(e => fail(1, `${client.peerId} could not find the document: ${e.message}`))
    handles.push(handle)
  }
  return handles
}

async function presence() {
  const handles = await shareOneDocument("launch plan")
  clients.forEach((client, i) => {
    handles[i].on("ephemeral-message", ({ senderId }) => {
      client.received[senderId] = (client.received[senderId] ?? 0) + 1
    })
  })
  process.stdout.write(JSON.stringify({ ready: handles[0].documentId }) + "\n")
  await waitForStdinLine()

  for (let round = 0; round < 5; round++) {
    clients.forEach((client, i) => {
      handles[i].broadcast({ cursor: round, user: client.peerId })
      if (writers.has(client.peerId)) handles[i].change(d => { d[`${client.peerId} ${round}`] = round })
    })
    await sleep(100)
  }
  const expectedKeys = [...writers].flatMap(w => [0, 1, 2, 3, 4].map(r => `${w} ${r}`))
  await until(
    () =>
      clients.every((client, i) => clients.every(o => o === client || client.received[o.peerId] > 0)) &&
      handles.every(h => expectedKeys.every(k => k in h.doc())),
    "presence and edits to reach everyone"
  )
  // A moment longer, so that a disconnect caused by the last messages shows.
  await sleep(500)
  return clients.map((client, i) => ({
    peerId: client.peerId,
    received: client.received,
    keys: Object.keys(handles[i].doc()).filter(k => k !== "touched").sort(),
    disconnects: client.disconnects,
  }))
}

async function unload() {
  const handles = await shareOneDocument("quiet plan")
  process.stdout.write(JSON.stringify({ ready: handles[0].documentId }) + "\n")
  await waitForStdinLine()
  clients.forEach((client, i) => {
    if (writers.has(client.peerId)) handles[i].change(d => { d[`${client.peerId} after`] = true })
  })
  const expectedKeys = [...writers].map(w => `${w} after`)
  await until(() => handles.every(h => expectedKeys.every(k => k in h.doc())), "the edits to reach everyone")
  return clients.map((client, i) => ({
    peerId: client.peerId,
    keys: Object.keys(handles[i].doc()).filter(k => k !== "touched").sort(),
    disconnects: client.disconnects,
  }))
}

async function reconnect() {
  const [client] = clients
  await until(() => client.serverPeer, "the client to join")
  const handle = client.repo.create({ title: "before the drop" })
  await serverHas(client, handle)
  process.stdout.write(JSON.stringify({ ready: handle.documentId }) + "\n")
  const connectsBefore = client.connects
  client.adapter.socket.terminate() // the network goes away under the client
  await until(() => client.connects > connectsBefore, "the client to reconnect")
  handle.change(d => { d.after = "the reconnect" })
  await serverHas(client, handle)
  return { connects: client.connects, disconnects: client.disconnects, doc: handle.doc() }
}

let result
try {
  if (scenario === "presence") result = await presence()
  else if (scenario === "reconnect") result = await reconnect()
  else if (scenario === "unload") result = await unload()
  else fail(1, `unknown scenario ${JSON.stringify(scenario)}: presence, unload or reconnect`)
} catch (e) {
  fail(1, `error: ${e.message}`)
}
process.stdout.write(JSON.stringify(result) + "\n")
await Promise.race([Promise.all(clients.map(c => c.repo.shutdown())), sleep(500)]).catch(() => {})
process.exit(0)
