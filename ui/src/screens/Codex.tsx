// The Codex: import documents (the file dialog, or files dropped on the
// window) with a progress bar per file, the sources, and search whose
// passages open their source at the cited span.
import { Badge, Button, Card, Group, Progress, ScrollArea, Stack, Text, TextInput, Title } from "@mantine/core";
import { Channel } from "@tauri-apps/api/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";

import type { FileReport, ImportProgress, Passage } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";

interface FileState {
  path: string;
  stage: string;
  done: number;
  total: number;
}

/** The per-file progress after one message of an import. */
export function nextProgress(files: FileState[], message: ImportProgress): FileState[] {
  if (message.kind === "file") {
    return [...files.filter((f) => f.path !== message.path), { path: message.path, stage: "reading", done: 0, total: 0 }];
  }
  if (files.length === 0) return files;
  const last = files[files.length - 1]!;
  return [...files.slice(0, -1), { ...last, stage: message.stage, done: message.done, total: message.total }];
}

const OUTCOME: Record<FileReport["status"], string> = {
  added: "imported",
  updated: "updated",
  unchanged: "already imported, unchanged",
  failed: "failed",
  skipped: "skipped",
};

export function Codex({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const sources = useQuery({ queryKey: ["codex", workspaceId], queryFn: () => engine.codexList(workspaceId) });
  const [progress, setProgress] = useState<FileState[]>([]);
  const importFiles = useMutation({
    mutationFn: (paths: string[]) => {
      setProgress([]);
      const channel = new Channel<ImportProgress>();
      channel.onmessage = (message) => setProgress((files) => nextProgress(files, message));
      return engine.codexImport(workspaceId, paths, channel);
    },
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["codex", workspaceId] }),
  });
  const start = useRef(importFiles.mutate);
  start.current = importFiles.mutate;
  useEffect(() => {
    let stop: (() => void) | undefined;
    let gone = false;
    void engine.onFilesDropped((paths) => start.current(paths)).then((unlisten) => {
      if (gone) unlisten();
      else stop = unlisten;
    });
    return () => {
      gone = true;
      stop?.();
    };
  }, [engine]);
  const choose = async () => {
    const paths = await engine.pickFiles();
    if (paths.length > 0) importFiles.mutate(paths);
  };

  return (
    <Stack>
      <Title order={2}>Codex</Title>
      <Text c="dimmed">Your documents, searchable by meaning. Agents cite what they use from here. Drop files anywhere on the window, or choose them.</Text>
      <Group>
        <Button onClick={() => void choose()} loading={importFiles.isPending}>
          Choose files…
        </Button>
      </Group>
      {progress.length > 0 && (
        <Stack gap={4} aria-label="Import progress">
          {progress.map((file) => (
            <div key={file.path}>
              <Text size="sm">
                {file.path} — {file.stage}
                {file.total > 0 ? ` ${file.done} of ${file.total}` : ""}
              </Text>
              <Progress value={file.total > 0 ? (100 * file.done) / file.total : 5} aria-label={`Progress of ${file.path}`} />
            </div>
          ))}
        </Stack>
      )}
      <ErrorNotice error={importFiles.error} />
      {importFiles.data && (
        <Stack gap={2} role="status" aria-label="Import result">
          {importFiles.data.map((report) => (
            <Text key={report.path} size="sm" c={report.status === "failed" ? "red" : undefined}>
              {report.path}: {OUTCOME[report.status]}
              {report.status === "failed" ? ` — ${report.error}` : ""}
              {report.status === "skipped" ? ` — ${report.reason}` : ""}
            </Text>
          ))}
        </Stack>
      )}
      <Title order={4}>Sources</Title>
      <ErrorNotice error={sources.error} />
      {sources.data?.length === 0 && <Text c="dimmed">Nothing imported yet. Choose or drop your brand guide, product pages or research notes.</Text>}
      {sources.data?.map((source) => (
        <Group key={source.source_id} justify="space-between">
          <Text>{source.title}</Text>
          <Text size="sm" c="dimmed">
            {source.n_chars} characters{source.n_chunks != null ? ` · ${source.n_chunks} passages` : " · not indexed on this device yet"}
          </Text>
        </Group>
      ))}
      <Search workspaceId={workspaceId} />
    </Stack>
  );
}

function Search({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const [query, setQuery] = useState("");
  const [open, setOpen] = useState<Passage | null>(null);
  const search = useMutation({ mutationFn: (q: string) => engine.codexSearch(workspaceId, q) });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    setOpen(null);
    search.mutate(query);
  };
  return (
    <Stack>
      <Title order={4}>Search</Title>
      <form onSubmit={submit} aria-label="Codex search">
        <Group align="flex-end">
          <TextInput label="Search the Codex" value={query} onChange={(e) => setQuery(e.currentTarget.value)} style={{ flex: 1 }} />
          <Button type="submit" loading={search.isPending}>
            Search
          </Button>
        </Group>
      </form>
      <ErrorNotice error={search.error} />
      {search.data?.length === 0 && <Text c="dimmed">No passage matches. Try other words, or import more documents.</Text>}
      {search.data?.map((passage, i) => (
        <Card key={`${passage.source_id}-${passage.span[0]}`} withBorder padding="xs" aria-label={`Passage ${i + 1}`}>
          <Text size="sm">{passage.text}</Text>
          <Group justify="space-between" mt={4}>
            <Badge variant="light">
              {passage.title}, characters {passage.span[0]}–{passage.span[1]}
            </Badge>
            <Button size="xs" variant="subtle" onClick={() => setOpen(passage)}>
              Open in source
            </Button>
          </Group>
        </Card>
      ))}
      {open && <SourceView workspaceId={workspaceId} passage={open} onClose={() => setOpen(null)} />}
    </Stack>
  );
}

/** A source's text with the cited span marked and scrolled into view. */
function SourceView({ workspaceId, passage, onClose }: { workspaceId: string; passage: Passage; onClose: () => void }) {
  const engine = useEngine();
  const source = useQuery({ queryKey: ["source", workspaceId, passage.source_id], queryFn: () => engine.codexSource(workspaceId, passage.source_id) });
  const mark = useRef<HTMLElement>(null);
  useEffect(() => mark.current?.scrollIntoView?.({ block: "center" }), [source.data]);
  if (source.error) return <ErrorNotice error={source.error} />;
  if (!source.data) return <Text c="dimmed">Opening {passage.title}…</Text>;
  // Spans count characters (code points), as the engine does.
  const chars = [...source.data.text];
  const [start, end] = passage.span;
  return (
    <Card withBorder aria-label={`Source ${source.data.title}`}>
      <Group justify="space-between" mb="xs">
        <Text fw={600}>{source.data.title}</Text>
        <Button size="xs" variant="subtle" onClick={onClose}>
          Close
        </Button>
      </Group>
      <ScrollArea h={320}>
        <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
          {chars.slice(0, start).join("")}
          <mark ref={mark}>{chars.slice(start, end).join("")}</mark>
          {chars.slice(end).join("")}
        </Text>
      </ScrollArea>
    </Card>
  );
}
