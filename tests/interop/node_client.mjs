// node_client.mjs - interop test client: a real automerge-repo 2.x Repo (no storage)
// talking to a sync server over WebSocketClientAdapter. Subcommands create / find /
// change each print exactly one JSON line on stdout. See README.md for details.
//
// Exit codes: 0 ok, 1 error (incl. bad usage), 3 document unavailable/deleted, 4 timeout.
import { parseArgs } from "node:util"
import { Repo, cbor, decodeHeads } from "@automerge/automerge-repo"
import { WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket"

const USAGE = `usage: node node_client.mjs --url ws://HOST:PORT[/path?query] --peer-id ID [--timeout-ms N] <command>
  create --json '{"title":"hello"}'
  find   --doc automerge:URL_OR_ID
  change --doc automerge:URL_OR_ID --set key=value`

class TimeoutError extends Error {}
class UnavailableError extends Error {}

function fail(code, message) {
  process.stderr.write(`node_client: ${message}\n`)
  process.exit(code)
}

let args
try {
  args = parseArgs({
    allowPositionals: true,
    options: {
      url: { type: "string" },
      "peer-id": { type: "string" },
      json: { type: "string" },
      doc: { type: "string" },
      set: { type: "string" },
      "timeout-ms": { type: "string", default: "10000" },
    },
  })
} catch (e) {
  fail(1, `${e.message}\n${USAGE}`)
}
const { values: opt, positionals } = args
const command = positionals[0]
const timeoutMs = Number(opt["timeout-ms"])
if (!opt.url || !opt["peer-id"] || positionals.length !== 1 || !(timeoutMs > 0))
  fail(1, `missing or bad arguments\n${USAGE}`)

/** Rejects with TimeoutError if `promise` does not settle within the --timeout-ms budget. */
const deadline = Date.now() + timeoutMs
function withDeadline(promise, what) {
  let timer
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      Math.max(0, deadline - Date.now())
    )
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

// The adapter rethrows websocket errors other than ECONNREFUSED (e.g. an HTTP 401/404
// answer to the upgrade) from an event handler: turn those into a clean exit 1.
process.on("uncaughtException", e => fail(1, `error: ${e.message}`))

const adapter = new WebSocketClientAdapter(opt.url) // url passed unchanged (query string kept)
// The adapter only logs {type:"error"} messages from the server; surface them instead.
const receive = adapter.receiveMessage.bind(adapter)
adapter.receiveMessage = bytes => {
  let msg
  try { msg = cbor.decode(new Uint8Array(bytes)) } catch {}
  if (msg?.type === "error") fail(1, `server sent error: ${msg.message}`)
  receive(bytes)
}
const repo = new Repo({ network: [adapter], peerId: opt["peer-id"] })

// Track the server's heads per document. automerge-repo emits "sync-state" on its
// (hidden but public) synchronizer whenever a peer's Automerge sync state changes;
// `syncState.theirHeads` are the heads the server announced in its last sync
// message, i.e. what it has actually applied. (handle.getRemoteHeads() only works
// when the server advertises a storageId, so we do not depend on it.)
let serverPeerId
const serverHeads = new Map() // documentId -> hex heads
const headsWaiters = new Set()
repo.synchronizer.on("sync-state", ({ peerId, documentId, syncState }) => {
  if (peerId !== serverPeerId || !syncState.theirHeads) return
  serverHeads.set(documentId, syncState.theirHeads)
  headsWaiters.forEach(check => check())
})

/** Resolves once the server peer has finished the websocket join handshake. */
function connected() {
  return new Promise(resolve => {
    repo.networkSubsystem.once("peer", ({ peerId }) => {
      serverPeerId = peerId
      resolve()
    })
  })
}

/** Resolves once every one of our current heads is among the server's heads. */
function serverHasOurHeads(handle) {
  return new Promise(resolve => {
    const check = () => {
      const theirs = serverHeads.get(handle.documentId) ?? []
      if (decodeHeads(handle.heads()).every(h => theirs.includes(h))) {
        headsWaiters.delete(check)
        handle.off("heads-changed", check)
        resolve()
      }
    }
    headsWaiters.add(check)
    handle.on("heads-changed", check) // e.g. we merged a concurrent change from the server
    check()
  })
}

/** Finds a document through the server; throws UnavailableError if it is unavailable/deleted. */
async function findDoc(id) {
  const handle = await repo.find(id, { allowableStates: ["ready", "unavailable", "deleted"] })
  if (handle.state !== "ready") throw new UnavailableError(`document ${id} is ${handle.state}`)
  return handle
}

function describe(handle, withUrl) {
  const out = withUrl ? { url: handle.url } : {}
  return { ...out, documentId: handle.documentId, heads: decodeHeads(handle.heads()), doc: handle.doc() }
}

async function run() {
  await withDeadline(connected(), `the server at ${opt.url} to answer our join`)
  switch (command) {
    case "create": {
      if (opt.json === undefined) throw new Error("create needs --json")
      const init = JSON.parse(opt.json)
      if (init === null || typeof init !== "object" || Array.isArray(init))
        throw new Error("--json must be a JSON object")
      const handle = repo.create(init)
      await withDeadline(serverHasOurHeads(handle), "the server to acknowledge our heads")
      return describe(handle, true)
    }
    case "find": {
      if (!opt.doc) throw new Error("find needs --doc")
      return describe(await withDeadline(findDoc(opt.doc), "the document"), false)
    }
    case "change": {
      if (!opt.doc || !opt.set) throw new Error("change needs --doc and --set key=value")
      const eq = opt.set.indexOf("=")
      if (eq <= 0) throw new Error("--set must look like key=value")
      const [key, value] = [opt.set.slice(0, eq), opt.set.slice(eq + 1)]
      const handle = await withDeadline(findDoc(opt.doc), "the document")
      handle.change(d => { d[key] = value })
      await withDeadline(serverHasOurHeads(handle), "the server to acknowledge our heads")
      return describe(handle, false)
    }
    default:
      fail(1, `unknown command ${JSON.stringify(command)}\n${USAGE}`)
  }
}

let code = 0
try {
  process.stdout.write(JSON.stringify(await run()) + "\n")
} catch (e) {
  if (e instanceof UnavailableError) {
    process.stdout.write(JSON.stringify({ unavailable: true }) + "\n")
    process.stderr.write(`node_client: ${e.message}\n`)
    code = 3
  } else {
    process.stderr.write(`node_client: ${e instanceof TimeoutError ? "" : "error: "}${e.message}\n`)
    code = e instanceof TimeoutError ? 4 : 1
  }
}
try {
  await Promise.race([repo.shutdown(), new Promise(r => setTimeout(r, 500))])
} catch {} // best effort: the socket may never have opened
process.exit(code)
