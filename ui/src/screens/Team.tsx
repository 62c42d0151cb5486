// Team: the workspace's members and roles, and its sync with a server.
import { Alert, Badge, Card, Code, NativeSelect, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import type { Role } from "../bindings";
import { ErrorNotice } from "../Notice";
import { useEngine } from "../engine-context";

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
          </Stack>
        ) : (
          <Stack gap={4}>
            <Text>This workspace is on this device only.</Text>
            <Text size="sm" c="dimmed">
              To share it, ask your sync server's admin for a token, then run <Code>raptorflow sync join --server URL --token-stdin --workspace {workspaceId}</Code>{" "}
              (joining from the app is not built yet).
            </Text>
          </Stack>
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
    </Stack>
  );
}
