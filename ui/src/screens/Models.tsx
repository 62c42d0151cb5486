// Models: the local models RaptorFlow knows, installed or not, with sizes;
// download with progress and cancel (a cancelled download resumes where it
// stopped), import of a GGUF file, and the choice of the local LLM the
// agents, chat and asks use.
import { Badge, Button, Card, Group, Progress, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";

import type { ModelRow } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useCoreEvents, useEngine } from "../engine-context";

/** Bytes for people: 93.5 MB, 1.2 GB. */
export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} kB`;
}

interface Download {
  file: string;
  done: number;
  total: number;
}

export function Models() {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const models = useQuery({ queryKey: ["models"], queryFn: () => engine.modelList() });
  const [progress, setProgress] = useState<Record<string, Download>>({});
  useCoreEvents((event) => {
    if (event.event === "model_download") {
      setProgress((all) => ({ ...all, [event.model]: { file: event.file, done: event.done, total: event.total } }));
    } else if (event.event === "model_installed") {
      setProgress(({ [event.model]: _, ...rest }) => rest);
      void queryClient.invalidateQueries({ queryKey: ["models"] });
    }
  });
  const fetch = useMutation({
    mutationFn: (id: string) => engine.modelFetch(id),
    onSettled: (_, __, id) => {
      setProgress(({ [id]: _, ...rest }) => rest);
      void queryClient.invalidateQueries({ queryKey: ["models"] });
    },
  });
  const importFile = useMutation({
    mutationFn: async () => {
      const [path] = await engine.pickFiles();
      return path ? engine.modelImport(path) : null;
    },
    onSuccess: () => void queryClient.invalidateQueries({ queryKey: ["models"] }),
  });
  const choose = useMutation({
    mutationFn: (id: string | null) => engine.modelUse(id),
    onSuccess: (rows) => queryClient.setQueryData(["models"], rows),
  });
  const downloading = fetch.isPending ? fetch.variables : null;

  return (
    <Stack maw={960}>
      <Title order={2}>Models</Title>
      <Text c="dimmed">Models run on this machine; nothing you ask them leaves it. Each download is checked against its published checksum.</Text>
      <ErrorNotice error={models.error} />
      <ErrorNotice error={fetch.error} />
      <ErrorNotice error={choose.error} />
      {fetch.data === false && <Text role="status">Download cancelled. What was downloaded is kept; downloading again resumes from there.</Text>}
      {models.data && (
        <Table aria-label="Models">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Model</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Size</Table.Th>
              <Table.Th>Status</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {models.data.map((model) => (
              <ModelLine
                key={model.id}
                model={model}
                progress={progress[model.id]}
                downloading={downloading === model.id}
                busy={downloading !== null}
                onFetch={() => fetch.mutate(model.id)}
                onCancel={() => void engine.modelCancel(model.id)}
                onUse={() => choose.mutate(model.id)}
              />
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Card withBorder>
        <Group justify="space-between">
          <Text>Have a GGUF file of another small model? Import it; it is loaded once to check that it works.</Text>
          <Button variant="light" onClick={() => importFile.mutate()} loading={importFile.isPending}>
            Import a GGUF file…
          </Button>
        </Group>
        <ErrorNotice error={importFile.error} />
        {importFile.data && <Text role="status">Imported {importFile.data}.</Text>}
      </Card>
    </Stack>
  );
}

function ModelLine(props: {
  model: ModelRow;
  progress?: Download;
  downloading: boolean;
  busy: boolean;
  onFetch: () => void;
  onCancel: () => void;
  onUse: () => void;
}) {
  const { model, progress, downloading } = props;
  return (
    <Table.Tr>
      <Table.Td>
        <Text>{model.name}</Text>
        <Text size="xs" c="dimmed">
          {model.id} · {model.license}
          {model.default_for.length > 0 ? ` · default for ${model.default_for.join(", ")}` : ""}
        </Text>
      </Table.Td>
      <Table.Td>{model.kind}</Table.Td>
      <Table.Td>{formatSize(model.size_bytes)}</Table.Td>
      <Table.Td>
        {model.installed && !downloading ? (
          <Group gap="xs">
            <Badge color="green" variant="light">
              Installed
            </Badge>
            {model.in_use ? (
              <Badge variant="filled" aria-label={`${model.name} is in use`}>
                In use
              </Badge>
            ) : (
              model.kind === "llm" && (
                <Button size="compact-xs" variant="subtle" onClick={props.onUse} aria-label={`Use ${model.name}`}>
                  Use for agents and chat
                </Button>
              )
            )}
          </Group>
        ) : downloading ? (
          <Stack gap={4}>
            <Progress value={progress && progress.total > 0 ? (100 * progress.done) / progress.total : 2} aria-label={`Download of ${model.id}`} />
            <Group gap="xs">
              <Text size="xs">{progress ? `${progress.file}: ${formatSize(progress.done)} of ${formatSize(progress.total)}` : "Starting…"}</Text>
              <Button size="compact-xs" color="red" variant="subtle" onClick={props.onCancel}>
                Cancel
              </Button>
            </Group>
          </Stack>
        ) : (
          <Button size="xs" variant="light" onClick={props.onFetch} disabled={props.busy} aria-label={`Download ${model.name}`}>
            Download
          </Button>
        )}
      </Table.Td>
    </Table.Tr>
  );
}
