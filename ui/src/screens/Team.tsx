// Team: the workspace's members and roles, and its sync with a server.
import { Alert, Badge, Button, Card, Checkbox, Group, NativeSelect, PasswordInput, Progress, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";

import type { Role } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useCoreEvents, useEngine } from "../engine-context";
import { fieldError } from "../errors";

const ROLES: Role[] = ["owner", "editor", "viewer"];

export function Team({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const workspace = useQuery({ queryKey: ["workspace", workspaceId], queryFn: () => engine.workspaceShow(workspaceId) });
  const sync = useQuery({ queryKey: ["sync"], queryFn: () => engine.syncStatus() });
  const setRole = useMutation({
    mutationFn: ({ user, role }: { user: string; role: Role }) => engine.memberSetRole(workspaceId, user, role),
    onSuccess: (index) => queryClient.setQueryData(["workspace", workspaceId], index),
  });
  const status = sync.data?.find((s) => s.workspace_id === workspaceId);
  const syncNow = useMutation({
    mutationFn: () => engine.syncNow(workspaceId),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["sync"] }),
  });
  const syncing = useSyncProgress(syncNow.isPending, workspaceId);

  return (
    <Stack maw={860}>
      <Title order={2}>Team</Title>
      <ErrorNotice error={sync.error} />
      <Card withBorder aria-label="Sync">
        {status ? (
          <Stack gap={4}>
            <Text>
              Synced with <b>{status.server}</b> as {status.user} ({status.role})
            </Text>
            <Text size="sm" c="dimmed">
              {status.last_sync_at ? `Last sync ${new Date(status.last_sync_at).toLocaleString()}` : "Not synced yet"}
              {status.token_in_keyring ? " · token in the OS keyring" : " · no token stored: join again"}
            </Text>
            {status.last_error && <Alert color="red">Last sync failed: {status.last_error}</Alert>}
            <Group>
              <Button variant="light" onClick={() => syncNow.mutate()} loading={syncNow.isPending}>
                Sync now
              </Button>
            </Group>
            <SyncProgress progress={syncing} />
            <ErrorNotice error={syncNow.error} />
          </Stack>
        ) : (
          <Join workspaceId={workspaceId} />
        )}
      </Card>
      <ErrorNotice error={workspace.error} />
      <ErrorNotice error={setRole.error} />
      {workspace.data && (
        <Table aria-label="Members">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Member</Table.Th>
              <Table.Th>Role</Table.Th>
              <Table.Th>Joined</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {Object.entries(workspace.data.members).map(([user, member]) => (
              <Table.Tr key={user}>
                <Table.Td>
                  {member.display_name} <Badge variant="outline">{user}</Badge>
                </Table.Td>
                <Table.Td>
                  <NativeSelect
                    aria-label={`Role of ${member.display_name}`}
                    value={member.role}
                    onChange={(e) => setRole.mutate({ user, role: e.currentTarget.value as Role })}
                    data={ROLES}
                  />
                </Table.Td>
                <Table.Td>{new Date(member.joined_at).toLocaleDateString()}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Points workspaceId={workspaceId} />
    </Stack>
  );
}

/** The quiet gamification panel: points, streaks and achievements. */
function Points({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const scores = useQuery({ queryKey: ["stats", workspaceId], queryFn: () => engine.workspaceStats(workspaceId) });
  if (!scores.data) return <ErrorNotice error={scores.error} />;
  return (
    <Card withBorder aria-label="Points" padding="sm">
      <Text fw={600} size="sm" mb={4}>
        Points
      </Text>
      {scores.data.map((s) => (
        <Text key={s.user_id} size="sm">
          {s.display_name}: {s.stats.points ?? 0} points · {s.stats.streak_days ?? 0}-day streak
          {s.achievement_names.length > 0 ? ` · ${s.achievement_names.join(", ")}` : ""}
        </Text>
      ))}
    </Card>
  );
}

interface Syncing {
  done: number;
  total: number;
}

/** The newest `sync_progress` event while `active` (of `workspaceId`, or of
 *  any workspace while joining: a fetched workspace gets its id on arrival). */
export function useSyncProgress(active: boolean, workspaceId: string | null): Syncing | null {
  const [progress, setProgress] = useState<Syncing | null>(null);
  useEffect(() => setProgress(null), [active]);
  useCoreEvents((event) => {
    if (event.event === "sync_progress" && (workspaceId === null || event.workspace_id === workspaceId)) {
      setProgress({ done: event.done, total: event.total });
    }
  }, active);
  return progress;
}

function SyncProgress({ progress }: { progress: Syncing | null }) {
  if (!progress) return null;
  return (
    <Stack gap={2} role="status" aria-label="Sync progress">
      <Text size="sm">
        Syncing: {progress.done} of {progress.total} documents
      </Text>
      <Progress value={progress.total > 0 ? (progress.done * 100) / progress.total : 0} />
    </Stack>
  );
}

/** Joins a sync server with a token from its admin, sharing this workspace. */
function Join({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const [server, setServer] = useState("");
  const [token, setToken] = useState("");
  const [share, setShare] = useState(true);
  const join = useMutation({
    mutationFn: () => engine.syncJoin(server, token, share ? workspaceId : null),
    onSuccess: () => {
      // The token is in the OS keyring now; the window forgets it.
      setToken("");
      void queryClient.invalidateQueries();
    },
  });
  const syncing = useSyncProgress(join.isPending, null);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    join.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Join a sync server">
      <Stack gap="xs">
        <Text>This workspace is on this device only. To work on it with teammates, join your team's sync server with the token its admin gave you.</Text>
        <Group grow align="flex-start">
          <TextInput label="Server" placeholder="https://sync.example.com" value={server} onChange={(e) => setServer(e.currentTarget.value)} error={fieldError(join.error, "server")} />
          <PasswordInput label="Token" description="Kept in the OS keyring" value={token} onChange={(e) => setToken(e.currentTarget.value)} error={fieldError(join.error, "token")} />
        </Group>
        <Checkbox label="Share this workspace into the server's (empty) workspace; clear it to fetch the server's instead" checked={share} onChange={(e) => setShare(e.currentTarget.checked)} />
        <SyncProgress progress={syncing} />
        <ErrorNotice error={join.error && !fieldError(join.error, "server") && !fieldError(join.error, "token") ? join.error : null} />
        {join.data && (
          <Text role="status">
            Joined {join.data.workspace_name} on {join.data.server} as {join.data.user} ({join.data.role}): {join.data.n_synced} of {join.data.n_documents} documents synced.
          </Text>
        )}
        <Group>
          <Button type="submit" loading={join.isPending}>
            Join
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
