// A workspace's campaigns, and the board of the chosen one: moves in columns
// by status. A card moves by dragging it to a column, by Alt+Left/Right when
// it has focus, or with its "Move to" menu.
import { Badge, Button, Card, Group, NativeSelect, ScrollArea, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type DragEvent, type FormEvent, type KeyboardEvent } from "react";

import { ErrorNotice } from "../Notice";
import { MOVE_STATUSES, STATUS_LABELS, columns, dropChange, statusForKey, type MoveStatus } from "../board";
import { useEngine } from "../engine-context";
import { fieldError } from "../errors";
import { CHANNELS, channelLabel, type CampaignStatus, type Channel, type Move } from "../types";
import { Assets } from "./Assets";
import { RunDetail, useRunTexts, useStartedRun } from "./Swarm";

const CAMPAIGN_STATUSES: CampaignStatus[] = ["draft", "active", "paused", "completed", "archived"];

export function Campaigns({ workspaceId }: { workspaceId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const campaigns = useQuery({ queryKey: ["campaigns", workspaceId], queryFn: () => engine.campaignList(workspaceId) });
  const [chosen, setChosen] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [goal, setGoal] = useState("");
  const create = useMutation({
    mutationFn: () => engine.campaignCreate(workspaceId, { name, goal, channels: [] }),
    onSuccess: (campaign) => {
      setName("");
      setGoal("");
      setChosen(campaign.id);
      void queryClient.invalidateQueries({ queryKey: ["campaigns", workspaceId] });
    },
  });
  const current = chosen ?? campaigns.data?.[0]?.id ?? null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };

  return (
    <Stack>
      <Title order={2}>Campaigns</Title>
      <ErrorNotice error={campaigns.error} />
      {campaigns.data?.length === 0 && <Text c="dimmed">No campaigns yet. Give the first one a name and a goal below.</Text>}
      {campaigns.data && campaigns.data.length > 0 && (
        <NativeSelect
          label="Campaign"
          value={current ?? ""}
          onChange={(event) => setChosen(event.currentTarget.value)}
          data={campaigns.data.map((c) => ({ value: c.id, label: `${c.name} (${c.status})` }))}
        />
      )}
      <form onSubmit={submit} aria-label="Create a campaign">
        <Group align="flex-end">
          <TextInput label="New campaign" value={name} onChange={(e) => setName(e.currentTarget.value)} error={fieldError(create.error, "campaign name")} required />
          <TextInput label="Goal" value={goal} onChange={(e) => setGoal(e.currentTarget.value)} error={fieldError(create.error, "campaign goal")} required />
          <Button type="submit" loading={create.isPending}>
            Create campaign
          </Button>
        </Group>
      </form>
      {create.error && !fieldError(create.error, "campaign name") && !fieldError(create.error, "campaign goal") && <ErrorNotice error={create.error} />}
      {current && <CampaignEditor key={current} campaignId={current} />}
      {current && <Board campaignId={current} />}
      {current && <Assets workspaceId={workspaceId} campaignId={current} />}
    </Stack>
  );
}

/** "Plan campaign" and "Generate assets": the swarm's runs, followed live. */
function SwarmWork({ campaignId }: { campaignId: string }) {
  const engine = useEngine();
  const texts = useRunTexts();
  const [run, changed] = useStartedRun(["campaign", campaignId]);
  const plan = useMutation({ mutationFn: () => engine.campaignPlan(campaignId, null), onSuccess: changed });
  const generate = useMutation({ mutationFn: () => engine.assetsGenerate(campaignId, null, null), onSuccess: changed });
  return (
    <Stack gap="xs">
      <Group>
        <Button variant="light" onClick={() => plan.mutate()} loading={plan.isPending}>
          Plan campaign
        </Button>
        <Button variant="light" onClick={() => generate.mutate()} loading={generate.isPending}>
          Generate assets
        </Button>
      </Group>
      <ErrorNotice error={plan.error ?? generate.error} />
      {run && <RunDetail runId={run} texts={texts[run] ?? {}} onChanged={changed} />}
    </Stack>
  );
}

export function Board({ campaignId }: { campaignId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const campaign = useQuery({ queryKey: ["campaign", campaignId], queryFn: () => engine.campaignShow(campaignId) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ["campaign", campaignId] });
  const setStatus = useMutation({
    mutationFn: ({ id, status }: { id: string; status: MoveStatus }) => engine.moveSetStatus(id, status),
    onSuccess: refresh,
  });

  if (campaign.error) return <ErrorNotice error={campaign.error} />;
  if (!campaign.data) return <Text c="dimmed">Loading the board…</Text>;
  const moves = campaign.data.moves;
  const grouped = columns(moves);

  const onDrop = (status: MoveStatus) => (event: DragEvent) => {
    event.preventDefault();
    const change = dropChange(moves, event.dataTransfer.getData("text/plain"), status);
    if (change) setStatus.mutate(change);
  };

  return (
    <Stack>
      <Title order={3}>Moves</Title>
      <ErrorNotice error={setStatus.error} />
      <SwarmWork campaignId={campaignId} />
      <AddMove campaignId={campaignId} onAdded={refresh} />
      <ScrollArea>
        <Group align="flex-start" wrap="nowrap" role="list" aria-label="Board">
          {MOVE_STATUSES.map((status) => (
            <Stack
              key={status}
              w={220}
              gap="xs"
              role="listitem"
              aria-label={`${STATUS_LABELS[status]} column`}
              data-status={status}
              onDragOver={(event) => event.preventDefault()}
              onDrop={onDrop(status)}
            >
              <Group justify="space-between">
                <Text fw={600}>{STATUS_LABELS[status]}</Text>
                <Badge variant="light">{grouped[status].length}</Badge>
              </Group>
              {grouped[status].length === 0 && (
                <Text size="sm" c="dimmed">
                  Drop a move here
                </Text>
              )}
              {grouped[status].map(({ id, move }) => (
                <MoveCard key={id} id={id} move={move} onStatus={(next) => setStatus.mutate({ id, status: next })} />
              ))}
            </Stack>
          ))}
        </Group>
      </ScrollArea>
    </Stack>
  );
}

function MoveCard({ id, move, onStatus }: { id: string; move: Move; onStatus: (status: MoveStatus) => void }) {
  const onKeyDown = (event: KeyboardEvent) => {
    const next = statusForKey(move.status, event.key, event.altKey);
    if (next) {
      event.preventDefault();
      onStatus(next);
    }
  };
  return (
    <Card
      withBorder
      padding="xs"
      tabIndex={0}
      draggable
      data-move-id={id}
      aria-label={`${move.title}, ${STATUS_LABELS[move.status]}. Alt+Left or Alt+Right moves it.`}
      onDragStart={(event: DragEvent) => event.dataTransfer.setData("text/plain", id)}
      onKeyDown={onKeyDown}
    >
      <Text fw={500}>{move.title}</Text>
      <Text size="xs" c="dimmed">
        {channelLabel(move.channel)}
        {move.due_date ? ` · due ${move.due_date}` : ""}
      </Text>
      <NativeSelect
        size="xs"
        mt={4}
        label="Move to"
        value={move.status}
        onChange={(event) => onStatus(event.currentTarget.value as MoveStatus)}
        data={MOVE_STATUSES.map((s) => ({ value: s, label: STATUS_LABELS[s] }))}
      />
    </Card>
  );
}

function AddMove({ campaignId, onAdded }: { campaignId: string; onAdded: () => void }) {
  const engine = useEngine();
  const [title, setTitle] = useState("");
  const [channel, setChannel] = useState<Channel>("email");
  const [due, setDue] = useState("");
  const add = useMutation({
    mutationFn: () => engine.moveAdd(campaignId, { title, channel, due_date: due === "" ? null : due }),
    onSuccess: () => {
      setTitle("");
      setDue("");
      onAdded();
    },
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    add.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Add a move">
      <Group align="flex-end">
        <TextInput label="New move" value={title} onChange={(e) => setTitle(e.currentTarget.value)} error={fieldError(add.error, "move title")} required />
        <NativeSelect label="Channel" value={channel} onChange={(e) => setChannel(e.currentTarget.value as Channel)} data={CHANNELS.map((c) => ({ value: c, label: channelLabel(c) }))} />
        <TextInput label="Due" type="date" value={due} onChange={(e) => setDue(e.currentTarget.value)} error={fieldError(add.error, "due date")} />
        <Button type="submit" loading={add.isPending}>
          Add move
        </Button>
      </Group>
      {add.error && !fieldError(add.error, "move title") && !fieldError(add.error, "due date") && <ErrorNotice error={add.error} />}
    </form>
  );
}

/** The chosen campaign's name, goal and status, editable. */
function CampaignEditor({ campaignId }: { campaignId: string }) {
  const engine = useEngine();
  const queryClient = useQueryClient();
  const campaign = useQuery({ queryKey: ["campaign", campaignId], queryFn: () => engine.campaignShow(campaignId) });
  const [edit, setEdit] = useState<{ name: string; goal: string } | null>(null);
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["campaign", campaignId] });
    void queryClient.invalidateQueries({ queryKey: ["campaigns"] });
  };
  const save = useMutation({
    mutationFn: (form: { name: string; goal: string }) => engine.campaignUpdate(campaignId, { name: form.name, goal: form.goal, channels: null }),
    onSuccess: () => {
      setEdit(null);
      refresh();
    },
  });
  const setStatus = useMutation({ mutationFn: (status: CampaignStatus) => engine.campaignSetStatus(campaignId, status), onSuccess: refresh });
  if (campaign.error) return <ErrorNotice error={campaign.error} />;
  if (!campaign.data) return null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (edit) save.mutate(edit);
  };
  return (
    <Card withBorder padding="sm">
      {edit ? (
        <form onSubmit={submit} aria-label="Edit the campaign">
          <Group align="flex-end">
            <TextInput label="Name" value={edit.name} onChange={(e) => setEdit({ ...edit, name: e.currentTarget.value })} error={fieldError(save.error, "campaign name")} />
            <TextInput label="Campaign goal" value={edit.goal} onChange={(e) => setEdit({ ...edit, goal: e.currentTarget.value })} error={fieldError(save.error, "campaign goal")} style={{ flex: 1 }} />
            <Button type="submit" loading={save.isPending}>
              Save
            </Button>
            <Button variant="subtle" onClick={() => setEdit(null)}>
              Cancel
            </Button>
          </Group>
        </form>
      ) : (
        <Group justify="space-between" align="flex-start">
          <div>
            <Title order={3}>{campaign.data.name}</Title>
            <Text c="dimmed">{campaign.data.goal}</Text>
          </div>
          <Group align="flex-end">
            <NativeSelect
              label="Status"
              value={campaign.data.status}
              onChange={(e) => setStatus.mutate(e.currentTarget.value as CampaignStatus)}
              data={CAMPAIGN_STATUSES}
            />
            <Button variant="light" onClick={() => setEdit({ name: campaign.data.name, goal: campaign.data.goal })}>
              Edit campaign
            </Button>
          </Group>
        </Group>
      )}
      <ErrorNotice error={setStatus.error} />
      {save.error && !fieldError(save.error, "campaign name") && !fieldError(save.error, "campaign goal") && <ErrorNotice error={save.error} />}
    </Card>
  );
}
