// seed_corpus.mjs - writes the seed corpus for the `frame_decode` fuzz target.
//
// Valid and near-valid automerge-repo WebSocket protocol v1 frames, encoded the
// way automerge-repo 2.x encodes them (cbor-x, tagUint8Array: false,
// useRecords: false), with real sync messages from @automerge/automerge 3.x.
//
// Uses the Node packages installed for the interop tests (run `npm ci` in
// tests/interop first if tests/interop/node_modules is missing). Run it from
// anywhere:
//
//   node fuzz/seed_corpus.mjs            # writes fuzz/corpus/frame_decode/
//   node fuzz/seed_corpus.mjs OUT_DIR    # writes OUT_DIR instead
//
// File names are stable (`seed-NNN-<label>`), so re-running overwrites the
// seeds and leaves the fuzzer's own corpus entries (named by SHA-1) alone.
import { mkdirSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

const here = dirname(fileURLToPath(import.meta.url))
const modules = join(here, "..", "tests", "interop", "node_modules")
// Import the packages' Node entry points by path: bare specifiers would resolve
// from this file's directory, which has no node_modules.
const Automerge = await import(join(modules, "@automerge/automerge/dist/mjs/entrypoints/fullfat_node.js"))
const { Repo, parseAutomergeUrl } = await import(join(modules, "@automerge/automerge-repo/dist/entrypoints/fullfat.js"))
const { Encoder } = await import(join(modules, "cbor-x/node-index.js"))

const outDir = process.argv[2] ?? join(here, "corpus", "frame_decode")
mkdirSync(outDir, { recursive: true })

// Exactly automerge-repo's helpers/cbor.js encoder.
const encoder = new Encoder({ tagUint8Array: false, useRecords: false })
const encode = (obj) => encoder.encode(obj)

let count = 0
function seed(label, bytes) {
  writeFileSync(join(outDir, `seed-${String(count).padStart(3, "0")}-${label}`), bytes)
  count += 1
}
const frame = (label, obj) => seed(label, encode(obj))

// Document ids: a real one from a Repo, as text and as its 16 raw bytes.
const repo = new Repo({ network: [], peerId: "seed-peer" })
const handle = repo.create({ title: "seed" })
const documentId = handle.documentId
const binaryDocumentId = Uint8Array.from(parseAutomergeUrl(handle.url).binaryDocumentId)
if (binaryDocumentId.length !== 16) throw new Error(`binary document id has ${binaryDocumentId.length} bytes`)
const senderId = "client-7f3a"
const targetId = "sync-server"
const storageId = "3760df37-a4c6-4f66-9ecd-732039a9385d"

// Real sync messages: a full exchange between a document with history and an
// empty peer, both directions, until both are quiet.
function syncExchange(a, b) {
  const messages = []
  let sa = Automerge.initSyncState()
  let sb = Automerge.initSyncState()
  for (let round = 0; round < 10; round++) {
    let quiet = true
    let msg
    ;[sa, msg] = Automerge.generateSyncMessage(a, sa)
    if (msg) {
      quiet = false
      messages.push(msg)
      ;[b, sb] = Automerge.receiveSyncMessage(b, sb, msg)
    }
    ;[sb, msg] = Automerge.generateSyncMessage(b, sb)
    if (msg) {
      quiet = false
      messages.push(msg)
      ;[a, sa] = Automerge.receiveSyncMessage(a, sa, msg)
    }
    if (quiet) break
  }
  return messages
}

let doc = Automerge.from({ title: "hello", items: ["a", "b"], count: new Automerge.Counter(1) })
doc = Automerge.change(doc, (d) => {
  d.title = "hello, world"
  d.items.push("c")
  d.count.increment(2)
})
doc = Automerge.change(doc, (d) => {
  d.text = "some text"
  d.nested = { deep: { x: 1.5, y: null, z: true } }
})
const emptyMessage = Automerge.generateSyncMessage(Automerge.init(), Automerge.initSyncState())[1]
const exchange = syncExchange(doc, Automerge.init())
// A concurrent edit on both sides gives messages with have/need and bloom filters.
let left = Automerge.clone(doc)
let right = Automerge.clone(doc, { actor: "0123456789abcdef0123456789abcdef" })
left = Automerge.change(left, (d) => { d.title = "left" })
right = Automerge.change(right, (d) => { d.items.push("right") })
const concurrent = syncExchange(left, right)
const syncMessages = [emptyMessage, ...exchange, ...concurrent]
const withChanges = exchange.find((m) => Automerge.decodeSyncMessage(m).changes.length > 0)
if (!withChanges) throw new Error("no sync message with changes")

// --- join / peer / leave -------------------------------------------------------
const peerMetadata = { storageId, isEphemeral: false }
frame("join-v1", { type: "join", senderId, peerMetadata, supportedProtocolVersions: ["1"] })
frame("join-v1-v2", { type: "join", senderId, peerMetadata, supportedProtocolVersions: ["1", "2"] })
frame("join-v2-only", { type: "join", senderId, peerMetadata, supportedProtocolVersions: ["2"] })
frame("join-no-versions", { type: "join", senderId, peerMetadata, supportedProtocolVersions: [] })
frame("join-versions-mixed", { type: "join", senderId, supportedProtocolVersions: [1, "1", null] })
frame("join-no-metadata", { type: "join", senderId, supportedProtocolVersions: ["1"] })
frame("join-ephemeral", { type: "join", senderId, peerMetadata: { isEphemeral: true }, supportedProtocolVersions: ["1"] })
frame("join-no-sender", { type: "join", peerMetadata, supportedProtocolVersions: ["1"] })
frame("join-empty-sender", { type: "join", senderId: "", supportedProtocolVersions: ["1"] })
frame("peer", { type: "peer", senderId: targetId, targetId: senderId, peerMetadata, selectedProtocolVersion: "1" })
frame("leave", { type: "leave", senderId })
frame("leave-no-sender", { type: "leave" })

// --- request / sync -------------------------------------------------------------
frame("request-text-id", { type: "request", senderId, targetId, documentId, data: emptyMessage })
frame("request-binary-id", { type: "request", senderId, targetId, documentId: binaryDocumentId, data: emptyMessage })
syncMessages.forEach((data, i) => {
  frame(`sync-${i}-text-id`, { type: "sync", senderId, targetId, documentId, data })
})
frame("sync-binary-id", { type: "sync", senderId, targetId, documentId: binaryDocumentId, data: withChanges })
frame("sync-no-data", { type: "sync", senderId, targetId, documentId })
frame("sync-empty-data", { type: "sync", senderId, targetId, documentId, data: new Uint8Array() })
frame("sync-truncated-data", { type: "sync", senderId, targetId, documentId, data: withChanges.subarray(0, withChanges.length - 7) })
frame("sync-garbage-data", { type: "sync", senderId, targetId, documentId, data: new TextEncoder().encode("\x42garbage") })
frame("sync-data-as-text", { type: "sync", senderId, targetId, documentId, data: "not bytes" })
frame("sync-no-document", { type: "sync", senderId, targetId, data: withChanges })
frame("sync-bad-text-id", { type: "sync", senderId, targetId, documentId: "nope", data: emptyMessage })
frame("sync-url-as-id", { type: "sync", senderId, targetId, documentId: handle.url, data: emptyMessage })
// Same id with its last character changed: fails the base58check checksum.
const lastChar = documentId.at(-1) === "2" ? "3" : "2"
frame("sync-bad-checksum-id", { type: "sync", senderId, targetId, documentId: documentId.slice(0, -1) + lastChar, data: emptyMessage })
frame("sync-15-byte-id", { type: "sync", senderId, targetId, documentId: binaryDocumentId.subarray(0, 15), data: emptyMessage })
frame("sync-17-byte-id", { type: "sync", senderId, targetId, documentId: Uint8Array.from([...binaryDocumentId, 0]), data: emptyMessage })

// --- ephemeral / doc-unavailable / remote-* / error -----------------------------
const ephemeralData = encode({ cursor: { line: 3, col: 14 }, user: "alice" })
frame("ephemeral-text-id", { type: "ephemeral", senderId, targetId, count: 1, sessionId: "abc123", documentId, data: ephemeralData })
frame("ephemeral-binary-id", { type: "ephemeral", senderId, targetId, count: 2, sessionId: "abc123", documentId: binaryDocumentId, data: ephemeralData })
frame("ephemeral-no-data", { type: "ephemeral", senderId, targetId, count: 3, sessionId: "abc123", documentId })
frame("doc-unavailable-text-id", { type: "doc-unavailable", senderId, targetId, documentId })
frame("doc-unavailable-binary-id", { type: "doc-unavailable", senderId, targetId, documentId: binaryDocumentId })
const heads = Automerge.getHeads(doc)
frame("remote-heads-changed", {
  type: "remote-heads-changed",
  senderId,
  targetId,
  documentId,
  newHeads: { [storageId]: { heads, timestamp: 1767225600000 } },
})
frame("remote-heads-changed-binary-id", { type: "remote-heads-changed", senderId, targetId, documentId: binaryDocumentId, newHeads: {} })
frame("remote-subscription-change-add", { type: "remote-subscription-change", senderId, targetId, add: [storageId] })
frame("remote-subscription-change-remove", { type: "remote-subscription-change", senderId, targetId, remove: [storageId], add: [] })
frame("error", { type: "error", message: "something went wrong" })
frame("error-with-sender", { type: "error", senderId, message: "something went wrong" })
frame("unknown-type", { type: "gossip", senderId })
frame("type-not-text", { type: 7, senderId })
frame("no-type", { senderId, documentId, data: emptyMessage })

// --- CBOR shapes around the map -------------------------------------------------
const leave = encode({ type: "leave", senderId })
// Indefinite-length map (0xbf ... 0xff): same entries.
seed("leave-indefinite-map", Uint8Array.from([0xbf, ...leave.subarray(1), 0xff]))
// Extra entries with non-text keys, tags and nested values the decoder skips.
const extras = new Map([
  ["type", "leave"],
  [1, [1, 2, { a: [3] }]],
  [new Uint8Array([1, 2]), new Date(0)],
  ["senderId", senderId],
  ["extra", { nested: [[[[["deep"]]]]] }],
])
// cbor-x wraps a Map in tag 259 unless told not to; keep both forms.
seed("leave-extra-keys", new Encoder({ tagUint8Array: false, useRecords: false, useTag259ForMaps: false }).encode(extras))
frame("leave-extra-keys-tag259", extras)
frame("array-not-map", ["type", "leave", "senderId", senderId])
seed("empty", new Uint8Array())
seed("truncated-join", encode({ type: "join", senderId, supportedProtocolVersions: ["1"] }).subarray(0, 20))
// leave + a key whose value nests 40 indefinite-length arrays.
seed(
  "leave-deep-nesting",
  Uint8Array.from([0xa3, ...leave.subarray(1), 0x61, 0x78, ...Array(40).fill(0x9f), ...Array(40).fill(0xff)]),
)

repo.shutdown?.()
console.log(`wrote ${count} seeds to ${outDir} (document id ${documentId}, ${syncMessages.length} sync messages)`)
process.exit(0)
